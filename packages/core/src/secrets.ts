/**
 * Secret redaction. Each declared secret is learnt once in every form it may travel in — as typed, URL- and
 * form-encoded, JSON-escaped, hex, base64 and base64url (at any byte alignment, so a secret inside a larger encoded
 * blob is caught too), HTTP basic-auth pairs, and the decoded bytes of keys that are themselves encoded — and
 * each occurrence becomes `[redacted]`. Credential-shaped text needs no declaration: a Slack incoming-webhook
 * token (the path is the credential) and the password of a `scheme://user:password@host` URL are always masked.
 */

const MASK = '[redacted]';
/** Shorter secrets are not redacted: replacing every `abc` would mangle the text and hide nothing. */
const MIN_LENGTH = 4;

/** Slack incoming-webhook URLs (`/services/T…/B…/<token>`) on any host, and `//user:password@` in URLs. */
const CREDENTIAL_SHAPES = /(\/services\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]+\/)[A-Za-z0-9_-]+|(\/\/[^:/@\s]+:)[^@/\s]+@/g;

/** Mask credential-shaped text (see the module comment); every Herald error message passes through it. */
export function maskCredentialShapes(text: string): string {
  return text.replace(CREDENTIAL_SHAPES, (_, slack: string | undefined, user: string | undefined) => (slack ? `${slack}${MASK}` : `${user}${MASK}@`));
}

/** What else, besides plain secret strings, a backend sends that must be redacted. */
export interface SecretOptions {
  /** HTTP basic-auth pairs the backend sends, e.g. `[accountSid, authToken]`: `base64("user:password")` is redacted
   *  whole, in every form (the user alone is not a secret). */
  basicAuth?: readonly (readonly [user: string | null | undefined, password: string | null | undefined])[];
  /** Keys whose bytes are the secret (e.g. the decoded key of a Standard Webhooks `whsec_<base64>` secret): their
   *  UTF-8 text, hex, base64 and base64url are redacted. */
  keys?: readonly (Uint8Array | null | undefined)[];
}

/** Redacts a fixed set of secrets; build one with {@link secretsOf} when a backend is set up, not per call. */
export interface Redactor {
  /** The texts every redacted form derives from: each secret, each basic-auth `user:password`, each key's text, hex
   *  and base64. A copy of this list given to {@link secretsOf} again redacts at least as much. */
  readonly secrets: readonly string[];
  /** `text` with every form of every secret (and every credential-shaped URL part) replaced by `[redacted]`. */
  redact(text: string): string;
  /** A copy of a JSON-like value with every string (keys included) redacted; the value itself when nothing matched. */
  redactJson<T>(value: T): T;
}

/** Secrets as a backend declares them: plain values (empty ones are skipped) or a ready {@link Redactor}. */
export type Secrets = Redactor | readonly (string | null | undefined)[];

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The base64 characters that depend on `bytes` alone when they start `offset` bytes into a 3-byte group. */
function alignedBase64(bytes: Buffer, offset: number, alphabet: 'base64' | 'base64url'): string {
  const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
  const skip = [0, 2, 3][offset]!;
  return padded.toString(alphabet).slice(skip, Math.floor((padded.length * 8) / 6));
}

function bytesForms(bytes: Buffer, out: Set<string>): void {
  const base64 = bytes.toString('base64');
  out.add(base64);
  out.add(encodeURIComponent(base64));
  out.add(base64.replace(/=+$/, ''));
  out.add(bytes.toString('base64url'));
  const hex = bytes.toString('hex');
  out.add(hex);
  out.add(hex.toUpperCase());
  for (const offset of [0, 1, 2]) {
    out.add(alignedBase64(bytes, offset, 'base64'));
    out.add(alignedBase64(bytes, offset, 'base64url'));
  }
}

function textForms(text: string, out: Set<string>): void {
  out.add(text);
  out.add(encodeURIComponent(text));
  out.add(new URLSearchParams([['', text]]).toString().slice(1));
  out.add(JSON.stringify(text).slice(1, -1));
  bytesForms(Buffer.from(text, 'utf8'), out);
}

/** Which arrays belong to which redactor: `redact(text, backend.secrets)` reuses the forms learnt at set-up. */
const learnt = new WeakMap<object, Redactor>();

/**
 * Learn a set of secrets once, in all their forms. Backends return this from their `secrets` hook in
 * `defineBackend` (core then redacts them from every error, attempt and log line) and use it on what they keep
 * of a provider's answer.
 *
 * @example
 * ```ts
 * import { secretsOf } from '@herald/core';
 * const secrets = secretsOf([process.env.TWILIO_AUTH_TOKEN], { basicAuth: [[process.env.TWILIO_ACCOUNT_SID, process.env.TWILIO_AUTH_TOKEN]] });
 * secrets.redact(`Authorization: Basic ${btoa(`${process.env.TWILIO_ACCOUNT_SID}:${process.env.TWILIO_AUTH_TOKEN}`)}`); // 'Authorization: Basic [redacted]'
 * ```
 */
export function secretsOf(values: readonly (string | null | undefined)[], options: SecretOptions = {}): Redactor {
  const sources = new Set<string>();
  const forms = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string' || value.length < MIN_LENGTH) continue;
    sources.add(value);
    textForms(value, forms);
  }
  for (const [user, password] of options.basicAuth ?? []) {
    if (!user || !password || password.length < MIN_LENGTH) continue;
    sources.add(`${user}:${password}`);
    textForms(`${user}:${password}`, forms);
  }
  for (const key of options.keys ?? []) {
    if (!key || key.length < 3) continue;
    const bytes = Buffer.from(key);
    bytesForms(bytes, forms);
    sources.add(bytes.toString('base64'));
    sources.add(bytes.toString('hex'));
    let text: string | null = null;
    try {
      text = utf8.decode(bytes);
    } catch {
      // not text: its encodings are enough
    }
    if (text && text.length >= MIN_LENGTH) {
      sources.add(text);
      textForms(text, forms);
    }
  }
  const needles = [...forms].filter((f) => f.length >= MIN_LENGTH).sort((a, b) => b.length - a.length);
  const pattern = needles.length ? new RegExp(needles.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
  const redactText = (text: string): string => maskCredentialShapes(pattern ? text.replace(pattern, MASK) : text);
  const matches = (text: string): boolean => {
    CREDENTIAL_SHAPES.lastIndex = 0;
    if (CREDENTIAL_SHAPES.test(text)) return true;
    if (!pattern) return false;
    pattern.lastIndex = 0;
    return pattern.test(text);
  };

  /** The value with every string redacted, copied only along the paths that changed (most answers hold no secret). */
  function walk(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return matches(value) ? redactText(value) : value;
    if (typeof value !== 'object' || value === null || depth > 64) return value;
    if (Array.isArray(value)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const v = walk(value[i], depth + 1);
        if (v === value[i]) continue;
        out ??= value.slice();
        out[i] = v;
      }
      return out ?? value;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    let out: Record<string, unknown> | null = null;
    for (const k in value) {
      const v = (value as Record<string, unknown>)[k];
      const key = matches(k) ? redactText(k) : k;
      const next = walk(v, depth + 1);
      if (next !== v || key !== k) {
        if (!out) {
          out = {};
          // Keys before this one are unchanged: copy them as they are, in order.
          for (const before in value) {
            if (before === k) break;
            out[before] = (value as Record<string, unknown>)[before];
          }
        }
        out[key] = next;
      } else if (out) out[k] = v;
    }
    return out ?? value;
  }

  const secrets = Object.freeze([...sources]);
  const redactor: Redactor = {
    secrets,
    redact: redactText,
    redactJson: <T>(value: T): T => walk(value, 0) as T,
  };
  learnt.set(secrets, redactor);
  return redactor;
}

/** The {@link Redactor} of `secrets`: itself, the one an array was learnt by, or a new one remembered for the array. */
export function redactorOf(secrets: Secrets | undefined): Redactor {
  if (!secrets) return secretsOf([]);
  if (!Array.isArray(secrets)) return secrets as Redactor;
  let redactor = learnt.get(secrets);
  if (!redactor) {
    redactor = secretsOf(secrets as readonly (string | null | undefined)[]);
    learnt.set(secrets, redactor);
  }
  return redactor;
}

/**
 * Replace every form of each secret (see {@link secretsOf}) with `[redacted]`. Given a backend's `secrets`, it
 * reuses the forms learnt when the backend was set up.
 *
 * @example
 * ```ts
 * import { redact } from '@herald/core';
 * redact('token=s3cret-value', ['s3cret-value']); // 'token=[redacted]'
 * ```
 */
export function redact(text: string, secrets: Secrets | undefined): string {
  return redactorOf(secrets).redact(text);
}

/**
 * {@link redact} for a provider's answer kept as JSON (an attempt's `response`): every string, keys included.
 *
 * @example
 * ```ts
 * import { redactJson } from '@herald/core';
 * redactJson({ echo: { authorization: 'Bearer s3cret-value' } }, ['s3cret-value']); // { echo: { authorization: 'Bearer [redacted]' } }
 * ```
 */
export function redactJson<T>(value: T, secrets: Secrets | undefined): T {
  return redactorOf(secrets).redactJson(value);
}

/**
 * An address as it may be shown in messages: the credential part of addresses that carry one masked (a Slack
 * incoming-webhook URL's token, a URL's password), others unchanged.
 *
 * @example
 * ```ts
 * import { redactAddress } from '@herald/core';
 * redactAddress('https://hooks.slack.com/services/T000/B000/XXXXXXXX'); // 'https://hooks.slack.com/services/T000/B000/[redacted]'
 * ```
 */
export function redactAddress(address: string): string {
  return maskCredentialShapes(address);
}
