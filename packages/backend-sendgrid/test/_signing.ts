import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type { WebhookRequest } from '@herald/core';

/**
 * An ECDSA P-256 key pair like the one SendGrid generates for a signed webhook: `publicKey` is what its settings
 * page shows (base64 DER SubjectPublicKeyInfo), the private half signs test requests the way SendGrid does.
 */
export function signingKey(): { publicKey: string; privateKey: KeyObject } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), privateKey: pair.privateKey };
}

/** SendGrid's signature: ECDSA SHA-256 over the timestamp followed by the raw body, base64 of the DER signature. */
export function signBody(privateKey: KeyObject, body: Uint8Array, timestamp: string): string {
  return sign('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
}

export const nowSeconds = () => String(Math.floor(Date.now() / 1000));

/** A webhook request as core hands it to `verify`/`parse`: the body read once, as bytes and text. */
export function webhookRequest(body: Uint8Array | string, headers: Record<string, string>, path = '/herald/sendgrid/tracking'): WebhookRequest {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return { method: 'POST', url: new URL(`https://app.example${path}`), headers: new Headers(headers), body: bytes, text: new TextDecoder().decode(bytes) };
}

/** A signed Event Webhook POST of `events` (a JSON array), signed now unless `timestamp` says otherwise. */
export function signedEvents(privateKey: KeyObject, events: unknown, options: { timestamp?: string; headers?: Record<string, string> } = {}): WebhookRequest {
  const body = new TextEncoder().encode(typeof events === 'string' ? events : JSON.stringify(events));
  const timestamp = options.timestamp ?? nowSeconds();
  return webhookRequest(body, {
    'content-type': 'application/json',
    'x-twilio-email-event-webhook-signature': signBody(privateKey, body, timestamp),
    'x-twilio-email-event-webhook-timestamp': timestamp,
    ...options.headers,
  });
}

/** A multipart/form-data body as SendGrid's Inbound Parse posts it, from a fixture's fields and files. */
export async function inboundBody(fixture: { fields: Record<string, string>; files: { field: string; filename: string; type: string; content: string }[] }) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fixture.fields)) form.append(name, value);
  for (const file of fixture.files) form.append(file.field, new Blob([Buffer.from(file.content, 'base64')], { type: file.type }), file.filename);
  const request = new Request('https://app.example/', { method: 'POST', body: form });
  return { body: new Uint8Array(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}

export const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
