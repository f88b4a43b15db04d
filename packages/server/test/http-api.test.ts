import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientRequest,
  type ClientResponse,
  client,
  conformance,
  curl,
  type Fixture,
  startFixture,
  STORES_UNDER_TEST,
} from './_harness';

const available = STORES_UNDER_TEST;

type Body = Record<string, unknown>;
const contact = (address: string, protocol = 'email') => ({ contacts: [{ protocol, address }] });

describe.each(available)('HTTP API on $name', (kind) => {
  let f: Fixture;
  const doc = conformance();
  // Every answer is validated against the OpenAPI document as it arrives.
  const call = async (requests: ClientRequest[], via: 'node' | 'python' = 'node'): Promise<ClientResponse[]> => {
    const answers = await client(via, f, requests);
    for (const a of answers) doc.check(a);
    return answers;
  };
  const one = async (request: ClientRequest, via: 'node' | 'python' = 'node') => (await call([request], via))[0]!;
  const body = (r: ClientResponse) => r.json as Body;
  const error = (r: ClientResponse) => (r.json as { error: { code: string; message: string; field: string | null } }).error;
  const count = async () => (await f.herald.deliveries.list({ limit: 10_000 })).length;

  beforeAll(async () => {
    f = await startFixture(kind);
  });
  afterAll(async () => {
    await f?.close();
  });

  describe('POST /v1/notify', () => {
    it('enqueues for every contact and answers 201 { batchId, deliveries, skipped }', async () => {
      const r = await one({
        method: 'POST',
        path: '/v1/notify',
        key: f.keys.send,
        body: {
          notification: 'welcome',
          data: { name: 'Ada' },
          recipients: [{ id: 'u-ada', name: 'Ada', contacts: [{ protocol: 'email', address: 'ada@example.org' }, { protocol: 'sms', address: '+14155550123' }] }],
        },
      });
      expect(r.status).toBe(201);
      const result = body(r) as { batchId: string; deliveries: { id: string; status: string; protocol: string; batchId: string }[]; skipped: unknown[] };
      expect(result.deliveries.map((d) => [d.protocol, d.status])).toEqual([
        ['email', 'queued'],
        ['sms', 'queued'],
      ]);
      expect(result.deliveries.every((d) => d.batchId === result.batchId)).toBe(true);
      expect(result.skipped).toEqual([]);
      await f.herald.drain();
      expect(f.email.messages.at(-1)?.content.subject).toBe('Welcome, Ada');
    });

    it('takes send options and a delay', async () => {
      const r = await one({
        method: 'POST',
        path: '/v1/notify',
        key: f.keys.send,
        body: { notification: 'welcome', data: { name: 'Later' }, recipients: [contact('later@example.org')], options: { delay: '1h', options: { tags: ['t1'] } } },
      });
      expect(r.status).toBe(201);
      const d = (body(r).deliveries as { nextAttemptAt: string }[])[0]!;
      expect(new Date(d.nextAttemptAt).getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    });

    it('refuses bad input with a 4xx naming the field, and stores nothing of the request', async () => {
      const before = await count();
      const good = { notification: 'welcome', data: { name: 'Ada' }, recipients: [contact('ok@example.org')] };
      const answers = await call([
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: '{"notification": "welcome",', headers: { 'content-type': 'application/json' } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: JSON.stringify(good), headers: { 'content-type': 'text/plain' } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: JSON.stringify(good) },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, notification: 'wellcome' } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, data: { name: 42 } } },
        // The first recipient is fine, the second is not: the whole call is refused.
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, recipients: [contact('ok@example.org'), contact('not-an-address')] } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, recipients: [{ contacts: [{ protocol: 'pigeon', address: 'x' }] }] } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, recipients: [contact('+1', 'sms')] } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, sendAt: 'tomorrow' } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, options: { options: { cc: 'one@example.org' } } } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { ...good, options: { delay: 'soon' } } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: [good] },
      ]);
      const seen = answers.map((a) => [a.status, error(a).code, error(a).field]);
      expect(seen).toEqual([
        [400, 'invalid_json', null],
        [415, 'unsupported_media_type', null],
        [415, 'unsupported_media_type', null],
        [422, 'unknown_notification', 'notification'],
        [422, 'validation_error', 'data.name'],
        [422, 'validation_error', 'recipients[1].contacts[0].address'],
        [422, 'validation_error', 'recipients[0].contacts[0].protocol'],
        [422, 'validation_error', 'recipients[0].contacts[0].address'],
        [422, 'validation_error', 'sendAt'],
        [422, 'validation_error', 'options.options.cc'],
        [422, 'validation_error', 'options.delay'],
        [422, 'validation_error', null],
      ]);
      expect(error(answers[0]!).message).toMatch(/not valid JSON/);
      expect(error(answers[3]!).message).toContain('registered: welcome, receipt, postmaster.email');
      expect(await count()).toBe(before);
    });

    it('refuses a body over the limit with 413 before reading it, with or without Content-Length', async () => {
      const before = await count();
      const huge = JSON.stringify({ notification: 'welcome', data: { name: 'x'.repeat(1_100_000) }, recipients: [contact('big@example.org')] });
      const withLength = await one({ method: 'POST', path: '/v1/notify', key: f.keys.send, body: huge, headers: { 'content-type': 'application/json' } });
      expect([withLength.status, error(withLength).code]).toEqual([413, 'payload_too_large']);
      const chunked = await curl(`${f.url}/v1/notify`, ['-X', 'POST', '-H', 'content-type: application/json', '-H', `authorization: Bearer ${f.keys.send}`, '-H', 'transfer-encoding: chunked', '--data-binary', '@-'], huge);
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.body).error.code).toBe('payload_too_large');
      expect(await count()).toBe(before);
    });
  });

  describe('API keys', () => {
    it('401 for a missing, malformed, unknown, forged or revoked key; 403 for a key without the scope', async () => {
      const notify = { method: 'POST', path: '/v1/notify', body: { notification: 'welcome', data: { name: 'K' }, recipients: [contact('k@example.org')] } };
      const answers = await call([
        { method: 'GET', path: '/v1/deliveries' },
        { method: 'GET', path: '/v1/deliveries', headers: { authorization: f.keys.read } },
        { method: 'GET', path: '/v1/deliveries', key: 'hk_nothex_123' },
        { method: 'GET', path: '/v1/deliveries', key: `hk_0123456789abcdef_${'B'.repeat(43)}` },
        { method: 'GET', path: '/v1/deliveries', key: f.keys.forged },
        { method: 'GET', path: '/v1/deliveries', key: f.keys.revoked },
        { ...notify, key: f.keys.read },
        { method: 'GET', path: '/v1/deliveries', key: f.keys.send },
        { method: 'PUT', path: '/v1/preferences/u-x', key: f.keys.sendRead, body: { optOut: [] } },
        { method: 'GET', path: '/v1/deliveries', key: f.keys.admin },
        { ...notify, key: f.keys.admin },
      ]);
      expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 401, 403, 403, 403, 200, 201]);
      expect(answers.slice(0, 6).every((a) => error(a).code === 'unauthorized' && a.headers['www-authenticate']?.startsWith('Bearer'))).toBe(true);
      expect(error(answers[5]!).message).toContain('revoked');
      expect(error(answers[4]!).message).not.toContain('revoked');
      expect(error(answers[6]!)).toMatchObject({ code: 'forbidden', message: expect.stringContaining('`send` scope') });
    });

    it('never puts a key or its secret in a response or a log line', async () => {
      await call([
        { method: 'GET', path: '/v1/deliveries', key: f.keys.read },
        { method: 'GET', path: '/v1/deliveries', key: f.keys.forged },
        { method: 'GET', path: '/v1/deliveries', key: f.keys.revoked },
      ]);
      const stored = await f.herald.store.listKeys();
      const secrets = Object.values(f.keys).map((k) => k.split('_').slice(2).join('_'));
      const everything = [...f.logs, JSON.stringify(stored)].join('\n');
      for (const secret of secrets) expect(everything).not.toContain(secret);
      expect(stored.every((k) => /^[0-9a-f]{64}$/.test(k.hash))).toBe(true);
    });
  });

  describe('deliveries', () => {
    let ids: string[] = [];
    beforeAll(async () => {
      const r = await one({
        method: 'POST',
        path: '/v1/notify',
        key: f.keys.send,
        body: { notification: 'welcome', data: { name: 'Page' }, recipients: Array.from({ length: 7 }, (_, i) => ({ id: `page-${i}`, ...contact(`page${i}@example.org`) })) },
      });
      ids = (body(r).deliveries as { id: string }[]).map((d) => d.id);
    });

    it('pages newest first by cursor, never skipping or repeating rows that share a timestamp', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const r = await one({ method: 'GET', path: `/v1/deliveries?notification=welcome&limit=3${cursor ? `&cursor=${cursor}` : ''}`, key: f.keys.read });
        expect(r.status).toBe(200);
        const { items, nextCursor } = body(r) as { items: { id: string }[]; nextCursor: string | null };
        seen.push(...items.map((d) => d.id));
        cursor = nextCursor;
        if (!cursor) break;
      }
      for (const id of ids) expect(seen.filter((s) => s === id)).toHaveLength(1);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.length).toBe((await f.herald.deliveries.list({ notification: 'welcome', limit: 1000 })).length);
    });

    it('filters by status, notification, backend, address, since and limit', async () => {
      const since = new Date(Date.now() - 60_000).toISOString();
      const answers = await call([
        { method: 'GET', path: '/v1/deliveries?address=page3%40example.org', key: f.keys.read },
        { method: 'GET', path: `/v1/deliveries?status=queued,retrying&backend=capture-email&since=${encodeURIComponent(since)}&limit=2`, key: f.keys.read },
        { method: 'GET', path: `/v1/deliveries?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, key: f.keys.read },
        { method: 'GET', path: '/v1/deliveries?notification=receipt', key: f.keys.read },
      ]);
      const items = (r: ClientResponse) => (body(r).items as { id: string; status: string; backend: string; address: string }[]);
      expect(items(answers[0]!).map((d) => d.address)).toEqual(['page3@example.org']);
      expect(items(answers[1]!)).toHaveLength(2);
      expect(items(answers[1]!).every((d) => d.status === 'queued' && d.backend === 'capture-email')).toBe(true);
      expect(body(answers[1]!).nextCursor).toEqual(expect.any(String));
      expect(items(answers[2]!)).toEqual([]);
      expect(items(answers[3]!)).toEqual([]);
    });

    it('refuses bad query parameters naming them', async () => {
      const answers = await call([
        { method: 'GET', path: '/v1/deliveries?status=lost', key: f.keys.read },
        { method: 'GET', path: '/v1/deliveries?limit=0', key: f.keys.read },
        { method: 'GET', path: '/v1/deliveries?since=yesterday', key: f.keys.read },
        { method: 'GET', path: '/v1/deliveries?cursor=garbage', key: f.keys.read },
        { method: 'GET', path: '/v1/deliveries?stauts=queued', key: f.keys.read },
      ]);
      expect(answers.map((a) => [a.status, error(a).field])).toEqual([
        [422, 'status'],
        [422, 'limit'],
        [422, 'since'],
        [422, 'cursor'],
        [422, 'stauts'],
      ]);
    });

    it('GET /v1/deliveries/:id has the message, the attempts and the tracking events', async () => {
      await f.herald.drain();
      const r = await one({ method: 'GET', path: `/v1/deliveries/${ids[0]}`, key: f.keys.read });
      expect(r.status).toBe(200);
      const detail = body(r) as { delivery: { status: string; message: { content: { subject: string } } }; attempts: { outcome: string }[]; events: unknown[] };
      expect(detail.delivery.status).toBe('sent');
      expect(detail.delivery.message.content.subject).toBe('Welcome, Page');
      expect(detail.attempts.map((a) => a.outcome)).toEqual(['sent']);
      expect(detail.events).toEqual([]);
      const missing = await one({ method: 'GET', path: '/v1/deliveries/d_missing', key: f.keys.read });
      expect([missing.status, error(missing).code]).toEqual([404, 'not_found']);
    });

    it('redelivers a failed delivery; 409 for one still queued, 404 for none', async () => {
      f.email.failNext('permanent');
      const sent = await one({ method: 'POST', path: '/v1/notify', key: f.keys.send, body: { notification: 'welcome', data: { name: 'Fail' }, recipients: [contact('fail@example.org')] } });
      const id = (body(sent).deliveries as { id: string }[])[0]!.id;
      const queued = await one({ method: 'POST', path: `/v1/deliveries/${id}/redeliver`, key: f.keys.admin });
      expect([queued.status, error(queued).code]).toEqual([409, 'conflict']);
      await f.herald.drain();
      expect((await f.herald.deliveries.get(id))?.status).toBe('failed');
      const answers = await call([
        { method: 'POST', path: `/v1/deliveries/${id}/redeliver`, key: f.keys.admin },
        { method: 'POST', path: '/v1/deliveries/d_missing/redeliver', key: f.keys.admin },
        { method: 'POST', path: `/v1/deliveries/${id}/redeliver`, key: f.keys.sendRead },
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 404, 403]);
      expect((body(answers[0]!).delivery as { status: string }).status).toBe('queued');
      await f.herald.drain();
      expect((await f.herald.deliveries.get(id))?.status).toBe('sent');
    });

    it('cancels a waiting delivery (again: still cancelled); 409 for a sent one, 404 for none', async () => {
      const later = await one({
        method: 'POST',
        path: '/v1/notify',
        key: f.keys.send,
        body: { notification: 'welcome', data: { name: 'Cancel' }, recipients: [contact('cancel@example.org')], options: { delay: '1h' } },
      });
      const id = (body(later).deliveries as { id: string }[])[0]!.id;
      const answers = await call([
        { method: 'POST', path: `/v1/deliveries/${id}/cancel`, key: f.keys.admin, body: { reason: 'customer asked' } },
        { method: 'POST', path: `/v1/deliveries/${id}/cancel`, key: f.keys.admin },
        { method: 'POST', path: `/v1/deliveries/${ids[0]}/cancel`, key: f.keys.admin },
        { method: 'POST', path: '/v1/deliveries/d_missing/cancel', key: f.keys.admin },
        { method: 'POST', path: `/v1/deliveries/${id}/cancel`, key: f.keys.admin, body: { reasn: 'typo' } },
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 409, 404, 422]);
      expect(body(answers[0]!).delivery).toMatchObject({ status: 'cancelled', lastError: 'customer asked' });
      expect(body(answers[1]!).delivery).toMatchObject({ status: 'cancelled' });
      expect(error(answers[2]!)).toMatchObject({ code: 'conflict', message: expect.stringContaining('already sent') });
      expect(error(answers[4]!).field).toBe('reasn');
      expect(await f.herald.deliveries.get(id)).toMatchObject({ status: 'cancelled' });
    });
  });

  describe('preferences and suppressions', () => {
    it('GET and PUT /v1/preferences/:key; notify skips an opted-out recipient', async () => {
      const answers = await call([
        { method: 'GET', path: '/v1/preferences/u-pref', key: f.keys.read },
        { method: 'PUT', path: '/v1/preferences/u-pref', key: f.keys.admin, body: { optOut: ['marketing', 'marketing'] } },
        { method: 'GET', path: '/v1/preferences/u-pref', key: f.keys.read },
        { method: 'PUT', path: '/v1/preferences/u-pref', key: f.keys.admin, body: { optOut: 'marketing' } },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { notification: 'welcome', data: { name: 'P' }, recipients: [{ id: 'u-pref', ...contact('pref@example.org') }] } },
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 422, 201]);
      expect(body(answers[0]!)).toEqual({ key: 'u-pref', optOut: [] });
      expect(body(answers[2]!)).toEqual({ key: 'u-pref', optOut: ['marketing'] });
      expect(error(answers[3]!).field).toBe('optOut');
      expect(body(answers[4]!)).toMatchObject({ deliveries: [], skipped: [{ reason: 'opted-out', address: 'pref@example.org' }] });
    });

    it('POST, GET (paged) and DELETE /v1/suppressions; notify skips a suppressed address', async () => {
      const answers = await call([
        { method: 'POST', path: '/v1/suppressions', key: f.keys.admin, body: { protocol: 'email', address: 'Blocked@Example.org', reason: 'asked' } },
        { method: 'POST', path: '/v1/suppressions', key: f.keys.admin, body: { protocol: 'email', address: 'second@example.org' } },
        { method: 'POST', path: '/v1/suppressions', key: f.keys.admin, body: { protocol: 'email', address: 'nope' } },
        { method: 'POST', path: '/v1/suppressions', key: f.keys.admin, body: { protocol: 'fax', address: 'x' } },
        { method: 'GET', path: '/v1/suppressions?protocol=email&limit=1', key: f.keys.read },
        { method: 'POST', path: '/v1/notify', key: f.keys.send, body: { notification: 'welcome', data: { name: 'S' }, recipients: [contact('blocked@example.org')] } },
      ]);
      expect(answers.map((a) => a.status)).toEqual([201, 201, 422, 422, 200, 201]);
      expect(body(answers[0]!)).toMatchObject({ protocol: 'email', address: 'blocked@example.org', reason: 'asked' });
      expect(body(answers[1]!)).toMatchObject({ reason: 'manual' });
      expect([error(answers[2]!).field, error(answers[3]!).field]).toEqual(['address', 'protocol']);
      const first = body(answers[4]!) as { items: { address: string }[]; nextCursor: string };
      expect(first.items).toHaveLength(1);
      const next = await one({ method: 'GET', path: `/v1/suppressions?protocol=email&limit=1&cursor=${first.nextCursor}`, key: f.keys.read });
      const second = body(next) as { items: { address: string }[] };
      expect([...first.items, ...second.items].map((s) => s.address).sort()).toEqual(['blocked@example.org', 'second@example.org']);
      expect(body(answers[5]!)).toMatchObject({ deliveries: [], skipped: [{ reason: 'suppressed' }] });
      const removed = await call([
        { method: 'DELETE', path: '/v1/suppressions?protocol=email&address=BLOCKED%40example.org', key: f.keys.admin },
        { method: 'DELETE', path: '/v1/suppressions?protocol=email&address=blocked%40example.org', key: f.keys.admin },
        { method: 'DELETE', path: '/v1/suppressions?protocol=email', key: f.keys.admin },
      ]);
      expect(removed.map((a) => a.status)).toEqual([200, 404, 422]);
      expect(error(removed[2]!).field).toBe('address');
    });
  });

  describe('last sent, notifications, operations', () => {
    it('GET /v1/last-sent finds the last delivery with a dedupe key to an address (case-insensitive email)', async () => {
      const notify = (orderId: string) => ({
        method: 'POST',
        path: '/v1/notify',
        key: f.keys.send,
        body: { notification: 'receipt', data: { orderId, total: 5 }, recipients: [contact('Buyer@Example.org')] },
      });
      const [first, again] = await call([notify('A1'), notify('A1')]);
      expect(body(again!)).toMatchObject({ deliveries: [], skipped: [{ reason: 'duplicate' }] });
      const id = (body(first!).deliveries as { id: string }[])[0]!.id;
      const answers = await call([
        { method: 'GET', path: '/v1/last-sent?address=buyer%40example.org&dedupeKey=order-A1', key: f.keys.read },
        { method: 'GET', path: '/v1/last-sent?address=buyer%40example.org&dedupeKey=order-A1&notification=welcome', key: f.keys.read },
        { method: 'GET', path: '/v1/last-sent?address=other%40example.org&dedupeKey=order-A1', key: f.keys.read },
        { method: 'GET', path: '/v1/last-sent?address=buyer%40example.org', key: f.keys.read },
      ]);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 422]);
      expect((body(answers[0]!).delivery as { id: string; dedupeKey: string }).id).toBe(id);
      expect(body(answers[1]!).delivery).toBeNull();
      expect(body(answers[2]!).delivery).toBeNull();
      expect(error(answers[3]!).field).toBe('dedupeKey');
    });

    it('GET /v1/notifications lists each notification, its channels and its data as JSON Schema', async () => {
      const r = await one({ method: 'GET', path: '/v1/notifications', key: f.keys.read });
      const items = (body(r) as { items: { id: string; category: string | null; channels: { channel: string; backend: string | null }[]; dataSchema: Body; dedupe: unknown }[] }).items;
      expect(items.map((n) => n.id)).toEqual(['welcome', 'receipt', 'postmaster.email']);
      const w = items[0]!;
      expect(w.category).toBe('marketing');
      expect(w.channels.map((c) => `${c.channel}:${c.backend}`)).toEqual(['email:capture-email', 'sms:capture-sms', 'email:postmark']);
      expect(w.dataSchema).toMatchObject({ type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] });
      expect(items[1]!.dedupe).toEqual({ window: '1h' });
    });

    it('serves /healthz and /v1/openapi.json without a key, and unknown routes as JSON 404s', async () => {
      const [health, openapi] = await call([
        { method: 'GET', path: '/healthz' },
        { method: 'GET', path: '/v1/openapi.json' },
      ]);
      expect([health!.status, body(health!)]).toEqual([200, { ok: true }]);
      expect(body(openapi!)).toMatchObject({ openapi: '3.1.0', paths: expect.objectContaining({ '/v1/notify': expect.any(Object) }) });
      const missing = (await client('node', f, [{ method: 'GET', path: '/v2/nothing' }]))[0]!;
      expect([missing.status, error(missing).code]).toEqual([404, 'not_found']);
    });

    it('mounts the backends\' webhooks under /webhooks/ with their own authentication', async () => {
      const event = { RecordType: 'Delivery', MessageID: 'pm-unknown-1', Recipient: 'ada@example.org', DeliveredAt: '2026-11-23T10:01:02Z', Details: 'ok' };
      const basic = `Basic ${Buffer.from('postmark:hook-secret').toString('base64')}`;
      const answers = await call([
        { method: 'POST', path: '/webhooks/postmark/tracking', body: event },
        { method: 'POST', path: '/webhooks/postmark/tracking', body: event, headers: { authorization: basic } },
        { method: 'POST', path: '/webhooks/nobody/tracking', body: event },
      ]);
      expect(answers.map((a) => a.status)).toEqual([401, 200, 404]);
    });

    it('sends no CORS headers by default', async () => {
      const [preflight, get] = await client('node', f, [
        { method: 'OPTIONS', path: '/v1/deliveries', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } },
        { method: 'GET', path: '/v1/deliveries', key: f.keys.read, headers: { origin: 'https://evil.example' } },
      ]);
      expect(preflight!.headers['access-control-allow-origin']).toBeUndefined();
      expect(get!.headers['access-control-allow-origin']).toBeUndefined();
    });
  });

  describe('a non-Node client', () => {
    it('Python urllib enqueues and reads the delivery back', async () => {
      const [created] = await call(
        [{ method: 'POST', path: '/v1/notify', key: f.keys.sendRead, body: { notification: 'welcome', data: { name: 'Py' }, recipients: [contact('py@example.org')] } }],
        'python',
      );
      expect(created!.status).toBe(201);
      const id = (body(created!).deliveries as { id: string }[])[0]!.id;
      await f.herald.drain();
      const [read, list] = await call(
        [
          { method: 'GET', path: `/v1/deliveries/${id}`, key: f.keys.sendRead },
          { method: 'GET', path: '/v1/deliveries?address=py%40example.org', key: f.keys.sendRead },
        ],
        'python',
      );
      expect((body(read!).delivery as { status: string }).status).toBe('sent');
      expect((body(list!).items as { id: string }[]).map((d) => d.id)).toEqual([id]);
    });
  });

  it('every route of the document was exercised and matched its schema', () => {
    const operations = Object.entries(doc.document.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m} ${path}`));
    const exercised = new Set([...doc.covered].map((c) => c.split(' ').slice(0, 2).join(' ')));
    // /rpc is covered by postmaster-rpc.test.ts.
    expect(operations.filter((o) => !exercised.has(o) && o !== 'post /rpc')).toEqual([]);
  });
});
