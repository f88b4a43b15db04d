import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineBackend } from '../src/backend';
import { ConfigError, ValidationError } from '../src/errors';
import { memoryStore } from '../src/testing/memory-store';
import type {
  Delivery,
  DeliveryStatus,
  InboundEvent,
  JsonObject,
  NewDelivery,
  Store,
  TrackingEvent,
  TrackingEventType,
  WebhookRequest,
} from '../src/types';
import { createWebhookHandler, verifyBasicAuth, webhookJson, type WebhookHandlerDeps } from '../src/webhooks';
import { toNodeHandler } from '../src/webhooks-node';

// ───────── a tiny backend: token header auth, `{ events: [...] }` tracking, `{ id, from, subject }` inbound ─────────

const acme = defineBackend({
  name: 'acme',
  protocol: 'email',
  formats: ['html'],
  options: z.object({ token: z.string().min(4) }),
  secrets: (o) => [o.token],
  setup(options) {
    const verify = (request: WebhookRequest) => {
      const token = request.headers.get('x-acme-token');
      if (!token) return { ok: false, status: 401 as const, reason: 'x-acme-token header missing' };
      return token === options.token ? { ok: true } : { ok: false, status: 403 as const, reason: 'wrong x-acme-token' };
    };
    return {
      async send() {
        return { messageId: 'm-1' };
      },
      webhooks: {
        tracking: {
          verify,
          parse(request): TrackingEvent[] {
            const body = webhookJson(request, 'acme') as JsonObject;
            if ('from' in body) throw new ConfigError('an inbound payload was posted to the tracking webhook URL', { backend: 'acme' });
            if ('leak' in body) throw new ValidationError(`payload rejected for token ${options.token}`, [], { backend: 'acme' });
            const events = (body.events ?? []) as JsonObject[];
            return events.map((e) => ({
              eventType: e.type as TrackingEventType,
              eventId: String(e.id ?? ''),
              messageId: (e.message_id as string | undefined) ?? null,
              timestamp: null,
              recipient: (e.recipient as string | undefined) ?? null,
              metadata: {},
              tags: [],
              rejectReason: e.type === 'bounced' ? 'bounced' : null,
              description: null,
              mtaResponse: null,
              userAgent: null,
              clickUrl: null,
              raw: e,
            }));
          },
        },
        inbound: {
          verify,
          parse(request): InboundEvent[] {
            const body = webhookJson(request, 'acme') as JsonObject;
            return [
              {
                eventType: 'inbound',
                eventId: String(body.id),
                timestamp: null,
                raw: body,
                message: {
                  from: String(body.from),
                  to: [],
                  cc: [],
                  subject: String(body.subject),
                  date: null,
                  text: null,
                  html: null,
                  headers: {},
                  attachments: [],
                  envelopeSender: null,
                  envelopeRecipient: null,
                  spamScore: null,
                },
              },
            ];
          },
        },
      },
    };
  },
});

const plain = defineBackend({
  name: 'plain',
  protocol: 'email',
  formats: ['html'],
  // (an empty z.object({}) would make `name` un-assignable: BackendOptions of an empty schema is Record<string, never>)
  options: z.object({ region: z.string().optional() }),
  setup: () => ({ send: async () => ({}) }),
});

// ───────── the shared memory store, seeded with two sent deliveries ─────────

const T0 = new Date('2026-01-01T00:00:00Z');

async function seed(store: Store, id: string, providerMessageId: string): Promise<void> {
  const row: NewDelivery = {
    id,
    batchId: 'b1',
    notification: 'welcome',
    category: null,
    recipientId: 'u1',
    protocol: 'email',
    address: 'ada@example.org',
    backend: 'acme',
    status: 'queued',
    skipReason: null,
    dedupeKey: null,
    dedupeSince: null,
    dedupeAddress: null,
    maxAttempts: 8,
    message: null,
    createdAt: T0,
    nextAttemptAt: T0,
    expiresAt: null,
  };
  await store.enqueue([row]);
  const [claimed] = await store.claim({ owner: 'w', limit: 1, leaseMs: 60_000, now: T0 });
  const attempt = { deliveryId: id, attempt: 1, startedAt: T0, durationMs: 1, outcome: 'sent' as const, request: null, response: null, error: null, workerId: 'w', backend: 'acme' };
  await store.finish(claimed!.id, 'w', { status: 'sent', providerMessageId, attempt });
}

/** memoryStore() has no forgetInbound yet: emulate it so the inbound retry path can be tested. */
function withForgetInbound(store: Store): Store {
  const forgotten = new Set<string>();
  return Object.assign(Object.create(store) as Store, {
    async recordInbound(backend: string, event: InboundEvent, now: Date) {
      const key = `${backend}\0${event.eventId}`;
      if (forgotten.delete(key)) return true;
      return store.recordInbound(backend, event, now);
    },
    async forgetInbound(backend: string, eventId: string) {
      forgotten.add(`${backend}\0${eventId}`);
    },
  });
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function setup(options: { maxBodyBytes?: number; failTracking?: (event: TrackingEvent) => boolean; failInbound?: () => boolean } = {}) {
  const store = withForgetInbound(memoryStore());
  await store.migrate();
  await seed(store, 'd1', 'm-1');
  await seed(store, 'd2', 'm-2');
  const tracked: { event: TrackingEvent; delivery: Delivery | null }[] = [];
  const received: InboundEvent[] = [];
  const changes: { id: string; from: DeliveryStatus | null; to: DeliveryStatus }[] = [];
  const deps: WebhookHandlerDeps = {
    backends: [acme({ token: 'sekrit-token' }), plain({ name: 'plain' })],
    store,
    logger: silent,
    maxBodyBytes: options.maxBodyBytes ?? 10_000,
    now: () => new Date('2026-01-02T00:00:00Z'),
    async emitTracking(event, d) {
      if (options.failTracking?.(event)) throw new Error('listener exploded');
      tracked.push({ event, delivery: d });
    },
    async emitInbound(event) {
      if (options.failInbound?.()) throw new Error('inbound listener exploded');
      received.push(event);
    },
    emitDelivery(d, change) {
      changes.push({ id: d.id, ...change });
    },
  };
  const status = async (id: string) => (await store.get(id))!.status;
  const eventIds = async (id: string) => (await store.events(id)).map((e) => e.eventId);
  const suppressed = async (...addresses: string[]) => [...(await store.suppressed('email', addresses)).values()].map((s) => [s.address, s.reason]);
  return { handle: createWebhookHandler(deps), store, tracked, received, changes, status, eventIds, suppressed };
}

type Ev = { id?: string; type: string; message_id?: string; recipient?: string };

function post(path: string, body: unknown, init: { token?: string | null; contentType?: string; method?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': init.contentType ?? 'application/json' };
  if (init.token !== null) headers['x-acme-token'] = init.token ?? 'sekrit-token';
  const method = init.method ?? 'POST';
  return new Request(`https://app.example${path}`, {
    method,
    headers,
    body: method === 'GET' || method === 'HEAD' ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

const track = (...events: Ev[]) => post('/herald/acme/tracking', { events });

describe('createWebhookHandler: routing', () => {
  it('routes on the last two path segments, under any prefix, with or without a trailing slash', async () => {
    const t = await setup();
    for (const path of ['/acme/tracking', '/a/b/c/acme/tracking', '/hooks/acme/tracking/']) {
      const res = await t.handle(post(path, { events: [] }));
      expect(res.status, path).toBe(200);
    }
  });

  it('answers 404 for an unknown backend, an unknown kind, or a backend without that webhook', async () => {
    const t = await setup();
    expect((await t.handle(post('/herald/nope/tracking', {}))).status).toBe(404);
    expect((await t.handle(post('/herald/acme/status', {}))).status).toBe(404);
    expect((await t.handle(post('/tracking', {}))).status).toBe(404);
    const res = await t.handle(post('/herald/plain/tracking', {}));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'backend "plain" has no tracking webhook' });
  });

  it('answers 405 to GET, 200 empty to HEAD (like anymail), 204 to OPTIONS', async () => {
    const t = await setup();
    const get = await t.handle(post('/herald/acme/tracking', null, { method: 'GET' }));
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, HEAD, OPTIONS');
    const head = await t.handle(post('/herald/acme/tracking', null, { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await t.handle(post('/herald/acme/tracking', null, { method: 'OPTIONS' }))).status).toBe(204);
  });
});

describe('createWebhookHandler: bad input changes nothing', () => {
  it('401 without credentials, 403 with wrong ones; nothing stored, no listener', async () => {
    const t = await setup();
    const ev = { id: 'e1', type: 'delivered', message_id: 'm-1' };
    const missing = await t.handle(post('/herald/acme/tracking', { events: [ev] }, { token: null }));
    expect(missing.status).toBe(401);
    const wrong = await t.handle(post('/herald/acme/tracking', { events: [ev] }, { token: 'forged-token' }));
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toEqual({ error: 'wrong x-acme-token' });
    expect(await t.eventIds('d1')).toEqual([]);
    expect(t.tracked).toEqual([]);
    expect(await t.status('d1')).toBe('sent');
  });

  it('400 for malformed JSON, an empty body, or a wrong content type', async () => {
    const t = await setup();
    const bad = await t.handle(post('/herald/acme/tracking', '{"events": [', {}));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/not valid JSON/);
    expect((await t.handle(post('/herald/acme/tracking', ''))).status).toBe(400);
    const form = await t.handle(post('/herald/acme/tracking', 'a=b', { contentType: 'application/x-www-form-urlencoded' }));
    expect(form.status).toBe(400);
    expect(((await form.json()) as { error: string }).error).toMatch(/must be JSON/);
    expect(await t.eventIds('d1')).toEqual([]);
  });

  it('400 naming the misconfiguration when a payload belongs to the other endpoint', async () => {
    const t = await setup();
    const res = await t.handle(post('/herald/acme/tracking', { id: 'i1', from: 'a@b.example', subject: 'hi' }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('[herald] [acme] an inbound payload was posted to the tracking webhook URL');
  });

  it('413 for an oversized body, whether declared by Content-Length or streamed', async () => {
    const t = await setup({ maxBodyBytes: 100 });
    const big = { events: [{ id: 'e1', type: 'delivered', message_id: 'm-1', recipient: 'x'.repeat(200) }] };
    expect((await t.handle(track({ id: 'e1', type: 'delivered', message_id: 'm-1', recipient: 'x'.repeat(200) }))).status).toBe(413);
    const bytes = new TextEncoder().encode(JSON.stringify(big));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 32) controller.enqueue(bytes.slice(i, i + 32));
        controller.close();
      },
    });
    const streamed = new Request('https://app.example/acme/tracking', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-acme-token': 'sekrit-token' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect((await t.handle(streamed)).status).toBe(413);
    expect(await t.eventIds('d1')).toEqual([]);
  });

  it('400 when the body was already consumed by a middleware', async () => {
    const t = await setup();
    const request = track({ id: 'e1', type: 'delivered', message_id: 'm-1' });
    await request.text();
    const res = await t.handle(request);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'could not read the request body' });
  });

  it('never echoes a backend secret in an error response', async () => {
    const t = await setup();
    const res = await t.handle(post('/herald/acme/tracking', { leak: true }));
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain('payload rejected for token [redacted]');
    expect(text).not.toContain('sekrit-token');
  });
});

describe('createWebhookHandler: tracking', () => {
  it('stores the event, moves the delivery forward, and emits tracking + delivery', async () => {
    const t = await setup();
    const res = await t.handle(track({ id: 'e1', type: 'delivered', message_id: 'm-1', recipient: 'ada@example.org' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, processed: 1, replayed: 0 });
    expect(await t.status('d1')).toBe('delivered');
    expect(t.tracked).toHaveLength(1);
    expect(t.tracked[0]!.delivery?.id).toBe('d1');
    expect(t.tracked[0]!.event.eventType).toBe('delivered');
    expect(t.changes).toEqual([{ id: 'd1', from: 'sent', to: 'delivered' }]);
  });

  // Regression: the handler looked the delivery up (findByProviderMessageId) before recordEvent, two reads per event.
  it('one read per event: recordEvent returns the previous status, nothing is looked up first', async () => {
    const t = await setup();
    const reads: string[] = [];
    for (const method of ['get', 'findByProviderMessageId', 'list'] as const) {
      const original = t.store[method].bind(t.store) as (...args: never[]) => Promise<unknown>;
      (t.store as unknown as Record<string, unknown>)[method] = (...args: never[]) => {
        reads.push(method);
        return original(...args);
      };
    }
    const res = await t.handle(track({ id: 'e1', type: 'delivered', message_id: 'm-1' }, { id: 'e2', type: 'opened', message_id: 'm-1' }));
    expect(res.status).toBe(200);
    expect(reads).toEqual([]);
    expect(t.changes).toEqual([
      { id: 'd1', from: 'sent', to: 'delivered' },
      { id: 'd1', from: 'delivered', to: 'opened' },
    ]);
  });

  it('not delivered is final: a provider failure after sent moves it to failed, and a later delivered or opened never moves it back', async () => {
    const t = await setup();
    await t.handle(track({ id: 'e1', type: 'failed', message_id: 'm-1' }));
    expect(await t.status('d1')).toBe('failed');
    await t.handle(track({ id: 'e2', type: 'delivered', message_id: 'm-1' }, { id: 'e3', type: 'opened', message_id: 'm-1' }));
    expect(await t.status('d1')).toBe('failed');
    await t.handle(track({ id: 'e4', type: 'bounced', message_id: 'm-2' }, { id: 'e5', type: 'delivered', message_id: 'm-2' }));
    expect(await t.status('d2')).toBe('bounced');
  });

  it('a replay answers 200 and changes nothing (no listener, no status change)', async () => {
    const t = await setup();
    await t.handle(track({ id: 'e1', type: 'opened', message_id: 'm-1' }));
    const again = await t.handle(track({ id: 'e1', type: 'opened', message_id: 'm-1' }));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ ok: true, processed: 0, replayed: 1 });
    expect(t.tracked).toHaveLength(1);
    expect(t.changes).toHaveLength(1);
    expect(await t.eventIds('d1')).toEqual(['e1']);
  });

  it('out-of-order events: opened then a late delivered leaves the delivery opened', async () => {
    const t = await setup();
    await t.handle(track({ id: 'e1', type: 'opened', message_id: 'm-1' }));
    await t.handle(track({ id: 'e2', type: 'delivered', message_id: 'm-1' }));
    expect(await t.status('d1')).toBe('opened');
    expect(t.tracked.map((x) => x.event.eventType)).toEqual(['opened', 'delivered']);
    expect(t.changes).toEqual([{ id: 'd1', from: 'sent', to: 'opened' }]);
  });

  it('hard bounces, complaints and unsubscribes suppress the (normalized) address; deferred does not', async () => {
    const t = await setup();
    await t.handle(
      track(
        { id: 'e1', type: 'bounced', message_id: 'm-1', recipient: 'Ada@Example.org' },
        { id: 'e2', type: 'complained', message_id: 'm-2', recipient: 'bob@example.org' },
        { id: 'e3', type: 'unsubscribed', message_id: 'm-9', recipient: 'cy@example.org' },
        { id: 'e4', type: 'deferred', message_id: 'm-9', recipient: 'dee@example.org' },
      ),
    );
    expect(await t.suppressed('ada@example.org', 'bob@example.org', 'cy@example.org', 'dee@example.org')).toEqual([
      ['ada@example.org', 'hard bounce'],
      ['bob@example.org', 'spam complaint'],
      ['cy@example.org', 'unsubscribed'],
    ]);
    expect([await t.status('d1'), await t.status('d2')]).toEqual(['bounced', 'complained']);
  });

  it('an event for an unknown message is stored and emitted with a null delivery', async () => {
    const t = await setup();
    await t.handle(track({ id: 'e1', type: 'delivered', message_id: 'elsewhere' }));
    expect(t.tracked[0]!.delivery).toBeNull();
    const replay = await t.handle(track({ id: 'e1', type: 'delivered', message_id: 'elsewhere' }));
    expect(await replay.json()).toEqual({ ok: true, processed: 0, replayed: 1 });
  });

  it('an unknown event type is stored as `unknown` with the raw event', async () => {
    const t = await setup();
    await t.handle(track({ id: 'e1', type: 'teleported', message_id: 'm-1' }));
    const [stored] = await t.store.events('d1');
    expect(stored!.eventType).toBe('unknown');
    expect(stored!.raw).toEqual({ id: 'e1', type: 'teleported', message_id: 'm-1' });
    expect(await t.status('d1')).toBe('sent');
  });

  it('events without a provider id get a stable derived id, so their replay is detected too', async () => {
    const t = await setup();
    await t.handle(track({ type: 'opened', message_id: 'm-1' }));
    await t.handle(track({ type: 'opened', message_id: 'm-1' }));
    const ids = await t.eventIds('d1');
    expect(ids).toHaveLength(1);
    expect(ids[0]).toMatch(/^sha256:[0-9a-f]{40}$/);
  });

  it('a throwing listener → 500 and the failed event is forgotten; the retry processes it exactly once', async () => {
    let failing = true;
    const t = await setup({ failTracking: (e) => failing && e.eventId === 'e2' });
    const batch = () =>
      track(
        { id: 'e1', type: 'delivered', message_id: 'm-1' },
        { id: 'e2', type: 'opened', message_id: 'm-1' },
        { id: 'e3', type: 'clicked', message_id: 'm-1' },
      );
    const first = await t.handle(batch());
    expect(first.status).toBe(500);
    expect(await t.eventIds('d1')).toEqual(['e1']);
    expect(t.tracked.map((x) => x.event.eventId)).toEqual(['e1']);

    failing = false;
    const retry = await t.handle(batch());
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ ok: true, processed: 2, replayed: 1 });
    expect(t.tracked.map((x) => x.event.eventId)).toEqual(['e1', 'e2', 'e3']);
    expect(await t.status('d1')).toBe('clicked');

    const replay = await t.handle(batch());
    expect(replay.status).toBe(200);
    expect(t.tracked).toHaveLength(3);
  });
});

describe('createWebhookHandler: inbound', () => {
  const inbound = (id: string) => post('/herald/acme/inbound', { id, from: 'ada@example.org', subject: 'Re: hi' });

  it('stores and emits an inbound event; a replay is ignored', async () => {
    const t = await setup();
    expect((await t.handle(inbound('i1'))).status).toBe(200);
    expect((await t.handle(inbound('i1'))).status).toBe(200);
    expect(t.received.map((e) => e.message.subject)).toEqual(['Re: hi']);
  });

  it('a throwing inbound listener → 500, and the retry is processed once', async () => {
    let failing = true;
    const t = await setup({ failInbound: () => failing });
    expect((await t.handle(inbound('i1'))).status).toBe(500);
    expect(t.received).toHaveLength(0);
    failing = false;
    expect((await t.handle(inbound('i1'))).status).toBe(200);
    expect((await t.handle(inbound('i1'))).status).toBe(200);
    expect(t.received).toHaveLength(1);
  });
});

describe('verifyBasicAuth', () => {
  const req = (authorization?: string): WebhookRequest => ({
    method: 'POST',
    url: new URL('https://app.example/x/tracking'),
    headers: new Headers(authorization ? { authorization } : {}),
    body: new Uint8Array(),
    text: '',
  });
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  const creds = [
    { username: 'hook', password: 'pa:ss' },
    { username: 'old', password: 'rotated' },
  ];

  it('accepts any configured pair, 401 when missing or malformed, 403 when wrong', () => {
    expect(verifyBasicAuth(req(basic('hook:pa:ss')), creds)).toEqual({ ok: true });
    expect(verifyBasicAuth(req(basic('old:rotated')), creds)).toEqual({ ok: true });
    expect(verifyBasicAuth(req(), creds).status).toBe(401);
    expect(verifyBasicAuth(req('Bearer abc'), creds).status).toBe(401);
    expect(verifyBasicAuth(req(basic('hook:wrong')), creds).status).toBe(403);
    expect(verifyBasicAuth(req(basic('hook:pa:s')), creds).status).toBe(403);
  });
});

describe('toNodeHandler', () => {
  const servers: ReturnType<typeof createServer>[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function listen(handler: ReturnType<typeof toNodeHandler>) {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('serves the Fetch handler over node:http, body and headers intact', async () => {
    const t = await setup({ maxBodyBytes: 300 });
    const base = await listen(toNodeHandler(t.handle));
    const ok = await fetch(`${base}/herald/acme/tracking`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-acme-token': 'sekrit-token' },
      body: JSON.stringify({ events: [{ id: 'n1', type: 'delivered', message_id: 'm-1' }] }),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    expect(await t.status('d1')).toBe('delivered');
    const big = await fetch(`${base}/herald/acme/tracking`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-acme-token': 'sekrit-token' },
      body: JSON.stringify({ pad: 'x'.repeat(1000) }),
    });
    expect(big.status).toBe(413);
    expect((await fetch(`${base}/herald/acme/tracking`, { method: 'HEAD' })).status).toBe(200);
  });

  it('builds request.url from the Host header, or from `origin` behind a proxy', async () => {
    const seen: string[] = [];
    const echo = async (request: Request) => {
      seen.push(request.url);
      return new Response(null, { status: 204 });
    };
    const direct = await listen(toNodeHandler(echo));
    const proxied = await listen(toNodeHandler(echo, { origin: 'https://app.example.com' }));
    await fetch(`${direct}/herald/acme/tracking?x=1`, { method: 'POST', body: '{}' });
    await fetch(`${proxied}/herald/acme/tracking`, { method: 'POST', body: '{}' });
    expect(seen).toEqual([`${direct}/herald/acme/tracking?x=1`, 'https://app.example.com/herald/acme/tracking']);
  });

  it('answers 500 when the handler itself throws', async () => {
    const base = await listen(
      toNodeHandler(async () => {
        throw new Error('boom');
      }),
    );
    const res = await fetch(`${base}/x/tracking`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'webhook handler failed' });
  });

  it('uses a body an Express raw parser already read', async () => {
    const t = await setup();
    const handler = toNodeHandler(t.handle);
    const base = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        Object.assign(req, { body: Buffer.concat(chunks) });
        handler(req, res);
      });
    });
    const res = await fetch(`${base}/acme/tracking`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-acme-token': 'sekrit-token' },
      body: JSON.stringify({ events: [{ id: 'n2', type: 'opened', message_id: 'm-2' }] }),
    });
    expect(res.status).toBe(200);
    expect(await t.status('d2')).toBe('opened');
  });
});
