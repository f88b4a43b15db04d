import { type Backend, type CommonBackendOptions, defineBackend, type HeadersLike, type JsonObject, PermanentError, providerOptionsFor, secretsOf } from '@herald/core';
import { type FetchFunction, IncomingWebhook, type IncomingWebhookSendArguments } from '@slack/webhook';
import { z } from 'zod';
import { mapSlackError } from './_errors';

/**
 * Escape Slack mrkdwn control characters (`&`, `<`, `>`) so data cannot inject links, mentions or formatting.
 *
 * @example
 * ```ts
 * escapeMrkdwn('<!channel> & co'); // '&lt;!channel&gt; &amp; co'
 * ```
 */
export function escapeMrkdwn(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Options of {@link slack}. */
export interface SlackOptions extends CommonBackendOptions {
  /** Hosts an incoming-webhook URL may point at (`host` or `host:port`). @default ['hooks.slack.com'] */
  allowedHosts?: string[];
  /** Accept `http:` webhook URLs (tests against a local server only). @default false */
  allowInsecure?: boolean;
  /** Request timeout in ms. @default 10000 */
  timeout?: number;
  /** The fetch implementation `@slack/webhook` uses. @default globalThis.fetch */
  fetch?: FetchFunction;
}

const slackOptions = z.object({
  allowedHosts: z.array(z.string().min(1)).default(['hooks.slack.com']),
  allowInsecure: z.boolean().default(false),
  timeout: z.number().int().positive().default(10_000),
  fetch: z.custom<FetchFunction>((v) => typeof v === 'function').optional(),
}) satisfies z.ZodType<unknown, Omit<SlackOptions, keyof CommonBackendOptions>>;

/** The credential of an incoming-webhook URL is its last path segment (the token after the team and channel ids). */
function _webhookSecrets(url: string) {
  return secretsOf([url.split(/[?#]/)[0]!.split('/').filter(Boolean).at(-1)]);
}

/** `params` templates render a Block Kit payload; `text` templates a plain mrkdwn message. */
function _payload(content: { text?: string; params?: JsonObject; subject?: string }): IncomingWebhookSendArguments | null {
  if (content.params) {
    const { text, blocks } = content.params;
    if (typeof text !== 'string' && !Array.isArray(blocks)) return null;
    // Slack wants `text` beside `blocks` as the notification fallback.
    const fallback = typeof text === 'string' ? text : (content.subject ?? '');
    return { ...content.params, text: fallback } as IncomingWebhookSendArguments;
  }
  return typeof content.text === 'string' ? { text: content.text } : null;
}

const _slack = defineBackend({
  name: 'slack',
  package: '@herald/backend-slack',
  protocol: 'slack-webhook',
  formats: ['text', 'params'],
  options: slackOptions,
  capabilities: { providerOptions: true },
  escapeText: escapeMrkdwn,
  setup(o, { name }) {
    const hosts = new Set(o.allowedHosts.map((h) => h.toLowerCase()));
    const baseFetch = o.fetch ?? (globalThis.fetch as unknown as FetchFunction);
    function validateAddress(address: string): string | null {
      let url: URL;
      try {
        url = new URL(address);
      } catch {
        return 'must be a Slack incoming-webhook URL';
      }
      if (url.protocol !== 'https:' && !(o.allowInsecure && url.protocol === 'http:')) return 'must be an https URL';
      if (!hosts.has(url.hostname.toLowerCase()) && !hosts.has(url.host.toLowerCase())) {
        return `host ${url.host} is not an allowed Slack webhook host (${[...hosts].join(', ')})`;
      }
      if (!url.pathname.startsWith('/services/')) return 'must be an incoming-webhook URL (/services/…)';
      return null;
    }
    return {
      validateAddress,
      async send(message, ctx) {
        const problem = validateAddress(message.to);
        if (problem) throw new PermanentError(`refused webhook address: ${problem}`, { backend: name, rejectReason: 'invalid' });
        const payload = _payload(message.content);
        if (!payload) {
          throw new PermanentError('a Slack message needs `text`, or `params` with `text` or `blocks`', { backend: name });
        }
        const secrets = _webhookSecrets(message.to);
        const answer: { headers: HeadersLike | null } = { headers: null };
        const capturing: FetchFunction = async (url, init) => {
          const signal = init?.signal ? AbortSignal.any([init.signal, ctx.signal]) : ctx.signal;
          const res = await baseFetch(url, { ...init, signal });
          answer.headers = res.headers;
          return res;
        };
        const webhook = new IncomingWebhook(message.to, { fetch: capturing, timeout: o.timeout });
        try {
          const result = await webhook.send({ ...payload, ...providerOptionsFor({ name, kind: 'slack' }, message) });
          return { recipients: { [message.to]: { status: 'sent' } }, response: { status: 200, body: secrets.redact(result.text) } };
        } catch (error) {
          throw mapSlackError(error, name, secrets, answer.headers);
        }
      },
    };
  },
});

/**
 * Slack incoming-webhook backend (`@slack/webhook`). The contact address is the webhook URL; `text` templates are
 * mrkdwn with data escaped, `params` templates produce Block Kit JSON (`{ text, blocks }`).
 *
 * @example
 * ```ts
 * import { slack } from '@herald/backend-slack';
 * const backend = slack();
 * // contact: { protocol: 'slack-webhook', address: 'https://hooks.slack.com/services/T000/B000/XXXX' }
 * ```
 */
export function slack(options: SlackOptions = {}): Backend<'slack-webhook'> {
  return _slack(options);
}
