import { type Backend, type CommonBackendOptions, defineBackend, PermanentError, TransientError } from '@herald/core';
import { type IClientSettings, TwitterApi } from 'twitter-api-v2';
import { z } from 'zod';
import { _mapTwitterError } from './_errors';
import { TWEET_MAX_LENGTH, truncateTweet, tweetLength } from './length';

/** Stop waiting when the worker aborts the send (twitter-api-v2 takes no signal; the request itself runs on). */
function _abortable<T>(promise: Promise<T>, signal: AbortSignal, backend: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new TransientError('send aborted (timeout or worker stop); the request may still complete', { backend }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Twitter's limit for a direct message, in characters. */
const DM_MAX_LENGTH = 10_000;

/** Options of {@link twitter}: the four OAuth 1.0a credentials, or a ready `client`. */
export interface TwitterOptions extends CommonBackendOptions {
  /** OAuth 1.0a consumer key (API key) of your app. Redacted from every error, attempt and log line, like the
   *  three others. */
  appKey?: string;
  /** OAuth 1.0a consumer secret (API secret). */
  appSecret?: string;
  /** Access token of the account that posts and sends direct messages. */
  accessToken?: string;
  /** Access token secret of that account. */
  accessSecret?: string;
  /** A ready `TwitterApi` client to use instead of building one from the four credentials (which, when also
   *  given, are still redacted from errors). */
  client?: TwitterApi;
  /** Settings of the client the backend builds (`httpAgent` for a proxy, `plugins`…). */
  clientSettings?: Partial<IClientSettings>;
  /** Shorten posts over the limit to fit, ending with `…`, instead of failing the delivery. @default false */
  truncate?: boolean;
  /** Longest post in weighted characters (see `tweetLength`). @default 280 */
  maxLength?: number;
}

const twitterOptions = z
  .object({
    appKey: z.string().min(1).optional(),
    appSecret: z.string().min(1).optional(),
    accessToken: z.string().min(1).optional(),
    accessSecret: z.string().min(1).optional(),
    client: z.custom<TwitterApi>((v) => typeof v === 'object' && v !== null && 'v2' in v).optional(),
    clientSettings: z.custom<Partial<IClientSettings>>((v) => typeof v === 'object' && v !== null).optional(),
    truncate: z.boolean().default(false),
    maxLength: z.number().int().positive().default(TWEET_MAX_LENGTH),
  })
  .refine((o) => o.client || (o.appKey && o.appSecret && o.accessToken && o.accessSecret), {
    message: 'give appKey, appSecret, accessToken and accessSecret, or a TwitterApi instance as client',
  }) satisfies z.ZodType<unknown, Omit<TwitterOptions, keyof CommonBackendOptions>>;

const _twitter = defineBackend({
  name: 'twitter',
  package: '@herald/backend-twitter',
  protocol: 'twitter',
  formats: ['text'],
  options: twitterOptions,
  secrets: (o) => [o.appKey, o.appSecret, o.accessToken, o.accessSecret],
  setup(o, { name, secrets }) {
    const { appKey, appSecret, accessToken, accessSecret } = o;
    const api = (o.client ?? new TwitterApi({ appKey: appKey!, appSecret: appSecret!, accessToken, accessSecret }, o.clientSettings)).readWrite.v2;
    /** Handle (lower case) → user id. Ids never change, so found ones are kept for the backend's life. */
    const userIds = new Map<string, string>();

    async function userId(handle: string): Promise<string> {
      const key = handle.toLowerCase();
      const known = userIds.get(key);
      if (known) return known;
      const found = await api.userByUsername(handle);
      if (!found.data) {
        const detail = found.errors?.[0]?.detail ?? 'no such user';
        throw new PermanentError(`no Twitter user @${handle}: ${detail}`, {
          backend: name,
          scope: 'recipient',
          rejectReason: 'invalid',
          response: secrets.redactJson({ errors: found.errors ?? [] }),
        });
      }
      userIds.set(key, found.data.id);
      return found.data.id;
    }

    function fit(text: string, max: number, length: (t: string) => number): string {
      if (length(text) <= max) return text;
      if (o.truncate && max === o.maxLength) return truncateTweet(text, max);
      throw new PermanentError(`the message is ${length(text)} characters long; Twitter allows ${max} (set truncate: true to shorten it)`, {
        backend: name,
        scope: 'content',
      });
    }

    return {
      async send(message, ctx) {
        const handle = message.to.trim().replace(/^@/, '');
        const body = (message.content.text ?? '').trim();
        if (!body) throw new PermanentError('a Twitter message needs a non-empty text body', { backend: name });
        try {
          if (ctx.signal.aborted) throw new TransientError('send aborted before the request', { backend: name });
          // django-vox's rule: no handle posts to the account's timeline, a handle gets a direct message.
          if (!handle) {
            const posted = await _abortable(api.tweet({ text: fit(body, o.maxLength, tweetLength) }), ctx.signal, name);
            return { messageId: posted.data.id, response: { data: { id: posted.data.id, text: posted.data.text } } };
          }
          const text = fit(body, DM_MAX_LENGTH, (t) => [...t].length);
          const sent = await _abortable(api.sendDmToParticipant(await _abortable(userId(handle), ctx.signal, name), { text }), ctx.signal, name);
          // The API answers `{ data: { dm_conversation_id, dm_event_id } }`; twitter-api-v2's type omits `data`.
          const event = (sent as { data?: typeof sent }).data ?? sent;
          const id = event.dm_event_id;
          const response = { data: { dm_conversation_id: event.dm_conversation_id, dm_event_id: id } };
          return { messageId: id, recipients: { [message.to]: { status: 'sent', messageId: id } }, response };
        } catch (error) {
          if (error instanceof PermanentError || error instanceof TransientError) throw error;
          throw _mapTwitterError(error, name, secrets);
        }
      },
    };
  },
});

/**
 * Twitter / X backend (`twitter-api-v2`, API v2 with OAuth 1.0a user context). An empty contact address posts to
 * the account's timeline (`POST /2/tweets`); a handle gets a direct message (`POST
 * /2/dm_conversations/with/:id/messages`, the id looked up once per handle). Posts over 280 weighted characters
 * fail the delivery, or are shortened with `truncate: true`.
 *
 * @example
 * ```ts
 * import { twitter } from '@herald/backend-twitter';
 * const backend = twitter({ appKey, appSecret, accessToken, accessSecret, truncate: true });
 * // timeline: { protocol: 'twitter', address: '' } — direct message: { protocol: 'twitter', address: '@ada' }
 * ```
 */
export function twitter(options: TwitterOptions): Backend<'twitter'> {
  return _twitter(options);
}
