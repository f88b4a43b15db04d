import { createHerald, type TrackingEvent } from '@herald/core';
import { captureBackend } from '@herald/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, serve } from '../src/index';
import { type ClientRequest, type ClientResponse, client, conformance, curl, type Fixture, STORES, STORES_UNDER_TEST, startFixture, welcome } from './_harness';

const available = STORES_UNDER_TEST;

type Rpc = { jsonrpc: '2.0'; id: number | string | null; result?: Record<string, unknown>; error?: { code: number; message: string; data?: { field?: string; code?: string } } };

let nextId = 1;
/** A postmaster client's request, exactly as levenlabs/golib's JSON-RPC client sends it. */
const rpc = (method: string, params: unknown, key?: string | null, id: number | null = nextId++): ClientRequest => ({
  method: 'POST',
  path: '/rpc',
  key: key ?? null,
  body: id === null ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', method, params, id },
});

function trackingEvent(eventType: TrackingEvent['eventType'], messageId: string, eventId: string): TrackingEvent {
  return {
    eventType,
    eventId,
    messageId,
    timestamp: new Date(),
    recipient: null,
    metadata: {},
    tags: [],
    rejectReason: null,
    description: null,
    mtaResponse: null,
    userAgent: null,
    clickUrl: null,
    raw: {},
  };
}

describe.each(available)("postmaster's JSON-RPC on $name", (kind) => {
  let f: Fixture;
  const doc = conformance();
  const calls = async (requests: ClientRequest[]): Promise<ClientResponse[]> => {
    // A non-Node client: Python's urllib, the way a postmaster client in any language calls it.
    const answers = await client('python', f, requests);
    for (const a of answers) doc.check(a);
    return answers;
  };
  const call = async (request: ClientRequest) => (await calls([request]))[0]!;
  const answer = (r: ClientResponse) => r.json as Rpc;
  const mail = { to: 'ada@example.org', from: 'noreply@shop.example.org', subject: 'Hello', html: '<p>Hi <b>Ada</b></p>', text: 'Hi Ada' };

  beforeAll(async () => {
    f = await startFixture(kind);
  });
  afterAll(async () => {
    await f?.close();
  });

  it('Postmaster.Enqueue → { success: true } and the email goes out with every field', async () => {
    const r = await call(
      rpc(
        'Postmaster.Enqueue',
        {
          ...mail,
          toName: 'Ada <Lovelace>',
          fromName: 'The "Shop"',
          replyTo: 'help@shop.example.org',
          uniqueArgs: { campaign: 'spring' },
          flags: 4,
          uniqueID: 'user_15_favorited_user_12',
        },
        f.keys.send,
      ),
    );
    expect([r.status, answer(r)]).toEqual([200, { jsonrpc: '2.0', id: expect.any(Number), result: { success: true } }]);
    await f.herald.drain();
    const m = f.email.messages.at(-1)!;
    expect(m.to).toBe('ada@example.org');
    expect(m.recipient.name).toBe('Ada Lovelace');
    expect(m.content).toMatchObject({ subject: 'Hello', html: '<p>Hi <b>Ada</b></p>', text: 'Hi Ada' });
    expect(m.options).toMatchObject({ from: '"The \\"Shop\\"" <noreply@shop.example.org>', replyTo: ['help@shop.example.org'], metadata: { campaign: 'spring', pmFlags: '4' } });
    const [d] = await f.herald.deliveries.list({ dedupeKey: 'user_15_favorited_user_12' });
    expect(d).toMatchObject({ notification: 'postmaster.email', status: 'sent' });
  });

  it('html-only sends no text part, text-only no html part, as postmaster did; Go zero values mean absent', async () => {
    const answers = await calls([
      rpc('Postmaster.Enqueue', { ...mail, to: 'html-only@example.org', text: '' }, f.keys.send),
      rpc('Postmaster.Enqueue', { ...mail, to: 'text-only@example.org', html: '', toName: '', fromName: '', replyTo: '', uniqueID: '', uniqueArgs: null, flags: 0 }, f.keys.send),
    ]);
    expect(answers.map((a) => answer(a).result)).toEqual([{ success: true }, { success: true }]);
    await f.herald.drain();
    const byTo = (to: string) => f.email.messages.find((m) => m.to === to)!;
    expect(byTo('html-only@example.org').content.text).toBe('');
    expect(byTo('text-only@example.org').content).toMatchObject({ text: 'Hi Ada', html: '' });
    expect(byTo('text-only@example.org').options.from).toBe('noreply@shop.example.org');
  });

  it("refuses what postmaster refuses, with postmaster's messages, and enqueues nothing", async () => {
    const before = (await f.herald.deliveries.list({ notification: 'postmaster.email', limit: 1000 })).length;
    const answers = await calls([
      rpc('Postmaster.Enqueue', { ...mail, to: 'test@test' }, f.keys.send),
      rpc('Postmaster.Enqueue', { ...mail, html: '', text: '' }, f.keys.send),
      rpc('Postmaster.Enqueue', { to: 'a@example.org', from: 'b@example.org', text: 'x' }, f.keys.send),
      rpc('Postmaster.Enqueue', { ...mail, from: 'not an address' }, f.keys.send),
      rpc('Postmaster.Enqueue', { ...mail, subject: 's'.repeat(999) }, f.keys.send),
      rpc('Postmaster.Enqueue', { ...mail, flags: -1 }, f.keys.send),
      rpc('Postmaster.Enqueue', null, f.keys.send),
    ]);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.map((a) => [answer(a).error?.code, answer(a).error?.data?.field ?? null])).toEqual([
      [-32000, 'to'],
      [-32000, null],
      [-32602, 'subject'],
      [-32602, 'from'],
      [-32602, 'subject'],
      [-32602, 'flags'],
      [-32602, 'to'],
    ]);
    expect(answer(answers[0]!).error?.message).toBe('to address cannot end in @test.com');
    expect(answer(answers[1]!).error?.message).toBe('you must send either html or text');
    expect((await f.herald.deliveries.list({ notification: 'postmaster.email', limit: 1000 })).length).toBe(before);
  });

  it('does not deduplicate by uniqueID (postmaster did not); GetLastEmail returns the newest', async () => {
    const params = { ...mail, to: 'Twice@Example.org', uniqueID: 'twice-1', flags: 8 };
    const answers = await calls([rpc('Postmaster.Enqueue', params, f.keys.send), rpc('Postmaster.Enqueue', params, f.keys.send)]);
    expect(answers.map((a) => answer(a).result)).toEqual([{ success: true }, { success: true }]);
    const rows = await f.herald.deliveries.list({ dedupeKey: 'twice-1' });
    expect(rows.map((d) => d.status)).toEqual(['queued', 'queued']);
    await f.herald.drain();
    const newest = (await f.herald.deliveries.list({ dedupeKey: 'twice-1' }))[0]!;
    await f.herald.store.recordEvent('capture-email', trackingEvent('delivered', newest.providerMessageId!, `ev-d-${newest.id}`), { now: new Date(), status: 'delivered' });
    await f.herald.store.recordEvent('capture-email', trackingEvent('opened', newest.providerMessageId!, `ev-o-${newest.id}`), { now: new Date(), status: 'opened' });
    const [found, none, missing] = await calls([
      rpc('Postmaster.GetLastEmail', { to: 'twice@example.org', uniqueID: 'twice-1' }, f.keys.read),
      rpc('Postmaster.GetLastEmail', { to: 'twice@example.org', uniqueID: 'never-sent' }, f.keys.read),
      rpc('Postmaster.GetLastEmail', { to: 'twice@example.org' }, f.keys.read),
    ]);
    const stat = answer(found!).result?.stat as Record<string, unknown>;
    expect(stat).toEqual({
      recipient: 'Twice@Example.org',
      emailFlags: 8,
      stateFlags: 2 | 32,
      uniqueID: 'twice-1',
      tsCreated: newest.createdAt.getTime() / 1000,
      tsUpdated: expect.any(Number),
      error: '',
    });
    expect(answer(none!).result).toEqual({ stat: null });
    expect(answer(missing!).error).toMatchObject({ code: -32602, data: { field: 'uniqueID' } });
  });

  it('UpdatePrefs drops emails of opted-out flags silently (success, no delivery); GetPrefs and MovePrefs', async () => {
    const answers = await calls([
      rpc('Postmaster.UpdatePrefs', { email: 'prefs@example.org', flags: 0 }, f.keys.admin),
      rpc('Postmaster.UpdatePrefs', { email: 'Prefs@Example.org', flags: 2 | 16 }, f.keys.admin),
      rpc('Postmaster.GetPrefs', { email: 'prefs@example.org' }, f.keys.read),
      rpc('Postmaster.GetPrefs', { email: 'nobody@example.org' }, f.keys.read),
      rpc('Postmaster.Enqueue', { ...mail, to: 'prefs@example.org', flags: 2 | 4, uniqueID: 'p-1' }, f.keys.send),
      rpc('Postmaster.Enqueue', { ...mail, to: 'prefs@example.org', flags: 4, uniqueID: 'p-2' }, f.keys.send),
      rpc('Postmaster.MovePrefs', { oldEmail: 'prefs@example.org', newEmail: 'moved@example.org' }, f.keys.admin),
      rpc('Postmaster.GetPrefs', { email: 'moved@example.org' }, f.keys.read),
      rpc('Postmaster.MovePrefs', { oldEmail: 'missing@example.org', newEmail: 'moved@example.org' }, f.keys.admin),
      rpc('Postmaster.GetPrefs', { email: 'moved@example.org' }, f.keys.read),
    ]);
    expect(answers.map((a) => answer(a).result ?? answer(a).error?.code)).toEqual([
      -32602,
      { success: true },
      { flags: 18 },
      { flags: 1 },
      { success: true },
      { success: true },
      { success: true },
      { flags: 18 },
      { success: true },
      { flags: 18 },
    ]);
    expect(await f.herald.deliveries.list({ dedupeKey: 'p-1' })).toEqual([]);
    expect(await f.herald.deliveries.list({ dedupeKey: 'p-2' })).toHaveLength(1);
    expect(await f.herald.preferences.get('prefs@example.org')).toEqual(['flag-2', 'flag-16']);
  });

  it('UpdatePrefs replaces the flag categories and keeps categories set through the REST API', async () => {
    await f.herald.preferences.set('mixed@example.org', ['marketing', 'flag-2']);
    const r = await call(rpc('Postmaster.UpdatePrefs', { email: 'mixed@example.org', flags: 1 }, f.keys.admin));
    expect(answer(r).result).toEqual({ success: true });
    expect(await f.herald.preferences.get('mixed@example.org')).toEqual(['marketing']);
  });

  it('keys: 401 without one, 403 without the scope (per call in a batch), HTTP errors carry a JSON-RPC body', async () => {
    const answers = await calls([
      rpc('Postmaster.Enqueue', mail, null),
      rpc('Postmaster.Enqueue', mail, f.keys.revoked),
      rpc('Postmaster.Enqueue', mail, f.keys.read),
      rpc('Postmaster.UpdatePrefs', { email: 'x@example.org', flags: 2 }, f.keys.sendRead),
    ]);
    expect(answers.map((a) => [a.status, answer(a).error?.code])).toEqual([
      [401, -32001],
      [401, -32001],
      [403, -32003],
      [403, -32003],
    ]);
    const batch = await call({
      method: 'POST',
      path: '/rpc',
      key: f.keys.read,
      body: [
        { jsonrpc: '2.0', method: 'Postmaster.GetPrefs', params: { email: 'x@example.org' }, id: 'a' },
        { jsonrpc: '2.0', method: 'Postmaster.Enqueue', params: mail, id: 'b' },
      ],
    });
    expect(batch.status).toBe(200);
    expect(batch.json).toEqual([
      { jsonrpc: '2.0', id: 'a', result: { flags: 1 } },
      { jsonrpc: '2.0', id: 'b', error: { code: -32003, message: expect.stringContaining('`send` scope') } },
    ]);
  });

  it('speaks JSON-RPC 2.0: parse error, invalid request, unknown method, notifications, content type', async () => {
    const answers = await calls([
      { method: 'POST', path: '/rpc', key: f.keys.admin, body: '{"jsonrpc":', headers: { 'content-type': 'application/json' } },
      { method: 'POST', path: '/rpc', key: f.keys.admin, body: { jsonrpc: '1.0', method: 'Postmaster.Enqueue', id: 1 } },
      { method: 'POST', path: '/rpc', key: f.keys.admin, body: [] },
      rpc('Postmaster.Dequeue', {}, f.keys.admin),
      rpc('Postmaster.GetPrefs', { email: 'x@example.org' }, f.keys.admin, null),
      { method: 'POST', path: '/rpc', key: f.keys.admin, body: JSON.stringify({ jsonrpc: '2.0', method: 'Postmaster.GetPrefs', params: {}, id: 1 }), headers: { 'content-type': 'text/plain' } },
    ]);
    expect(answers.map((a) => [a.status, a.status === 204 ? null : answer(a).error?.code])).toEqual([
      [200, -32700],
      [200, -32600],
      [200, -32600],
      [200, -32601],
      [204, null],
      [415, -32000],
    ]);
  });

  // curl reads the early answer while it uploads; urllib writes the whole body first and may meet a closed socket.
  it('answers 413 with a JSON-RPC body past the body limit', async () => {
    const request = rpc('Postmaster.Enqueue', { ...mail, html: 'x'.repeat(1_200_000) }, f.keys.send);
    const r = await curl(`${f.url}/rpc`, ['-X', 'POST', '-H', 'content-type: application/json', '-H', `authorization: Bearer ${f.keys.send}`, '--data-binary', '@-'], JSON.stringify(request.body));
    expect([r.status, (JSON.parse(r.body) as Rpc).error?.data?.code]).toEqual([413, 'payload_too_large']);
  });
});

describe("postmaster's JSON-RPC, configured", () => {
  it("keyless calls with rpc: { auth: 'none' }; a flag table maps bits onto Herald's categories", async () => {
    const f = await startFixture(available[0]!, { rpc: { auth: 'none', flags: { 2: 'marketing' } } });
    try {
      const answers = await client('python', f, [
        rpc('Postmaster.UpdatePrefs', { email: 'grace@example.org', flags: 2 }),
        rpc('Postmaster.GetPrefs', { email: 'grace@example.org' }),
        rpc('Postmaster.GetPrefs', { email: 'grace@example.org' }, f.keys.forged),
      ]);
      expect(answers.map((a) => [a.status, (a.json as Rpc).result ?? (a.json as Rpc).error?.code])).toEqual([
        [200, { success: true }],
        [200, { flags: 2 }],
        [401, -32001],
      ]);
      // The same opt-out silences Herald's own notifications of that category.
      const result = await f.herald.notify(welcome, { name: 'Grace' }, [{ contacts: [{ protocol: 'email', address: 'Grace@example.org' }] }]);
      expect(result.skipped).toMatchObject([{ reason: 'opted-out' }]);
    } finally {
      await f.close();
    }
  });

  it('answers 501 naming the fix when postmasterNotification is not registered', async () => {
    const f = await startFixture(available[0]!, {}, { notifications: [welcome] });
    try {
      const [r] = await client('node', f, [rpc('Postmaster.Enqueue', {}, f.keys.admin)]);
      expect(r!.status).toBe(501);
      expect((r!.json as Rpc).error?.message).toContain('add postmasterNotification');
    } finally {
      await f.close();
    }
  });

  it("refuses rpc.enabled: true without the notification, and serves no /rpc with enabled: false", async () => {
    const { store, cleanup } = await STORES.sqlite.make();
    const herald = createHerald({ store, backends: [captureBackend({ protocol: 'email' })], notifications: [], logger: false });
    expect(() => createServer(herald, { rpc: { enabled: true } })).toThrow(/postmasterNotification/);
    const server = await serve(createServer(herald, { rpc: { enabled: false }, logger: false }), { port: 0 });
    try {
      const [r] = await client('node', server, [rpc('Postmaster.GetPrefs', { email: 'a@example.org' })]);
      expect(r!.status).toBe(404);
    } finally {
      await server.close();
      await herald.close();
      await cleanup();
    }
  });
});
