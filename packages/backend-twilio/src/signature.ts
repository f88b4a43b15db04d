import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Compute Twilio's `X-Twilio-Signature` for a webhook: base64 HMAC-SHA1, keyed with the auth token, over the full
 * URL Twilio requested followed by every POST parameter as `name + value`, names sorted.
 *
 * @example
 * ```ts
 * const signature = twilioSignature(authToken, 'https://example.org/herald/twilio/tracking', { MessageSid: 'SM…', MessageStatus: 'delivered' });
 * ```
 */
export function twilioSignature(authToken: string, url: string, params: URLSearchParams | Record<string, string>): string {
  const entries = params instanceof URLSearchParams ? [...params.entries()] : Object.entries(params);
  // Stable sort by name only: repeated names keep the order they were posted in.
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const hmac = createHmac('sha1', authToken).update(url, 'utf8');
  for (const [name, value] of entries) hmac.update(name + value, 'utf8');
  return hmac.digest('base64');
}

/**
 * Compare a received `X-Twilio-Signature` with the expected one in constant time.
 *
 * @example
 * ```ts
 * const ok = verifyTwilioSignature(authToken, request.headers.get('x-twilio-signature') ?? '', publicUrl, new URLSearchParams(body));
 * ```
 */
export function verifyTwilioSignature(
  authToken: string,
  signature: string,
  url: string,
  params: URLSearchParams | Record<string, string>,
): boolean {
  const expected = Buffer.from(twilioSignature(authToken, url, params));
  const received = Buffer.from(signature);
  return expected.length === received.length && timingSafeEqual(expected, received);
}
