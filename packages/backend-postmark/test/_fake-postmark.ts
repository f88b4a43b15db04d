import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secretForms } from '@herald/core/testing';

export const FIXTURES = new URL('../../../test/fixtures/postmark/', import.meta.url);

/** A documented Postmark payload or answer from `test/fixtures/postmark/`. */
export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Record<string, unknown>;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A loopback server speaking Postmark's `/email` API: records requests, answers scripted errors, else success. */
export async function startFakePostmark() {
  const requests: ReceivedRequest[] = [];
  const script: (Answer | 'echo-token' | 'echo-token-forms')[] = [];
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
      let answer: Answer;
      if (next === 'echo-token') {
        answer = { status: 422, body: { ErrorCode: 405, Message: `Not allowed to send with token ${String(req.headers['x-postmark-server-token'])}` } };
      } else if (next === 'echo-token-forms') {
        // A misbehaving proxy quoting the token back in every encoding, body and headers.
        const forms = secretForms(String(req.headers['x-postmark-server-token']));
        answer = { status: 401, body: { ErrorCode: 10, Message: `Bad token: ${Object.values(forms).join(' ')}`, forms }, headers: { 'x-echo': forms.base64url, 'www-authenticate': forms.HEX } };
      } else {
        answer = next ?? {
          status: 200,
          body: { To: json.To, SubmittedAt: new Date().toISOString(), MessageID: randomUUID(), ErrorCode: 0, Message: 'OK' },
        };
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
    /** Answer the next request with this status and body. */
    answer(status: number, body: unknown, headers?: Record<string, string>) {
      script.push({ status, body, ...(headers ? { headers } : {}) });
    },
    echoToken() {
      script.push('echo-token');
    },
    /** Answer the next request 401, quoting the received token in every form (body and headers). */
    echoTokenForms() {
      script.push('echo-token-forms');
    },
    last(): ReceivedRequest {
      return requests.at(-1)!;
    },
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
