import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ConfigError, type WebhookRequest, type WebhookVerification } from '@herald/core';

/**
 * Turn Postal's public key — the `p=` value of its DKIM record, base64 SPKI — into a key object.
 * Accepts the value with or without the `p=` prefix, whitespace and a trailing `;`.
 */
export function postalPublicKey(value: string, backend: string): KeyObject {
  const b64 = value.trim().replace(/^p=/, '').replace(/;$/, '').replace(/\s+/g, '');
  try {
    const key = createPublicKey({ key: Buffer.from(b64, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa') throw new Error(`expected an RSA key, got ${key.asymmetricKeyType}`);
    return key;
  } catch (error) {
    throw new ConfigError(
      `webhookKey is not Postal's public key (the base64 "p=" value of \`postal default-dkim-record\`): ${(error as Error).message}`,
      { backend, field: 'webhookKey' },
    );
  }
}

/**
 * Check Postal's webhook signature: RSA PKCS#1 v1.5 over the raw body, base64 in `X-Postal-Signature` (SHA-1);
 * newer Postal versions also send `X-Postal-Signature-256` (SHA-256), which is preferred when present.
 * Missing → 401, wrong → 403.
 */
export function verifyPostalSignature(request: WebhookRequest, key: KeyObject): WebhookVerification {
  const sha256 = request.headers.get('x-postal-signature-256');
  const sha1 = request.headers.get('x-postal-signature');
  const [algorithm, signature] = sha256 ? ['sha256', sha256] : ['sha1', sha1];
  if (!signature) return { ok: false, status: 401, reason: 'X-Postal-Signature header missing from webhook' };
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(signature.trim()) ? Buffer.from(signature.trim(), 'base64') : null;
  let ok = false;
  try {
    ok = bytes !== null && bytes.length > 0 && verify(algorithm, request.body, key, bytes);
  } catch {
    ok = false;
  }
  return ok ? { ok: true } : { ok: false, status: 403, reason: 'Postal webhook called with incorrect signature' };
}
