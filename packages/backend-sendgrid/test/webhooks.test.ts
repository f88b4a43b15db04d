import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, type TrackingEvent, ValidationError } from '@herald/core';
import { EventWebhook } from '@sendgrid/eventwebhook';
import { describe, expect, it } from 'vitest';
import { sendgrid } from '../src';
import { fixture } from './_fake-sendgrid';
import { basic, inboundBody, nowSeconds, signBody, signedEvents, signingKey, webhookRequest } from './_signing';

const KEY = 'SG.herald-test-key.0123456789abcdefABCDEF';
const HOOK = { username: 'sendgrid-hooks', password: 'hook-pass-9876543210' };
const signer = signingKey();
const batch = fixture<Record<string, unknown>[]>('events/batch.json');

describe('sendgrid: event webhook signature', () => {
  const backend = sendgrid({ apiKey: KEY, webhookPublicKey: signer.publicKey });
  const tracking = backend.webhooks!.tracking!;

  it('test requests are signed the way SendGrid signs: the official helper accepts them', () => {
    const request = signedEvents(signer.privateKey, batch);
    const helper = new EventWebhook();
    const key = helper.convertPublicKeyToECDSA(signer.publicKey);
    const signature = request.headers.get('x-twilio-email-event-webhook-signature')!;
    const timestamp = request.headers.get('x-twilio-email-event-webhook-timestamp')!;
    expect(helper.verifySignature(key, request.text, signature, timestamp)).toBe(true);
    expect(helper.verifySignature(key, `${request.text} `, signature, timestamp)).toBe(false);
  });

  it('a genuine, fresh signature passes', async () => {
    expect(await tracking.verify(signedEvents(signer.privateKey, batch))).toEqual({ ok: true });
    // SendGrid's settings page shows the bare base64; PEM is accepted too.
    const pem = `-----BEGIN PUBLIC KEY-----\n${signer.publicKey.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----\n`;
    expect(await sendgrid({ apiKey: KEY, webhookPublicKey: pem }).webhooks!.tracking!.verify(signedEvents(signer.privateKey, batch))).toEqual({ ok: true });
  });

  it('missing headers → 401; a tampered body, another key, a malformed signature → 403', async () => {
    const genuine = signedEvents(signer.privateKey, batch);
    expect(await tracking.verify(webhookRequest(genuine.body, { 'content-type': 'application/json' }))).toMatchObject({ ok: false, status: 401 });
    const onlySignature = webhookRequest(genuine.body, { 'x-twilio-email-event-webhook-signature': genuine.headers.get('x-twilio-email-event-webhook-signature')! });
    expect(await tracking.verify(onlySignature)).toMatchObject({ ok: false, status: 401 });

    const tampered = webhookRequest(JSON.stringify([{ ...batch[0], event: 'delivered' }]), Object.fromEntries(genuine.headers));
    expect(await tracking.verify(tampered)).toMatchObject({ ok: false, status: 403, reason: 'SendGrid webhook signature does not verify' });
    const other = signingKey();
    expect(await tracking.verify(signedEvents(other.privateKey, batch))).toMatchObject({ ok: false, status: 403 });
    for (const signature of ['not base64 at all!', 'AAAA', '']) {
      const headers = { ...Object.fromEntries(genuine.headers), 'x-twilio-email-event-webhook-signature': signature };
      expect(await tracking.verify(webhookRequest(genuine.body, headers)), signature).toMatchObject({ ok: false, status: signature ? 403 : 401 });
    }
  });

  it('a stale or future timestamp → 403 even with a genuine signature (replay window)', async () => {
    const old = String(Math.floor(Date.now() / 1000) - 601);
    expect(await tracking.verify(signedEvents(signer.privateKey, batch, { timestamp: old }))).toMatchObject({ ok: false, status: 403, reason: expect.stringMatching(/stale or replayed/) });
    const ahead = String(Math.floor(Date.now() / 1000) + 3600);
    expect(await tracking.verify(signedEvents(signer.privateKey, batch, { timestamp: ahead }))).toMatchObject({ ok: false, status: 403 });
    expect(await tracking.verify(signedEvents(signer.privateKey, batch, { timestamp: 'yesterday' }))).toMatchObject({ ok: false, status: 403 });
    const lenient = sendgrid({ apiKey: KEY, webhookPublicKey: signer.publicKey, webhookToleranceSeconds: 3600 });
    expect(await lenient.webhooks!.tracking!.verify(signedEvents(signer.privateKey, batch, { timestamp: old }))).toEqual({ ok: true });
  });

  it('basic auth alone, or together with the signature (both must pass)', async () => {
    const basicOnly = sendgrid({ apiKey: KEY, webhookAuth: [{ username: 'old', password: 'old-pass-0000' }, HOOK] }).webhooks!.tracking!;
    const body = JSON.stringify(batch);
    expect(await basicOnly.verify(webhookRequest(body, { authorization: basic(HOOK.username, HOOK.password) }))).toEqual({ ok: true });
    expect(await basicOnly.verify(webhookRequest(body, { authorization: basic('old', 'old-pass-0000') }))).toEqual({ ok: true });
    expect(await basicOnly.verify(webhookRequest(body, {}))).toMatchObject({ ok: false, status: 401 });
    expect(await basicOnly.verify(webhookRequest(body, { authorization: basic(HOOK.username, 'forged') }))).toMatchObject({ ok: false, status: 403 });

    const both = sendgrid({ apiKey: KEY, webhookAuth: HOOK, webhookPublicKey: signer.publicKey }).webhooks!.tracking!;
    const auth = { authorization: basic(HOOK.username, HOOK.password) };
    expect(await both.verify(signedEvents(signer.privateKey, batch, { headers: auth }))).toEqual({ ok: true });
    expect(await both.verify(signedEvents(signer.privateKey, batch))).toMatchObject({ ok: false, status: 401 });
    expect(await both.verify(webhookRequest(body, auth))).toMatchObject({ ok: false, status: 401 });
  });

  it('neither a key nor credentials configured → every request 401', async () => {
    const open = sendgrid({ apiKey: KEY }).webhooks!;
    expect(await open.tracking!.verify(signedEvents(signer.privateKey, batch))).toMatchObject({ ok: false, status: 401, reason: expect.stringMatching(/neither webhookPublicKey nor webhookAuth/) });
    expect(await open.inbound!.verify(webhookRequest('', {}, '/herald/sendgrid/inbound'))).toMatchObject({ ok: false, status: 401 });
  });

  it('a verification key that is not SendGrid’s → ConfigError at start, naming the option', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    for (const [value, why] of [[rsa, /expected an ECDSA P-256 key, got rsa/], [p384, /got ec secp384r1/], ['MFkwEwYHKoZIzj0CAQYI', /webhookPublicKey is not SendGrid/], ['not base64!', /not base64/]] as const) {
      let error: unknown;
      try {
        sendgrid({ apiKey: KEY, webhookPublicKey: value });
      } catch (e) {
        error = e;
      }
      expect(error, value).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe('webhookPublicKey');
      expect(String(error)).toMatch(why);
    }
    expect(() => sendgrid({ apiKey: KEY, inboundPublicKey: rsa })).toThrow(/inboundPublicKey is not SendGrid/);
  });
});

describe('sendgrid: event mapping', () => {
  const tracking = sendgrid({ apiKey: KEY, webhookPublicKey: signer.publicKey }).webhooks!.tracking!;
  const parse = async (events: unknown): Promise<TrackingEvent[]> => tracking.parse(signedEvents(signer.privateKey, events));

  it('a batch becomes one normalized event per SendGrid event', async () => {
    const events = await parse(batch);
    expect(events).toHaveLength(batch.length);
    expect(events.map((e) => [e.raw && (e.raw as { event: string }).event, e.eventType, e.rejectReason])).toEqual([
      ['processed', 'queued', null],
      ['deferred', 'deferred', null],
      ['delivered', 'delivered', null],
      ['open', 'opened', null],
      ['click', 'clicked', null],
      ['bounce', 'bounced', 'bounced'],
      ['bounce', 'bounced', 'blocked'],
      ['dropped', 'rejected', 'bounced'],
      ['spamreport', 'complained', 'spam'],
      ['unsubscribe', 'unsubscribed', 'unsubscribed'],
      ['group_unsubscribe', 'unsubscribed', 'unsubscribed'],
      ['group_resubscribe', 'subscribed', null],
    ]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  });

  it('delivered, field by field: delivery id from custom_args, message id from sg_message_id, metadata = custom args', async () => {
    const [delivered] = await parse([batch[2]]);
    expect(delivered).toEqual({
      eventType: 'delivered',
      eventId: 'ZGVsaXZlcmVkLTAtMzI3ODk2MDQtVzdy',
      messageId: 'W7rg8FgYRT-cwKBlE5tdXw',
      deliveryId: 'd-example',
      timestamp: new Date(1795000010 * 1000),
      recipient: 'ada@example.org',
      metadata: { herald_delivery_id: 'd-example', plan: 'pro' },
      tags: ['welcome', 'onboarding'],
      rejectReason: null,
      description: null,
      mtaResponse: '250 OK',
      userAgent: null,
      clickUrl: null,
      raw: batch[2],
    });
  });

  it('the other fields each type carries', async () => {
    const byId = new Map((await parse(batch)).map((e) => [e.eventId, e]));
    const get = (i: number) => byId.get(String(batch[i]!.sg_event_id))!;
    expect(get(1)).toMatchObject({ eventType: 'deferred', mtaResponse: '400 try again later' });
    expect(get(3)).toMatchObject({ eventType: 'opened', userAgent: expect.stringContaining('MSIE 6.1'), description: null });
    expect(get(4)).toMatchObject({ eventType: 'clicked', clickUrl: 'https://shop.example.org/orders/A1', userAgent: expect.stringContaining('Chrome/120') });
    expect(get(5)).toMatchObject({ recipient: 'bob@example.org', deliveryId: 'd-bounce', tags: ['welcome'], description: '550 5.1.1 The email account that you tried to reach does not exist.' });
    expect(get(6)).toMatchObject({ recipient: 'carol@example.org', description: expect.stringContaining('blocklist') });
    expect(get(7)).toMatchObject({ deliveryId: 'd-dropped', description: 'Bounced Address', messageId: 'Lp3oIu7yT5rE2wQ1aZ9xSc' });
    expect(get(10)).toMatchObject({ description: 'unsubscribe group 10', clickUrl: 'https://sendgrid.com/unsubscribe?param=1' });
    expect(get(11)).toMatchObject({ description: 'unsubscribe group 10' });
  });

  it('dropped reasons and machine opens', async () => {
    const reasons: [string, string][] = [
      ['Invalid', 'invalid'],
      ['Unsubscribed Address', 'unsubscribed'],
      ['Spam Reporting Address', 'spam'],
      ['Invalid SMTPAPI header', 'invalid'],
      ['Something New', 'other'],
    ];
    for (const [reason, expected] of reasons) {
      const [e] = await parse([{ ...batch[7], reason }]);
      expect(e, reason).toMatchObject({ eventType: 'rejected', rejectReason: expected, description: reason });
    }
    const [machine] = await parse([{ ...batch[3], sg_machine_open: true }]);
    expect(machine!.description).toMatch(/machine open/);
    const [blocked] = await parse([{ ...batch[6], event: 'blocked', type: undefined }]);
    expect(blocked).toMatchObject({ eventType: 'bounced', rejectReason: 'blocked' });
  });

  it('older dotted message ids, unknown events, entries that are not objects', async () => {
    const events = await parse([...fixture<unknown[]>('events/legacy-ids.json'), 42, null, 'x']);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ eventType: 'queued', messageId: '14c5d75ce93.dfd.64b469', deliveryId: null, tags: ['cat facts'], recipient: 'example@test.com' });
    expect(events[1]).toMatchObject({ eventType: 'unknown', messageId: null, eventId: 'dGVsZXBvcnQtMC0xMjM0NTY3ODkw' });
    expect(await parse([])).toEqual([]);
  });

  it('malformed JSON or a non-array → ValidationError; an Inbound Parse post → ConfigError', async () => {
    await expect(async () => tracking.parse(webhookRequest('[{"event":', { 'content-type': 'application/json' }))).rejects.toThrow(/not valid JSON/);
    await expect(async () => tracking.parse(webhookRequest('{"event":"open"}', { 'content-type': 'application/json' }))).rejects.toThrow(ValidationError);
    const { body, contentType } = await inboundBody(fixture('inbound/raw.json'));
    await expect(async () => tracking.parse(webhookRequest(body, { 'content-type': contentType }))).rejects.toThrow(ConfigError);
  });
});

describe('sendgrid: Inbound Parse', () => {
  const backend = sendgrid({ apiKey: KEY, inboundAuth: HOOK, webhookAuth: { username: 'events', password: 'events-pass-000000' } });
  const inbound = backend.webhooks!.inbound!;
  const post = async (name: string) => {
    const { body, contentType } = await inboundBody(fixture(name));
    return webhookRequest(body, { 'content-type': contentType, authorization: basic(HOOK.username, HOOK.password) }, '/herald/sendgrid/inbound');
  };

  it('basic auth guards the inbound URL', async () => {
    expect(await inbound.verify(await post('inbound/parsed.json'))).toEqual({ ok: true });
    const unsigned = await post('inbound/parsed.json');
    unsigned.headers.delete('authorization');
    expect(await inbound.verify(unsigned)).toMatchObject({ ok: false, status: 401 });
    // The Event Webhook's credentials are not the Inbound Parse ones.
    unsigned.headers.set('authorization', basic('events', 'events-pass-000000'));
    expect(await inbound.verify(unsigned)).toMatchObject({ ok: false, status: 403 });
  });

  it('parsed mode: headers, text, html, attachments (inline too), envelope, spam score', async () => {
    const [event] = await inbound.parse(await post('inbound/parsed.json'));
    expect(event).toMatchObject({ eventType: 'inbound', eventId: '', timestamp: new Date('2026-11-25T10:00:00Z') });
    const m = event!.message;
    expect(m).toMatchObject({
      from: 'Ada Loveláce <ada@example.org>',
      to: ['Support <support@inbound.example.net>'],
      cc: ['Lovelace, Byron <byron@example.org>'],
      subject: 'Re: Your order A1',
      date: new Date('2026-11-25T10:00:00Z'),
      // FormData sends line breaks in fields as CRLF, as browsers do.
      text: expect.stringMatching(/^Where is my order\?\r?\n$/),
      html: expect.stringContaining('cid:ii_k3f1a2b30'),
      envelopeSender: 'ada@example.org',
      envelopeRecipient: 'support@inbound.example.net',
      spamScore: 0.011,
    });
    expect(m.headers['message-id']).toBe('<CAFD6BJPmJ1XvNVQ1WqUX4o1P1h9Jn+8bY0j7p3xQ@mail.example.org>');
    expect(m.headers.received).toMatch(/^by mx0047p1mdw1\.sendgrid\.net[\s\S]*\nfrom mail-io0-f169/);
    const files = fixture<{ files: { content: string }[] }>('inbound/parsed.json').files;
    expect(m.attachments).toEqual([
      { filename: 'invoice.txt', contentType: 'text/plain', content: files[0]!.content, contentId: null },
      { filename: 'dot.png', contentType: 'image/png', content: files[1]!.content, contentId: 'ii_k3f1a2b30' },
    ]);
    expect(event!.raw).toMatchObject({ SPF: 'pass', files: { attachment1: { filename: 'invoice.txt', size: 22 } } });
  });

  it('raw mode ("Send raw"): the MIME message in `email`, parsed with mailparser', async () => {
    const [event] = await inbound.parse(await post('inbound/raw.json'));
    expect(event!.message).toMatchObject({
      from: 'Ada Lovelace <ada@example.org>',
      to: ['Support <support@inbound.example.net>'],
      subject: 'Re: Your order A1 (raw)',
      text: 'Where is my order? — Ada',
      html: null,
      envelopeRecipient: 'support@inbound.example.net',
      attachments: [{ filename: 'invoice.txt', contentType: 'text/plain', content: Buffer.from('Invoice A1: 42.00 EUR\n').toString('base64'), contentId: null }],
    });
  });

  it('the same post twice has the same raw payload (core derives one event id from it)', async () => {
    const [a] = await inbound.parse(await post('inbound/parsed.json'));
    const [b] = await inbound.parse(await post('inbound/parsed.json'));
    expect(JSON.stringify(a!.raw)).toBe(JSON.stringify(b!.raw));
  });

  it('a signed Inbound Parse post (security policy) is verified over the raw bytes, binary attachments included', async () => {
    const policy = signingKey();
    const signed = sendgrid({ apiKey: KEY, inboundPublicKey: policy.publicKey }).webhooks!.inbound!;
    const { body, contentType } = await inboundBody(fixture('inbound/parsed.json'));
    const timestamp = nowSeconds();
    const headers = {
      'content-type': contentType,
      'x-twilio-email-event-webhook-signature': signBody(policy.privateKey, body, timestamp),
      'x-twilio-email-event-webhook-timestamp': timestamp,
    };
    expect(await signed.verify(webhookRequest(body, headers, '/herald/sendgrid/inbound'))).toEqual({ ok: true });
    const flipped = Uint8Array.from(body);
    const at = flipped.length - 60;
    flipped[at] = flipped[at]! ^ 1;
    expect(await signed.verify(webhookRequest(flipped, headers, '/herald/sendgrid/inbound'))).toMatchObject({ ok: false, status: 403 });
    expect(await signed.verify(webhookRequest(body, { 'content-type': contentType }, '/herald/sendgrid/inbound'))).toMatchObject({ ok: false, status: 401 });
  });

  it('an Event Webhook post → ConfigError; not multipart, or neither raw nor parsed fields → ValidationError', async () => {
    await expect(async () => inbound.parse(webhookRequest(JSON.stringify(batch), { 'content-type': 'application/json' }))).rejects.toThrow(ConfigError);
    await expect(async () => inbound.parse(webhookRequest('a=b', { 'content-type': 'application/x-www-form-urlencoded' }))).rejects.toThrow(/must be multipart\/form-data/);
    await expect(async () => inbound.parse(webhookRequest('garbage', { 'content-type': 'multipart/form-data; boundary=zz' }))).rejects.toThrow(/not valid multipart/);
    const { body, contentType } = await inboundBody({ fields: { subject: 'x' }, files: [] });
    await expect(async () => inbound.parse(webhookRequest(body, { 'content-type': contentType }))).rejects.toThrow(/neither `email`/);
  });
});
