import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, webhookKey } from '../src';

// The example of the Standard Webhooks specification.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const BODY = '{"test": 2432232314}';
const AT = new Date(TS * 1000);

describe('Standard Webhooks signatures', () => {
  it('matches the specification example', () => {
    expect(signWebhook({ secret: SECRET, id: ID, timestamp: TS, body: BODY })).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(TS),
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('accepts the secret with or without the whsec_ prefix, or as bytes', () => {
    const bare = SECRET.slice(6);
    const sig = signWebhook({ secret: SECRET, id: ID, timestamp: TS, body: BODY })['webhook-signature'];
    expect(signWebhook({ secret: bare, id: ID, timestamp: TS, body: BODY })['webhook-signature']).toBe(sig);
    expect(signWebhook({ secret: webhookKey(SECRET), id: ID, timestamp: TS, body: new TextEncoder().encode(BODY) })['webhook-signature']).toBe(sig);
  });

  it('verifies, with Headers or a plain object, and any of several signatures / secrets', () => {
    const headers = signWebhook({ secret: SECRET, id: ID, timestamp: TS, body: BODY });
    expect(verifyWebhook({ secret: SECRET, headers, body: BODY, now: AT })).toEqual({ ok: true, id: ID, timestamp: AT });
    expect(verifyWebhook({ secret: SECRET, headers: new Headers({ ...headers }), body: BODY, now: AT }).ok).toBe(true);
    const rotated = { ...headers, 'webhook-signature': `v1,bm90LXRoaXMtb25l ${headers['webhook-signature']}` };
    expect(verifyWebhook({ secret: SECRET, headers: rotated, body: BODY, now: AT }).ok).toBe(true);
    expect(verifyWebhook({ secret: ['whsec_b2xkLXNlY3JldA==', SECRET], headers, body: BODY, now: AT }).ok).toBe(true);
  });

  it('refuses tampered bodies, wrong secrets, stale or future timestamps and missing headers', () => {
    const headers = signWebhook({ secret: SECRET, id: ID, timestamp: TS, body: BODY });
    expect(verifyWebhook({ secret: SECRET, headers, body: '{"test": 1}', now: AT })).toMatchObject({ ok: false, status: 403 });
    expect(verifyWebhook({ secret: 'whsec_b3RoZXI=', headers, body: BODY, now: AT })).toMatchObject({ ok: false, status: 403 });
    expect(verifyWebhook({ secret: SECRET, headers, body: BODY, now: new Date((TS + 301) * 1000) })).toMatchObject({ ok: false, status: 403 });
    expect(verifyWebhook({ secret: SECRET, headers, body: BODY, now: new Date((TS - 301) * 1000) })).toMatchObject({ ok: false, status: 403 });
    expect(verifyWebhook({ secret: SECRET, headers, body: BODY, now: new Date((TS + 600) * 1000), toleranceSeconds: 900 }).ok).toBe(true);
    expect(verifyWebhook({ secret: SECRET, headers: { ...headers, 'webhook-signature': undefined }, body: BODY, now: AT })).toMatchObject({ ok: false, status: 401 });
    expect(verifyWebhook({ secret: SECRET, headers: { ...headers, 'webhook-timestamp': 'soon' }, body: BODY, now: AT })).toMatchObject({ ok: false, status: 400 });
    // A v2 (asymmetric) signature is not an HMAC match.
    expect(verifyWebhook({ secret: SECRET, headers: { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v1a,') }, body: BODY, now: AT }).ok).toBe(false);
  });
});
