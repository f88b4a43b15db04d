import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { secretForms } from '@herald/core/testing';

const FIXTURES = new URL('./fixtures/', import.meta.url);

/** A documented SendGrid payload or answer from `test/fixtures/`. */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown>;
  /** The status the fake answered with. */
  status: number;
}

interface Answer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface FieldError {
  message: string;
  field: string | null;
  help: string | null;
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const HELP = 'http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The v3 mail send request rules the fake enforces, answered the way SendGrid does (`400 { errors: [{ message,
 * field, help }] }`): a request the real API would refuse is refused here too, so a wrong payload fails a test.
 */
export function shapeErrors(body: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (field: string | null, message: string) => errors.push({ message, field, help: field ? `${HELP}#message.${field.replace(/\.\d+/g, '')}` : null });
  if (!isObject(body)) {
    fail(null, 'Bad Request');
    return errors;
  }
  const emailObject = (value: unknown, field: string) => {
    if (!isObject(value) || typeof value.email !== 'string' || !EMAIL.test(value.email)) fail(`${field}.email`, 'Does not contain a valid address.');
    else if (value.name !== undefined && typeof value.name !== 'string') fail(`${field}.name`, 'The name must be a string.');
  };
  const p = body.personalizations;
  if (!Array.isArray(p) || p.length === 0 || p.length > 1000) fail('personalizations', 'The personalizations field is required and must have at least one personalization.');
  else {
    p.forEach((item: unknown, i) => {
      if (!isObject(item)) {
        fail(`personalizations.${i}`, 'Each personalization must be an object.');
        return;
      }
      const seen = new Set<string>();
      for (const kind of ['to', 'cc', 'bcc'] as const) {
        const list = item[kind];
        if (list === undefined && kind !== 'to') continue;
        if (!Array.isArray(list) || (kind === 'to' && list.length === 0)) {
          fail(`personalizations.${i}.${kind}`, `The ${kind} array is required for all personalization objects, and must have at least one email object with a valid email address.`);
          continue;
        }
        list.forEach((a: unknown, j) => {
          emailObject(a, `personalizations.${i}.${kind}.${j}`);
          const address = isObject(a) && typeof a.email === 'string' ? a.email.toLowerCase() : '';
          if (seen.has(address)) fail(`personalizations.${i}`, 'Each email address in the personalization block should be unique between to, cc, and bcc.');
          seen.add(address);
        });
      }
      if (item.dynamic_template_data !== undefined && !isObject(item.dynamic_template_data)) fail(`personalizations.${i}.dynamic_template_data`, 'dynamic_template_data must be an object.');
    });
  }
  emailObject(body.from, 'from');
  const template = body.template_id;
  if (template !== undefined && (typeof template !== 'string' || !/^d-[0-9a-f]{32}$/.test(template))) fail('template_id', `The template_id must be a valid GUID, you provided '${String(template)}'.`);
  if (template === undefined) {
    if (typeof body.subject !== 'string' || body.subject === '') fail('subject', 'The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.');
    const content = body.content;
    if (!Array.isArray(content) || content.length === 0) fail('content', 'Unless a valid template_id is provided, the content parameter is required.');
    else {
      content.forEach((c: unknown, i) => {
        if (!isObject(c) || typeof c.type !== 'string' || typeof c.value !== 'string' || c.value === '') fail(`content.${i}.value`, 'The content value must be a string at least one character in length.');
      });
      const types = content.map((c: unknown) => (isObject(c) ? c.type : undefined));
      if (types.includes('text/plain') && types.indexOf('text/plain') !== 0) fail('content', 'If present, text/plain content must be first, followed by any other content.');
    }
  }
  if (body.reply_to !== undefined && body.reply_to_list !== undefined) fail('reply_to', 'reply_to and reply_to_list cannot be used together.');
  if (body.reply_to !== undefined) emailObject(body.reply_to, 'reply_to');
  if (body.reply_to_list !== undefined) {
    if (!Array.isArray(body.reply_to_list)) fail('reply_to_list', 'reply_to_list must be an array.');
    else
      body.reply_to_list.forEach((a: unknown, i) => {
        emailObject(a, `reply_to_list.${i}`);
      });
  }
  if (body.categories !== undefined) {
    const c = body.categories;
    if (!Array.isArray(c) || c.length > 10 || !c.every((x) => typeof x === 'string' && x.length <= 255) || new Set(c).size !== c.length) {
      fail('categories', 'You may not have more than 10 categories per request, each unique and at most 255 characters.');
    }
  }
  for (const key of ['custom_args', 'headers'] as const) {
    const value = body[key];
    if (value !== undefined && (!isObject(value) || !Object.values(value).every((v) => typeof v === 'string'))) fail(key, `${key} values must be strings.`);
  }
  if (body.send_at !== undefined && !Number.isInteger(body.send_at)) fail('send_at', 'send_at must be a UNIX timestamp (an integer).');
  if (body.asm !== undefined && (!isObject(body.asm) || !Number.isInteger(body.asm.group_id))) fail('asm.group_id', 'The asm group_id must be an integer.');
  if (body.ip_pool_name !== undefined && (typeof body.ip_pool_name !== 'string' || body.ip_pool_name.length < 2)) fail('ip_pool_name', 'The ip_pool_name must be a string of 2 to 64 characters.');
  if (body.attachments !== undefined) {
    if (!Array.isArray(body.attachments)) fail('attachments', 'attachments must be an array.');
    else {
      body.attachments.forEach((a: unknown, i) => {
        if (!isObject(a) || typeof a.content !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(a.content)) fail(`attachments.${i}.content`, 'The attachment content must be base64 encoded.');
        if (!isObject(a) || typeof a.filename !== 'string' || a.filename === '') fail(`attachments.${i}.filename`, 'The attachment filename is required.');
        if (isObject(a) && a.disposition === 'inline' && typeof a.content_id !== 'string') fail(`attachments.${i}.content_id`, 'The content_id is required when the disposition is inline.');
      });
    }
  }
  for (const key of ['tracking_settings', 'mail_settings'] as const) {
    if (body[key] !== undefined && !isObject(body[key])) fail(key, `${key} must be an object.`);
  }
  return errors;
}

/**
 * A loopback server speaking SendGrid's v3 `POST /v3/mail/send`: checks the bearer key, the content type and
 * the JSON shape of every request (as SendGrid would), answers 202 with `X-Message-Id` (200 in sandbox mode), or
 * the scripted answer queued with {@link answer}.
 */
export async function startFakeSendgrid(options: { apiKey: string }) {
  const requests: ReceivedRequest[] = [];
  const script: (Answer | 'echo-key')[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = null;
      try {
        json = JSON.parse(body);
      } catch {
        // answered 400 below
      }
      const answer = decide(req.method ?? '', req.url ?? '', req.headers, json);
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json: isObject(json) ? json : {}, status: answer.status });
      res.writeHead(answer.status, { ...(answer.body === undefined ? {} : { 'content-type': 'application/json' }), ...answer.headers });
      res.end(answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
  });

  function decide(method: string, url: string, headers: IncomingHttpHeaders, json: unknown): Answer {
    if (method !== 'POST' || url !== '/v3/mail/send') return { status: 404, body: { errors: [{ field: null, message: 'not found', help: null }] } };
    const next = script.shift();
    if (next === 'echo-key') {
      // A misbehaving proxy quoting the key back in every encoding, in the body and the headers.
      const forms = secretForms(String(headers.authorization).replace(/^Bearer /, ''));
      return {
        status: 401,
        body: { errors: [{ field: null, message: `bad key ${Object.values(forms).join(' ')} (${String(headers.authorization)})`, help: null }] },
        headers: { 'x-echo': forms.base64url, 'www-authenticate': forms.HEX },
      };
    }
    if (next) return next;
    if (headers.authorization !== `Bearer ${options.apiKey}`) return { status: 401, body: { errors: [{ field: null, message: 'The provided authorization grant is invalid, expired, or revoked', help: null }] } };
    if (!String(headers['content-type']).startsWith('application/json')) return { status: 415, body: { errors: [{ field: null, message: 'Content-Type should be application/json.', help: null }] } };
    const errors = shapeErrors(json);
    if (errors.length) return { status: 400, body: { errors } };
    const sandbox = isObject(json) && isObject(json.mail_settings) && isObject(json.mail_settings.sandbox_mode) && json.mail_settings.sandbox_mode.enable === true;
    return sandbox ? { status: 200 } : { status: 202, headers: { 'x-message-id': randomBytes(16).toString('base64url').slice(0, 22) } };
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    /** Answer the next request with this status, body and headers (before any check). */
    answer(status: number, body?: unknown, headers?: Record<string, string>) {
      script.push({ status, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
    },
    /** Answer the next request 401, quoting the received key in every form (body and headers). */
    echoKey() {
      script.push('echo-key');
    },
    last(): ReceivedRequest {
      return requests.at(-1)!;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
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
