import { createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseQuery, stringify as stringifyQuery } from 'node:querystring';

type Params = URLSearchParams | Readonly<Record<string, string | readonly string[]>>;

/**
 * Compute Twilio's `X-Twilio-Signature` for a webhook: base64 HMAC-SHA1, keyed with the auth token, over the full
 * URL Twilio requested followed by every POST parameter as `name + value` — names sorted, and a repeated name's
 * distinct values sorted (as Twilio's own `getExpectedTwilioSignature` signs them).
 *
 * @example
 * ```ts
 * const signature = twilioSignature(authToken, 'https://example.org/herald/twilio/tracking', { MessageSid: 'SM…', MessageStatus: 'delivered' });
 * ```
 */
export function twilioSignature(authToken: string, url: string, params: Params): string {
  const pairs: [string, string][] =
    params instanceof URLSearchParams
      ? [...params]
      : Object.entries(params).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as [string, string]] : v.map((x): [string, string] => [k, x])));
  const values = new Map<string, Set<string>>();
  for (const [name, value] of pairs) {
    const set = values.get(name) ?? new Set<string>();
    set.add(value);
    values.set(name, set);
  }
  const hmac = createHmac('sha1', authToken).update(url, 'utf8');
  // Default sort (UTF-16 code units), as Twilio's helper does.
  for (const name of [...values.keys()].sort()) for (const value of [...(values.get(name) ?? [])].sort()) hmac.update(name + value, 'utf8');
  return hmac.digest('base64');
}

/** Scheme, user info, host, port and the rest of a URL, split without normalizing it (Twilio signs it as sent). */
function splitUrl(url: string): { scheme: string; userInfo: string; host: string; port: string; rest: string } | null {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i.exec(url);
  if (!match) return null;
  const [prefix, scheme, authority] = match as unknown as [string, string, string];
  const userInfoEnd = authority.lastIndexOf('@');
  const hostAndPort = authority.slice(userInfoEnd + 1);
  const portStart = hostAndPort.indexOf(':', hostAndPort.lastIndexOf(']') + 1);
  return {
    scheme,
    userInfo: authority.slice(0, userInfoEnd + 1),
    host: portStart === -1 ? hostAndPort : hostAndPort.slice(0, portStart),
    port: portStart === -1 ? '' : hostAndPort.slice(portStart),
    rest: url.slice(prefix.length),
  };
}

function withPort(url: string): string {
  const p = splitUrl(url);
  if (!p || p.port) return url;
  return `${p.scheme}${p.userInfo}${p.host}${p.scheme.toLowerCase() === 'https://' ? ':443' : ':80'}${p.rest}`;
}

function withoutPort(url: string): string {
  const p = splitUrl(url);
  return p ? `${p.scheme}${p.userInfo}${p.host}${p.rest}` : url;
}

/** The query re-encoded as Node's legacy `querystring` does (`'` → `%27`), which some servers signed. */
function withLegacyQuery(url: string): string {
  const at = url.indexOf('?');
  return at === -1 || at === url.length - 1 ? url : `${url.slice(0, at)}?${stringifyQuery(parseQuery(url.slice(at + 1)))}`;
}

/** The URLs Twilio's `validateRequest` accepts a signature for: as given and normalized, with and without the port. */
function candidateUrls(url: string): string[] {
  const out = [withoutPort(url), withPort(url)];
  let normalized: string | null = null;
  try {
    normalized = new URL(url).toString();
  } catch {
    // not a URL: only the forms as given
  }
  if (normalized) {
    const bare = withoutPort(normalized);
    const ported = withPort(normalized);
    out.push(bare, ported, withLegacyQuery(bare), withLegacyQuery(ported));
  }
  return [...new Set(out)];
}

/**
 * Compare a received `X-Twilio-Signature` with the expected one in constant time. Like Twilio's `validateRequest`,
 * the URL is tried with and without its port (`https://host/…` and `https://host:443/…`) and normalized.
 *
 * @example
 * ```ts
 * const ok = verifyTwilioSignature(authToken, request.headers.get('x-twilio-signature') ?? '', publicUrl, new URLSearchParams(body));
 * ```
 */
export function verifyTwilioSignature(authToken: string, signature: string, url: string, params: Params): boolean {
  const received = Buffer.from(signature);
  let ok = false;
  for (const candidate of candidateUrls(url)) {
    const expected = Buffer.from(twilioSignature(authToken, candidate, params));
    // Every candidate is compared: the time taken does not say which form matched.
    if (expected.length === received.length && timingSafeEqual(expected, received)) ok = true;
  }
  return ok;
}
