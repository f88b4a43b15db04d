// The server runs in the test process, on port 0, against a real store; every request comes from a client in
// another process (Node's fetch, Python's urllib or curl), so what is tested is the HTTP wire, not Hono's app.fetch.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHerald, defineNotification, type Herald, type Logger, type Notification, type Store } from '@herald/core';
import { type CaptureBackend, captureBackend } from '@herald/core/testing';
import { postmark } from '@herald/backend-postmark';
import { postgresStore } from '@herald/store-postgres';
import { sqliteStore } from '@herald/store-sqlite';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import pg from 'pg';
import { z } from 'zod';
import { createApiKey, createServer, openApiDocument, postmasterNotification, revokeApiKey, type ServerOptions, serve } from '../src/index';

const here = fileURLToPath(new URL('.', import.meta.url));
export const PG_URL = process.env.HERALD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export const welcome = defineNotification({
  id: 'welcome',
  schema: z.object({ name: z.string().min(1) }),
  category: 'marketing',
  description: 'Sent once an account exists',
  templates: {
    email: { format: 'markdown', subject: 'Welcome, {{name}}', body: 'Hi {{name}}, welcome aboard.', from: 'Shop <shop@example.org>' },
    sms: { format: 'text', body: 'Welcome, {{name}}' },
  },
});

export const receipt = defineNotification({
  id: 'receipt',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  templates: { email: { format: 'html', subject: 'Order {{orderId}}', body: '<p>Total {{total}}</p>', from: 'Shop <shop@example.org>' } },
  dedupe: { key: (d) => `order-${d.orderId}`, window: '1h' },
});

/** A store the suite runs against, and how to throw it away afterwards. */
export interface StoreKind {
  name: string;
  make(): Promise<{ store: Store; cleanup(): Promise<void> }>;
}

export const STORES: Record<'sqlite' | 'postgres', StoreKind> = {
  sqlite: {
    name: 'sqlite',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'herald-server-'));
      return { store: sqliteStore({ path: join(dir, 'herald.db') }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  postgres: {
    name: 'postgres',
    async make() {
      const schema = `herald_server_${randomBytes(6).toString('hex')}`;
      return {
        store: postgresStore({ connectionString: PG_URL, schema }),
        async cleanup() {
          const client = new pg.Client({ connectionString: PG_URL });
          await client.connect();
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await client.end();
        },
      };
    },
  },
};

export interface Keys {
  send: string;
  read: string;
  admin: string;
  sendRead: string;
  revoked: string;
  /** A real id with a wrong secret. */
  forged: string;
}

export interface Fixture {
  herald: Herald;
  url: string;
  email: CaptureBackend;
  sms: CaptureBackend;
  keys: Keys;
  /** Every line the server's and Herald's loggers wrote (debug included). */
  logs: string[];
  close(): Promise<void>;
}

export function capturingLogger(lines: string[]): Logger {
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push(`${level} ${message} ${fields ? JSON.stringify(fields) : ''}`);
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export async function startFixture(kind: StoreKind, options: ServerOptions = {}, extra: { notifications?: Notification[]; wrap?: (store: Store) => Store } = {}): Promise<Fixture> {
  const made = await kind.make();
  const store = extra.wrap ? extra.wrap(made.store) : made.store;
  const { cleanup } = made;
  const logs: string[] = [];
  const email = captureBackend({ protocol: 'email' });
  const sms = captureBackend({ protocol: 'sms' });
  // Behind capture-email in failover order: only its tracking webhook is used (basic auth), it never sends here.
  const postmarkBackend = postmark({ serverToken: 'server-token-never-used', webhookAuth: { username: 'postmark', password: 'hook-secret' } });
  const herald = createHerald({
    store,
    backends: [email, sms, postmarkBackend],
    notifications: extra.notifications ?? [welcome, receipt, postmasterNotification],
    logger: capturingLogger(logs),
  });
  await store.migrate();
  const server = await serve(createServer(herald, { logger: capturingLogger(logs), ...options }), { port: 0 });
  const make = async (scopes: ('send' | 'read' | 'admin')[]) => (await createApiKey(store, { scopes, name: scopes.join('+') })).key;
  const revoked = await createApiKey(store, { scopes: ['admin'], name: 'revoked' });
  await revokeApiKey(store, revoked.id);
  const send = await make(['send']);
  const keys: Keys = {
    send,
    read: await make(['read']),
    admin: await make(['admin']),
    sendRead: await make(['send', 'read']),
    revoked: revoked.key,
    forged: `${send.slice(0, 20)}${'A'.repeat(43)}`,
  };
  return {
    herald,
    url: server.url,
    email,
    sms,
    keys,
    logs,
    async close() {
      await server.close();
      await herald.close();
      await cleanup();
    },
  };
}

/** The stores every suite runs on: a SQLite file and a private PostgreSQL schema, each dropped afterwards. */
export const STORES_UNDER_TEST: readonly StoreKind[] = [STORES.sqlite, STORES.postgres];

export interface ClientRequest {
  method: string;
  path: string;
  /** A key for `Authorization: Bearer`; null or absent sends none. */
  key?: string | null;
  /** JSON-encoded unless a string (sent as is). */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ClientResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  request: ClientRequest;
}

function run(command: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

/** Send requests from a child process — `node` (fetch) or `python` (urllib) — one after the other. */
export async function client(kind: 'node' | 'python', fixture: { url: string }, requests: ClientRequest[]): Promise<ClientResponse[]> {
  const wire = requests.map((r) => {
    const headers: Record<string, string> = { ...(r.body !== undefined && typeof r.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...r.headers };
    if (r.key) headers.authorization = `Bearer ${r.key}`;
    return { method: r.method, url: fixture.url + r.path, headers, body: r.body === undefined ? null : typeof r.body === 'string' ? r.body : JSON.stringify(r.body) };
  });
  const [command, script] = kind === 'node' ? ['node', join(here, 'clients/fetch-client.mjs')] : ['python3', join(here, 'clients/urllib_client.py')];
  const out = JSON.parse(await run(command, [script], JSON.stringify(wire))) as Omit<ClientResponse, 'json' | 'request'>[];
  return out.map((r, i) => {
    let json: unknown;
    try {
      json = JSON.parse(r.body);
    } catch {
      json = undefined;
    }
    return { ...r, json, request: requests[i]! };
  });
}

/** One request from a Node child process. */
export async function http(fixture: { url: string }, request: ClientRequest): Promise<ClientResponse> {
  return (await client('node', fixture, [request]))[0]!;
}

/** `curl` in a child process: stdin streamed as the body (chunked when `chunked`). */
export async function curl(url: string, args: string[], body: string): Promise<{ status: number; body: string }> {
  const out = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args, url], body);
  const cut = out.lastIndexOf('\n');
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

// ───────────────────────── OpenAPI conformance ─────────────────────────

type Operation = { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };

/**
 * Validates real responses against the OpenAPI document's response schemas (ajv, JSON Schema 2020-12 with
 * formats), and records which operations were exercised.
 */
export function conformance(options: ServerOptions = {}) {
  const document = openApiDocument(options) as { paths: Record<string, Record<string, Operation>> };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi.json');
  const operations = Object.entries(document.paths).map(([template, item]) => ({
    template,
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    item,
  }));
  const covered = new Set<string>();
  const pointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

  return {
    document,
    covered,
    /** Throws when the response's status is undocumented or its body does not match the schema. */
    check(response: ClientResponse): void {
      const path = response.request.path.split('?')[0]!;
      const method = response.request.method.toLowerCase();
      const op = operations.find((o) => o.regex.test(path) && o.item[method]);
      if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in the OpenAPI document`);
      const declared = op.item[method]!.responses?.[String(response.status)];
      if (!declared) throw new Error(`${method.toUpperCase()} ${op.template} answered ${response.status}, which the document does not declare: ${response.body}`);
      covered.add(`${method} ${op.template} ${response.status}`);
      if (!declared.content?.['application/json']?.schema) return;
      const ref = `openapi.json#/paths/${pointer(op.template)}/${method}/responses/${response.status}/content/${pointer('application/json')}/schema`;
      const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
      if (!validate(response.json)) {
        throw new Error(`${method.toUpperCase()} ${op.template} ${response.status} does not match the document: ${ajv.errorsText(validate.errors)}\n${response.body.slice(0, 2000)}`);
      }
    },
  };
}
