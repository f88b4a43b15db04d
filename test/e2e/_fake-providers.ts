import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A documented provider payload from `test/fixtures/<provider>/`. */
export function fixture(provider: 'postmark' | 'postal', name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../fixtures/${provider}/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

/** A loopback JSON API that answers every POST with `answer(body)` and counts requests. */
export async function fakeApi(answer: (body: Record<string, unknown>, url: string) => unknown) {
  const requests: { url: string; body: Record<string, unknown> }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      requests.push({ url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer(body, req.url ?? '')));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A key pair standing in for a Postal instance's signing key. */
export function postalKeys() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  return {
    webhookKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    sign: (body: string) => sign('sha1', Buffer.from(body), privateKey).toString('base64'),
  };
}
