// postmaster's JSON-RPC 2.0 API (levenlabs/postmaster, SEEDS-SPEC §3) on Herald: the same method names, params and
// results, so a postmaster client works unchanged. Only the transport around it is Herald's: API keys, the body
// limit and the rate limit, answered as HTTP statuses with a JSON-RPC error body.
import {
  addressSchemas,
  type ApiKeyRecord,
  type Delivery,
  type Herald,
  type Logger,
  type Notification,
  normalizeAddress,
  StoreError,
  type TrackingEventType,
  ValidationError,
} from '@herald/core';
import { z } from 'zod';
import type { Gate } from './_auth';
import { ApiError, toApiError, zodIssues } from './_errors';
import type { Scope } from './keys';
import type { ResolvedOptions } from './options';
import { categoriesOf, flagsOf, isFlagCategory, type PostmasterData } from './postmaster';
import { lastSent } from './_last-sent';

type Id = string | number | null;
interface RpcError {
  code: number;
  message: string;
  data?: { code?: string; field?: string | null };
}
type RpcAnswer = { jsonrpc: '2.0'; id: Id; result: unknown } | { jsonrpc: '2.0'; id: Id; error: RpcError };

const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;
const INVALID_PARAMS = -32602;
const SERVER_ERROR = -32000;
const UNAUTHORIZED = -32001;
const FORBIDDEN = -32003;

/** A method's failure, answered as a JSON-RPC error (HTTP 200, as postmaster did). */
class MethodError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
  }
}

const MiB2 = 2 * 1024 * 1024;
// Go clients send zero values for fields they leave out: "" and null mean absent.
const optionalString = (max: number) =>
  z.preprocess((v) => (v === '' || v === null ? undefined : v), z.string().max(max).optional());
const flags = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const MailParams = z.object({
  to: z.string().min(1).max(256),
  toName: optionalString(256),
  from: z.string().min(1).max(256),
  fromName: optionalString(256),
  subject: z.string().min(1).max(998),
  html: optionalString(MiB2),
  text: optionalString(MiB2),
  replyTo: optionalString(256),
  uniqueArgs: z.preprocess((v) => (v === null ? undefined : v), z.record(z.string().max(256), z.string().max(256)).optional()),
  flags: z.preprocess((v) => (v === null ? undefined : v), flags.optional()),
  uniqueID: optionalString(256),
});
const UpdatePrefsParams = z.object({ email: z.string().min(1).max(256), flags: flags.min(1, 'flags must not be 0: send 1 to opt into every email') });
const GetLastEmailParams = z.object({ to: z.string().min(1).max(256), uniqueID: z.string().min(1).max(256) });
const GetPrefsParams = z.object({ email: z.string().min(1).max(256) });
const MovePrefsParams = z.object({ oldEmail: z.string().min(1).max(256), newEmail: z.string().min(1).max(256) });

/** postmaster's StatDoc.stateFlags bits, from the tracking events Herald keeps (Sent, 1, was never set). */
const STATE_FLAGS: Partial<Record<TrackingEventType, number>> = { delivered: 2, complained: 4, bounced: 8, rejected: 16, opened: 32 };
const STATUS_FLAGS: Partial<Record<Delivery['status'], number>> = { delivered: 2, opened: 2 | 32, clicked: 2 | 32, complained: 2 | 4, bounced: 8, rejected: 16 };

const SCOPES: Record<string, Scope> = {
  'Postmaster.Enqueue': 'send',
  'Postmaster.GetLastEmail': 'read',
  'Postmaster.GetPrefs': 'read',
  'Postmaster.UpdatePrefs': 'admin',
  'Postmaster.MovePrefs': 'admin',
};

function params<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = zodIssues(parsed.error)[0]!;
  throw new MethodError(INVALID_PARAMS, issue.field ? `${issue.field}: ${issue.message}` : issue.message, issue.field || null);
}

function email(field: string, value: string): string {
  const ok = addressSchemas.email.safeParse(value);
  if (!ok.success) throw new MethodError(INVALID_PARAMS, `${field}: ${ok.error.issues[0]?.message ?? 'must be an email address'}`, field);
  return value;
}

/** A display name made safe for a header: no control characters; `toName` also loses `<` and `>` as in postmaster. */
const displayName = (name: string | undefined, stripAngles: boolean) => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const clean = name?.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return (stripAngles ? clean?.replace(/[<>]/g, '') : clean) || undefined;
};

/** Where each of Herald's issue paths is in postmaster's params. */
function postmasterField(path: string): string {
  if (path.startsWith('data.')) return path.slice(5);
  if (/^recipients\[0\]\.contacts\[0\]/.test(path)) return 'to';
  if (path.startsWith('recipients[0].name')) return 'toName';
  if (path.startsWith('options.options.from')) return 'from';
  if (path.startsWith('options.options.replyTo')) return 'replyTo';
  if (path.startsWith('options.options.metadata')) return 'uniqueArgs';
  return path;
}

export interface RpcDeps {
  herald: Herald;
  notification: Notification;
  gate: Gate;
  settings: ResolvedOptions;
  logger: Logger;
}

export function createRpcHandler(deps: RpcDeps): (headers: Headers, body: string) => Promise<Response> {
  const { herald, settings, logger } = deps;
  const table = settings.rpc.flags;
  const notification = deps.notification as Notification<z.ZodType<PostmasterData>>;
  const keyless = settings.auth === 'none' || settings.rpc.auth === 'none';
  // pmFlags carries the call's flags to GetLastEmail's emailFlags; only where every email backend keeps metadata.
  const keepsFlags = herald.backends.filter((b) => b.protocol === 'email').every((b) => b.capabilities.metadata);
  const prefKey = (address: string) => normalizeAddress('email', address);

  const methods: Record<string, (p: unknown) => Promise<unknown>> = {
    async 'Postmaster.Enqueue'(raw) {
      const mail = params(MailParams, raw);
      if (mail.to.endsWith('@test')) throw new MethodError(SERVER_ERROR, 'to address cannot end in @test.com', 'to');
      if (!mail.html && !mail.text) throw new MethodError(SERVER_ERROR, 'you must send either html or text');
      email('to', mail.to);
      email('from', mail.from);
      if (mail.replyTo) email('replyTo', mail.replyTo);
      const categories = categoriesOf(mail.flags ?? 0, table);
      if (categories.length) {
        const optedOut = await herald.preferences.get(prefKey(mail.to));
        // postmaster drops an opted-out email silently and still answers success.
        if (categories.some((c) => optedOut.includes(c))) return { success: true };
      }
      const fromName = displayName(mail.fromName, false);
      const toName = displayName(mail.toName, true);
      const metadata: Record<string, string> = { ...mail.uniqueArgs };
      if (mail.flags && keepsFlags) metadata.pmFlags = String(mail.flags);
      const data: PostmasterData = { subject: mail.subject };
      if (mail.html) data.html = mail.html;
      if (mail.text) data.text = mail.text;
      if (mail.uniqueID) data.uniqueID = mail.uniqueID;
      try {
        await herald.notify(notification, data, [{ ...(toName ? { name: toName } : {}), contacts: [{ protocol: 'email', address: mail.to }] }], {
          options: {
            from: fromName ? `"${fromName.replace(/(["\\])/g, '\\$1')}" <${mail.from}>` : mail.from,
            ...(mail.replyTo ? { replyTo: [mail.replyTo] } : {}),
            ...(Object.keys(metadata).length ? { metadata } : {}),
          },
        });
      } catch (error) {
        if (error instanceof ValidationError) {
          const issue = error.issues[0];
          const field = issue ? postmasterField(issue.path) : null;
          throw new MethodError(INVALID_PARAMS, issue ? `${field}: ${issue.message}` : error.message.replace(/^\[herald\] /, ''), field);
        }
        if (error instanceof StoreError) {
          logger.error('Postmaster.Enqueue: store failed', { error: error.message });
          throw new MethodError(SERVER_ERROR, 'Failed to enqueue email');
        }
        throw error;
      }
      return { success: true };
    },

    async 'Postmaster.UpdatePrefs'(raw) {
      const p = params(UpdatePrefsParams, raw);
      const key = prefKey(email('email', p.email));
      // The flags replace the flag categories; categories set through the REST API stay.
      const kept = (await herald.preferences.get(key)).filter((c) => !isFlagCategory(c, table));
      await herald.preferences.set(key, [...kept, ...categoriesOf(p.flags, table)]);
      return { success: true };
    },

    async 'Postmaster.GetPrefs'(raw) {
      const p = params(GetPrefsParams, raw);
      const categories = await herald.preferences.get(prefKey(email('email', p.email)));
      return { flags: flagsOf(categories, table) || 1 };
    },

    async 'Postmaster.MovePrefs'(raw) {
      const p = params(MovePrefsParams, raw);
      const from = await herald.preferences.get(prefKey(email('oldEmail', p.oldEmail)));
      const to = prefKey(email('newEmail', p.newEmail));
      if (from.length) await herald.preferences.set(to, from);
      return { success: true };
    },

    async 'Postmaster.GetLastEmail'(raw) {
      const p = params(GetLastEmailParams, raw);
      const d = await lastSent(herald, { address: p.to, dedupeKey: p.uniqueID, protocol: 'email' });
      if (!d) return { stat: null };
      let stateFlags = STATUS_FLAGS[d.status] ?? 0;
      for (const e of await herald.deliveries.events(d.id)) stateFlags |= STATE_FLAGS[e.eventType] ?? 0;
      const emailFlags = Number(d.message?.options.metadata?.pmFlags ?? 0);
      return {
        stat: {
          recipient: d.address,
          emailFlags: Number.isSafeInteger(emailFlags) ? emailFlags : 0,
          stateFlags,
          uniqueID: d.dedupeKey,
          tsCreated: d.createdAt.getTime() / 1000,
          tsUpdated: d.updatedAt.getTime() / 1000,
          error: d.lastError ?? '',
        },
      };
    },
  };

  async function call(request: unknown, key: ApiKeyRecord | null, single: boolean): Promise<RpcAnswer | null> {
    const r = request as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown } | null;
    const id: Id = r && typeof r === 'object' && (typeof r.id === 'string' || typeof r.id === 'number') ? r.id : null;
    const notification = !!r && typeof r === 'object' && !Array.isArray(r) && !('id' in r);
    try {
      if (!r || typeof r !== 'object' || Array.isArray(r) || r.jsonrpc !== '2.0' || typeof r.method !== 'string') {
        throw new MethodError(INVALID_REQUEST, 'not a JSON-RPC 2.0 request: { "jsonrpc": "2.0", "method": "Postmaster.Enqueue", "params": {…}, "id": 1 }');
      }
      const method = methods[r.method];
      const scope = SCOPES[r.method];
      if (!method || !scope) throw new MethodError(METHOD_NOT_FOUND, `method not found: ${r.method}; methods: ${Object.keys(methods).join(', ')}`);
      if (key && settings.auth !== 'none') {
        try {
          deps.gate.authorize(key, scope);
        } catch (error) {
          if (single) throw error;
          throw new MethodError(FORBIDDEN, (error as ApiError).message);
        }
      }
      const result = await method(r.params);
      return notification ? null : { jsonrpc: '2.0', id, result };
    } catch (error) {
      if (error instanceof ApiError) throw error;
      if (notification) return null;
      if (error instanceof MethodError) {
        return { jsonrpc: '2.0', id, error: { code: error.code, message: error.message, ...(error.field ? { data: { field: error.field } } : {}) } };
      }
      const api = toApiError(error, logger);
      return { jsonrpc: '2.0', id, error: { code: SERVER_ERROR, message: api.message, data: { code: api.code, field: api.field } } };
    }
  }

  return async function handleRpc(headers, body) {
    const type = headers.get('content-type')?.split(';')[0]?.trim() ?? '';
    if (!/^application\/json$/i.test(type)) {
      throw new ApiError(415, 'unsupported_media_type', `JSON-RPC needs Content-Type: application/json (got ${type || 'none'})`);
    }
    const key = await deps.gate.identify(headers.get('authorization') ?? undefined, keyless);
    deps.gate.limit(key);
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch (error) {
      return answer({ jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR, message: `parse error: ${(error as Error).message}` } });
    }
    if (Array.isArray(request)) {
      if (request.length === 0) return answer({ jsonrpc: '2.0', id: null, error: { code: INVALID_REQUEST, message: 'an empty batch' } });
      const answers: RpcAnswer[] = [];
      for (const item of request) {
        const a = await call(item, key, false);
        if (a) answers.push(a);
      }
      return answers.length ? answer(answers) : new Response(null, { status: 204 });
    }
    const a = await call(request, key, true);
    return a ? answer(a) : new Response(null, { status: 204 });
  };
}

function answer(body: RpcAnswer | RpcAnswer[], status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
}

/** A transport failure on `/rpc` (key, scope, size, rate, media type): its HTTP status, with a JSON-RPC error body. */
export function rpcErrorResponse(error: unknown, logger: Logger): Response {
  const api = toApiError(error, logger);
  const code = api.status === 401 ? UNAUTHORIZED : api.status === 403 ? FORBIDDEN : SERVER_ERROR;
  const response = answer({ jsonrpc: '2.0', id: null, error: { code, message: api.message, data: { code: api.code, field: api.field } } }, api.status);
  for (const [name, value] of Object.entries(api.headers)) response.headers.set(name, value);
  return response;
}
