// A client in its own process: reads [{ method, url, headers, body }] as JSON on stdin, sends them one after the
// other with fetch, prints [{ status, headers, body }] as JSON. `body` is sent as is (a string), never re-encoded.
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
for (const r of JSON.parse(input)) {
  const response = await fetch(r.url, { method: r.method, headers: r.headers ?? {}, body: r.body ?? undefined });
  out.push({ status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() });
}
process.stdout.write(JSON.stringify(out));
