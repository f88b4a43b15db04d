import { fail } from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { inspect } from 'node:util';
import { newId } from '../ids';
import { PROTOCOLS, type Protocol } from '../protocols';
import type { Logger, OutboundMessage, RenderedContent, SendContext, TemplateFormat, TemplateSpec } from '../types';

// Helpers for testing backends that need no test runner: `@herald/core/testing` exports them, the vitest suite
// (`@herald/core/testing/vitest`) builds on them.

/** One valid address per protocol, each refused by every other protocol's schema. */
export const SAMPLE_ADDRESSES: Readonly<Record<Protocol, string>> = {
  email: 'ada@example.org',
  sms: '+14155550123',
  'slack-webhook': 'https://hooks.slack.com/services/T000/B000/XXXXXXXX',
  'json-webhook': 'https://receiver.example.org/hooks/herald',
  xmpp: 'ada@chat.example.org/desk',
  twitter: '@ada_lovelace',
};

/** Addresses that belong to protocols other than `protocol` and must be refused by its backends.
 *  (The two webhook protocols share the URL form: a json-webhook backend is not expected to refuse a Slack URL.
 *  A bare `user@host` is both an email and a JID, so the email sample here carries a display name.) */
export function foreignAddresses(protocol: Protocol): string[] {
  const samples: Record<Protocol, string> = { ...SAMPLE_ADDRESSES, email: 'Ada Lovelace <ada@example.org>' };
  return PROTOCOLS.filter((p) => p !== protocol && !(protocol === 'json-webhook' && p === 'slack-webhook')).map((p) => samples[p]);
}

/** Templates the suite renders for each format, with data `{ name, code }`. */
export const SUITE_TEMPLATES: Readonly<Record<TemplateFormat, TemplateSpec>> = {
  html: { format: 'html', subject: 'Conformance {{code}}', body: '<p>Hello {{name}}, your code is <b>{{code}}</b>.</p>' },
  markdown: { format: 'markdown', subject: 'Conformance {{code}}', body: '# Hello {{name}}\n\nYour code is **{{code}}**.' },
  blocks: {
    format: 'blocks',
    body: '{{#block "subject"}}Conformance {{code}}{{/block}}\n{{#block "text"}}Hello {{name}}, your code is {{code}}.{{/block}}\n{{#block "html"}}<p>Hello {{name}}, your code is <b>{{code}}</b>.</p>{{/block}}',
  },
  params: { format: 'params', subject: 'Conformance {{code}}', body: { text: 'Hello {{name}}, your code is {{code}}.', code: '{{code}}' } },
  text: { format: 'text', subject: 'Conformance {{code}}', body: 'Hello {{name}}, your code is {{code}}.' },
};

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Fields of {@link makeOutboundMessage}: any of the message's, with `content` and `options` merged over the defaults. */
export type OutboundMessageOverrides = Partial<Omit<OutboundMessage, 'content'>> & { content?: Partial<RenderedContent> };

/**
 * Build a valid {@link OutboundMessage} for tests: a fresh delivery id, the protocol's sample address and a
 * short rendered content (`html` with text for email, `text` otherwise).
 *
 * @example
 * ```ts
 * const message = makeOutboundMessage({ protocol: 'email', to: 'ada@example.org', options: { cc: ['bob@example.org'] } });
 * const result = await backend.send(message, makeSendContext(message));
 * ```
 */
export function makeOutboundMessage(overrides: OutboundMessageOverrides = {}): OutboundMessage {
  const protocol = overrides.protocol ?? 'email';
  const deliveryId = overrides.deliveryId ?? newId();
  const content: RenderedContent =
    protocol === 'email'
      ? { format: 'html', subject: 'Hello from Herald', html: '<p>Hello <b>Ada</b></p>', text: 'Hello Ada' }
      : { format: 'text', subject: 'Hello from Herald', text: 'Hello Ada' };
  return {
    deliveryId,
    notification: 'herald-test',
    protocol,
    backend: protocol,
    to: SAMPLE_ADDRESSES[protocol],
    recipient: { id: 'u1', name: 'Ada Lovelace' },
    attachments: [],
    ...overrides,
    content: { ...content, ...overrides.content },
    options: { ...overrides.options },
  };
}

/**
 * A {@link SendContext} for calling `backend.send()` directly: attempt 1, the delivery id as idempotency key,
 * a silent logger and a signal that never aborts (unless you pass one).
 *
 * @example
 * ```ts
 * await backend.send(message, makeSendContext(message, { attempt: 2 }));
 * ```
 */
export function makeSendContext(message: Pick<OutboundMessage, 'deliveryId'>, overrides: Partial<SendContext> = {}): SendContext {
  return { attempt: 1, idempotencyKey: message.deliveryId, signal: new AbortController().signal, logger: SILENT, ...overrides };
}

/** Every text form an error can reach a log or an API answer in. */
function errorTexts(error: unknown): string[] {
  const texts = [inspect(error, { depth: 8, showHidden: false })];
  if (error instanceof Error) texts.push(error.message, error.stack ?? '', String(error.cause ?? ''));
  const seen = new WeakSet<object>();
  try {
    texts.push(
      JSON.stringify(error, (_key, value: unknown) => {
        if (typeof value === 'object' && value !== null) {
          if (seen.has(value)) return undefined;
          seen.add(value);
        }
        return value;
      }) ?? '',
    );
  } catch {
    // not serializable: inspect() above covers it
  }
  return texts;
}

/**
 * Assert that no secret (raw, URL-encoded or base64) appears in an error's message, stack, cause, own properties
 * or JSON form. Throws node's `AssertionError`, so it works under any test runner.
 *
 * @example
 * ```ts
 * const error = await backend.send(message, ctx).catch((e: unknown) => e);
 * expectNoSecrets(error, ['s3cret-token']);
 * ```
 */
export function expectNoSecrets(error: unknown, secrets: readonly string[]): void {
  const texts = errorTexts(error);
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')])) {
      const leaked = texts.find((t) => t.includes(form));
      if (leaked !== undefined) fail(`a secret (${secret.slice(0, 2)}…) appears in the error: ${leaked.slice(0, 300)}`);
    }
  }
}
