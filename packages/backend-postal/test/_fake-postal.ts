import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secretForms } from '@herald/core/testing';

const FIXTURES = new URL('../../../test/fixtures/postal/', import.meta.url);

/** A documented Postal payload or answer from `test/fixtures/postal/`. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Record<string, unknown>;
}

/** A test key pair standing in for Postal's signing key; `webhookKey` is what goes into the backend options. */
export function postalKeyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const webhookKey = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  return {
    webhookKey,
    /** Base64 RSA-SHA1 signature over the raw body, as in `X-Postal-Signature`. */
    sign: (body: string, algorithm: 'sha1' | 'sha256' = 'sha1') => sign(algorithm, Buffer.from(body), privateKey).toString('base64'),
  };
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

/** A loopback server speaking Postal's `/api/v1/send/message`: records requests, answers scripted replies, else success. */
export async function startFakePostal() {
  const requests: ReceivedRequest[] = [];
  const script: ({ status: number; body: unknown; headers?: Record<string, string> } | 'echo-key' | 'echo-key-forms')[] = [];
  let nextId = 1000;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // recorded as is
      }
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json });
      const next = script.shift();
      let answer: { status: number; body: unknown; headers?: Record<string, string> };
      if (next === 'echo-key') {
        const key = String(req.headers['x-server-api-key']);
        answer = { status: 200, body: { status: 'error', time: 0, flags: {}, data: { code: 'InvalidServerAPIKey', message: `The API token ${key} was not valid.`, token: key } } };
      } else if (next === 'echo-key-forms') {
        // A misbehaving proxy in front of Postal quoting the credential back in every encoding, body and headers.
        const forms = secretForms(String(req.headers['x-server-api-key']));
        answer = { status: 401, body: { status: 'error', data: { code: 'AccessDenied', message: `denied ${forms.raw}`, forms } }, headers: { 'x-echo': forms.base64, 'www-authenticate': forms.hex } };
      } else if (next) {
        answer = next;
      } else {
        const all = [json.to, json.cc, json.bcc].flat().filter((a): a is string => typeof a === 'string');
        const messages = Object.fromEntries(all.map((a) => [(/<([^>]+)>/.exec(a)?.[1] ?? a).toLowerCase(), { id: nextId++, token: 'tok' }]));
        answer = { status: 200, body: { status: 'success', time: 0.01, flags: {}, data: { message_id: `m${nextId}@rp.postal.test`, messages } } };
      }
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    answer(status: number, body: unknown, headers?: Record<string, string>) {
      script.push({ status, body, ...(headers ? { headers } : {}) });
    },
    echoKey() {
      script.push('echo-key');
    },
    /** Answer the next request 401, quoting the received API key in every form (body and headers). */
    echoKeyForms() {
      script.push('echo-key-forms');
    },
    last: () => requests.at(-1)!,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A URL on which nothing listens. */
export async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
