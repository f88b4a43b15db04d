import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { ConfigError, type WebhookRequest, type WebhookVerification } from '@herald/core';
import { EventWebhook, EventWebhookHeader } from '@sendgrid/eventwebhook';

/** The verification key SendGrid shows, ready for the official helper (event webhook) and node:crypto (Inbound Parse). */
export interface SendgridKey {
  /** What `EventWebhook.convertPublicKeyToECDSA` returns. */
  ecdsa: ReturnType<EventWebhook['convertPublicKeyToECDSA']>;
  key: KeyObject;
}

const SIGNATURE = EventWebhookHeader.SIGNATURE();
const TIMESTAMP = EventWebhookHeader.TIMESTAMP();
const helper = new EventWebhook();

/**
 * Read SendGrid's verification key: the base64 DER (SPKI) public key its settings page shows, or the same in PEM.
 * It must be an ECDSA P-256 key; anything else is a `ConfigError` naming `field`, at start-up.
 */
export function sendgridPublicKey(value: string, field: string, backend: string): SendgridKey {
  const trimmed = value.trim();
  const base64 = trimmed.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) throw new Error('not base64');
    const key = createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') throw new Error(`expected an ECDSA P-256 key, got ${key.asymmetricKeyType}${curve ? ` ${curve}` : ''}`);
    return { ecdsa: helper.convertPublicKeyToECDSA(base64), key };
  } catch (error) {
    throw new ConfigError(`${field} is not SendGrid's verification key (the base64 public key shown with the signed webhook's settings): ${(error as Error).message}`, {
      backend,
      field,
    });
  }
}

/** The two signature headers, and the timestamp checked against the window: missing → 401, stale → 403. */
function signedHeaders(request: WebhookRequest, toleranceSeconds: number, now: number): { signature: string; timestamp: string } | WebhookVerification {
  const signature = request.headers.get(SIGNATURE)?.trim();
  const timestamp = request.headers.get(TIMESTAMP)?.trim();
  if (!signature || !timestamp) return { ok: false, status: 401, reason: `${SIGNATURE} and ${TIMESTAMP} headers are required (signed webhook)` };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, status: 403, reason: `${TIMESTAMP} is not a Unix time` };
  // A captured request replayed later fails here even though its signature is genuine.
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) {
    return { ok: false, status: 403, reason: `${TIMESTAMP} is more than ${toleranceSeconds} s from now (stale or replayed request)` };
  }
  return { signature, timestamp };
}

const FORGED: WebhookVerification = { ok: false, status: 403, reason: 'SendGrid webhook signature does not verify' };

/**
 * Check the Signed Event Webhook with the official `@sendgrid/eventwebhook` helper: ECDSA (P-256, SHA-256) over
 * the timestamp header followed by the raw body, the signature base64 DER in the signature header.
 */
export function verifyEventSignature(request: WebhookRequest, key: SendgridKey, toleranceSeconds: number, now = Date.now()): WebhookVerification {
  const headers = signedHeaders(request, toleranceSeconds, now);
  if ('ok' in headers) return headers;
  try {
    return helper.verifySignature(key.ecdsa, Buffer.from(request.body), headers.signature, headers.timestamp) ? { ok: true } : FORGED;
  } catch {
    // The helper throws on a signature that is not DER.
    return FORGED;
  }
}

/**
 * The same scheme for Inbound Parse (a security policy's signature), verified over the raw bytes with node:crypto:
 * the official helper reads the body as UTF-8 text, which alters binary attachments of a multipart body.
 */
export function verifyRawSignature(request: WebhookRequest, key: SendgridKey, toleranceSeconds: number, now = Date.now()): WebhookVerification {
  const headers = signedHeaders(request, toleranceSeconds, now);
  if ('ok' in headers) return headers;
  try {
    const data = Buffer.concat([Buffer.from(headers.timestamp, 'utf8'), request.body]);
    return verify('sha256', data, { key: key.key, dsaEncoding: 'der' }, Buffer.from(headers.signature, 'base64')) ? { ok: true } : FORGED;
  } catch {
    return FORGED;
  }
}
