/**
 * Replay the providers' documented webhook payloads (`test/fixtures/<provider>/*.json`) against a running Herald
 * webhook endpoint, authenticated the way each provider does it: Postmark with HTTP basic auth, Postal with an
 * RSA signature over the raw body (`X-Postal-Signature`).
 */
import { sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

export interface ReplayOptions {
  /** Where Herald's handler is mounted, e.g. `http://127.0.0.1:3000/herald`. */
  baseUrl: string;
  postmark: { username: string; password: string };
  /** The private half of the key whose public half is the postal backend's `webhookKey`. */
  postalPrivateKey: KeyObject;
  log?: (line: string) => void;
}

/** One webhook POST: which fixture, where, and how it is authenticated. */
interface Shot {
  provider: 'postmark' | 'postal';
  fixture: string;
  kind: 'tracking' | 'inbound';
  /** `forged` sends wrong credentials: the answer must be 401/403 and nothing may change. */
  auth?: 'valid' | 'forged';
  note?: string;
}

/** The order tells a story: out-of-order events, a replay, a forgery, a bounce that suppresses the address. */
export const SHOTS: readonly Shot[] = [
  { provider: 'postmark', fixture: 'open.json', kind: 'tracking', note: 'opened before delivered (out of order)' },
  { provider: 'postmark', fixture: 'delivery.json', kind: 'tracking', note: 'late delivered: status stays opened' },
  { provider: 'postmark', fixture: 'open.json', kind: 'tracking', note: 'replay: 200, nothing changes' },
  { provider: 'postmark', fixture: 'click.json', kind: 'tracking', auth: 'forged', note: 'forged basic auth' },
  { provider: 'postmark', fixture: 'click.json', kind: 'tracking' },
  { provider: 'postmark', fixture: 'bounce-soft.json', kind: 'tracking' },
  { provider: 'postmark', fixture: 'spam-complaint.json', kind: 'tracking', note: 'complaint: address suppressed' },
  { provider: 'postmark', fixture: 'subscription-change.json', kind: 'tracking' },
  { provider: 'postmark', fixture: 'bounce-blocked.json', kind: 'tracking', note: 'a message Herald did not send' },
  { provider: 'postmark', fixture: 'subscription-reactivated.json', kind: 'tracking' },
  { provider: 'postal', fixture: 'message-held.json', kind: 'tracking' },
  { provider: 'postal', fixture: 'message-delayed.json', kind: 'tracking' },
  { provider: 'postal', fixture: 'message-sent.json', kind: 'tracking', auth: 'forged', note: 'forged signature' },
  { provider: 'postal', fixture: 'message-sent.json', kind: 'tracking' },
  { provider: 'postal', fixture: 'message-loaded.json', kind: 'tracking', note: 'open events are not normalized by Postal: unknown' },
  { provider: 'postal', fixture: 'message-link-clicked.json', kind: 'tracking' },
  { provider: 'postal', fixture: 'message-bounced.json', kind: 'tracking', note: 'bounce: address suppressed' },
  { provider: 'postal', fixture: 'message-delivery-failed.json', kind: 'tracking' },
  { provider: 'postal', fixture: 'inbound-raw.json', kind: 'inbound' },
  { provider: 'postal', fixture: 'inbound-raw.json', kind: 'tracking', note: 'inbound payload on the tracking URL' },
];

/** POST every shot in order; returns the HTTP statuses in the same order. */
export async function replayFixtures(options: ReplayOptions): Promise<number[]> {
  const log = options.log ?? console.log;
  const statuses: number[] = [];
  for (const shot of SHOTS) {
    const body = readFileSync(new URL(`${shot.provider}/${shot.fixture}`, FIXTURES));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const forged = shot.auth === 'forged';
    if (shot.provider === 'postmark') {
      const password = forged ? 'not-the-password' : options.postmark.password;
      headers.authorization = `Basic ${Buffer.from(`${options.postmark.username}:${password}`).toString('base64')}`;
    } else {
      const signed = forged ? Buffer.concat([body, Buffer.from(' ')]) : body;
      headers['x-postal-signature'] = sign('sha1', signed, options.postalPrivateKey).toString('base64');
    }
    const res = await fetch(`${options.baseUrl}/${shot.provider}/${shot.kind}`, { method: 'POST', headers, body });
    const answer = await res.text();
    statuses.push(res.status);
    const detail = res.ok ? '' : `  ${answer}`;
    log(`→ POST ${shot.provider}/${shot.kind} ${shot.fixture.padEnd(30)} ${res.status}${shot.note ? `  (${shot.note})` : ''}${detail}`);
  }
  return statuses;
}
