import { z } from 'zod';
import { ConfigError, UnsupportedFeatureError } from './errors';
import type { Protocol } from './protocols';
import { type Redactor, redactorOf, type Secrets } from './secrets';
import type {
  BackendPolling,
  Backend,
  Capabilities,
  InboundWebhook,
  OutboundMessage,
  SendContext,
  SendOptions,
  SendResult,
  TemplateFormat,
  TrackingWebhook,
} from './types';
import { formatIssues, strictParse } from './options';


/** Options every backend accepts besides its own. */
export interface CommonBackendOptions {
  /** Instance name; defaults to the backend kind. Two backends of one kind need distinct names. */
  name?: string;
  /** Drop unsupported features instead of raising `UnsupportedFeatureError` (anymail's IGNORE_UNSUPPORTED_FEATURES). @default false */
  ignoreUnsupportedFeatures?: boolean;
  /** Mark as a test sink that may receive reserved test addresses (`.test`, `example.com` …). @default false */
  test?: boolean;
  /** Most sends in flight at once for this backend in one worker. @default unlimited (worker concurrency) */
  concurrency?: number;
  /** Sends per second, shared across every worker using the same store. */
  rateLimit?: { perSecond: number };
  /** Default send options (from, reply-to, headers, tags …) merged under each message's. */
  defaults?: SendOptions;
}

const addresses = z.array(z.string());
const strings = z.record(z.string(), z.string());
/** {@link SendOptions}, key by key, so a misspelt default (`defaults.form`) is caught like any other option. */
const sendOptionsSchema = z.object({
  from: z.string().optional(),
  replyTo: addresses.optional(),
  cc: addresses.optional(),
  bcc: addresses.optional(),
  headers: strings.optional(),
  tags: z.array(z.string()).optional(),
  metadata: strings.optional(),
  sendAt: z.string().optional(),
  trackOpens: z.boolean().optional(),
  trackClicks: z.boolean().optional(),
  providerOptions: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

const commonSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes').optional(),
  ignoreUnsupportedFeatures: z.boolean().optional(),
  test: z.boolean().optional(),
  concurrency: z.number().int('must be a whole number').positive('must be at least 1').optional(),
  rateLimit: z.object({ perSecond: z.number().positive('must be more than 0') }).optional(),
  defaults: sendOptionsSchema.optional(),
});
const COMMON_KEYS = Object.keys(commonSchema.shape);

/** What a backend's `setup` returns: the send function and optional extras. */
export interface BackendImplementation {
  send(message: OutboundMessage, context: SendContext): Promise<SendResult>;
  validateAddress?(address: string): string | null;
  webhooks?: { tracking?: TrackingWebhook; inbound?: InboundWebhook };
  /**
   * A harmless call that proves the provider is reachable with these credentials (SMTP `NOOP` after login, an
   * account lookup …), for `herald check --ping`. Throws a Herald error when it is not; sends nothing.
   */
  ping?(): Promise<void>;
  /** Status polling for providers that can be asked about a message (see {@link BackendPolling}). */
  poll?: BackendPolling;
  close?(): Promise<void>;
}



export interface BackendSetupContext {
  /** The instance name. */
  name: string;
  ignoreUnsupportedFeatures: boolean;
  /** What the `secrets` hook declared, learnt in all its forms: redact what the backend keeps of an answer with it. */
  secrets: Redactor;
}

/** How a backend package describes itself to core. */
export interface BackendDefinition<P extends Protocol, S extends z.ZodType> {
  /** The backend kind, e.g. `postmark`. */
  name: string;
  /** npm package, named in "install it" errors. */
  package?: string;
  protocol: P;
  /** Template formats it renders, preferred first. */
  formats: readonly TemplateFormat[];
  /** zod schema of its own options (validated when the factory is called). */
  options: S;
  capabilities?: Partial<Capabilities>;
  /** Escape applied to data values rendered into `text` templates. */
  escapeText?: (value: string) => string;
  /** The option values that are secrets (redacted from every error, attempt and log line, in every encoded form);
   *  return `secretsOf(values, { basicAuth, keys })` when the backend also sends them as basic auth or decoded keys. */
  secrets?: (options: z.output<S>) => Secrets;
  setup(options: z.output<S>, context: BackendSetupContext): BackendImplementation;
}

export const DEFAULT_CAPABILITIES: Capabilities = {
  attachments: false,
  inlineAttachments: false,
  cc: false,
  bcc: false,
  replyTo: false,
  headers: false,
  maxTags: 0,
  metadata: false,
  sendAt: false,
  trackOpens: false,
  trackClicks: false,
  providerOptions: false,
  tracking: [],
  inbound: false,
};

/** Options a backend factory accepts: its own plus {@link CommonBackendOptions}. */
export type BackendOptions<S extends z.ZodType> = string extends keyof z.input<S> ? CommonBackendOptions : z.input<S> & CommonBackendOptions;

/**
 * Define a backend plugin. Returns a factory that validates options at start-up and builds a {@link Backend}.
 *
 * @example
 * ```ts
 * export const smtp = defineBackend({
 *   name: 'smtp', protocol: 'email', formats: ['html', 'markdown', 'blocks'],
 *   options: z.object({ host: z.string(), port: z.number() }),
 *   capabilities: { attachments: true },
 *   setup: (opts) => ({ async send(message) { ...; return { messageId } } }),
 * });
 * const backend = smtp({ host: '127.0.0.1', port: 2525 });
 * ```
 */
export function defineBackend<P extends Protocol, S extends z.ZodType>(
  definition: BackendDefinition<P, S>,
): (options: BackendOptions<S>) => Backend<P> {
  return function createBackend(input: BackendOptions<S>): Backend<P> {
    const raw = (input ?? {}) as Record<string, unknown>;
    const { name, ignoreUnsupportedFeatures, test, concurrency, rateLimit, defaults, ...own } = raw;
    const label = typeof name === 'string' ? name : definition.name;
    // One list for both halves, so `concurency` and `hots` are reported together, each with its closest key.
    const common = strictParse(commonSchema, { name, ignoreUnsupportedFeatures, test, concurrency, rateLimit, defaults }, 'options');
    const parsed = strictParse(definition.options, own, 'options', { alsoKnown: COMMON_KEYS });
    if (!common.ok || !parsed.ok) {
      const all = [...(common.ok ? [] : common.issues), ...(parsed.ok ? [] : parsed.issues)];
      const issues = [...all.filter((i) => i.unknownKey), ...all.filter((i) => !i.unknownKey)];
      throw new ConfigError(`invalid options:${formatIssues(issues)}`, { backend: label, field: issues[0]?.field });
    }
    const options = parsed.data as z.output<S>;
    const ignore = ignoreUnsupportedFeatures === true;
    const secrets = redactorOf(definition.secrets?.(options));
    const impl = definition.setup(options, { name: label, ignoreUnsupportedFeatures: ignore, secrets });
    const backend: Backend<P> = {
      name: label,
      kind: definition.name,
      protocol: definition.protocol,
      formats: definition.formats,
      capabilities: { ...DEFAULT_CAPABILITIES, ...definition.capabilities },
      ignoreUnsupportedFeatures: ignore,
      test: test === true,
      concurrency: concurrency as number | undefined,
      rateLimit: rateLimit as { perSecond: number } | undefined,
      escapeText: definition.escapeText,
      defaults: (defaults ?? {}) as SendOptions,
      // Every caller (worker, tests, user code) gets the declared capabilities enforced, not only notify().
      send: (message, context) => impl.send(applyCapabilities(backend, message), context),
      webhooks: impl.webhooks,
      // The learnt list: `redact(text, backend.secrets)` reuses every form computed here.
      secrets: secrets.secrets,
    };
    if (impl.validateAddress) backend.validateAddress = impl.validateAddress;
    if (impl.close) backend.close = impl.close;
    if (impl.ping) backend.ping = impl.ping;
    if (impl.poll) backend.poll = impl.poll;
    return backend;
  };
}

/**
 * anymail's unsupported-feature rule in one place: raise `UnsupportedFeatureError`, or — when the backend ignores
 * unsupported features — return without raising so the caller drops the feature.
 */
export function unsupportedFeature(backend: Pick<Backend, 'name' | 'ignoreUnsupportedFeatures'>, feature: string): void {
  if (!backend.ignoreUnsupportedFeatures) throw new UnsupportedFeatureError(backend.name, feature);
}

/**
 * Check a message against the backend's capabilities. Unsupported features raise, or are removed from the
 * returned copy when the backend ignores unsupported features (too many tags keep the first ones). A message that
 * needs no change is returned as is: this runs before every send, so the common case allocates nothing.
 */
export function applyCapabilities(backend: Backend, message: OutboundMessage): OutboundMessage {
  const caps = backend.capabilities;
  let options: SendOptions = message.options;
  let copied = false;
  const writable = (): SendOptions => {
    if (!copied) {
      options = { ...options };
      copied = true;
    }
    return options;
  };
  let attachments = message.attachments;
  const drop = (feature: string, key: keyof SendOptions) => {
    unsupportedFeature(backend, feature);
    delete writable()[key];
  };
  if (attachments.length && !caps.attachments) {
    unsupportedFeature(backend, 'attachments');
    attachments = [];
  }
  if (attachments.some((a) => a.contentId) && !caps.inlineAttachments) {
    unsupportedFeature(backend, 'inline attachments');
    attachments = attachments.filter((a) => !a.contentId);
  }
  if (options.cc?.length && !caps.cc) drop('cc', 'cc');
  if (options.bcc?.length && !caps.bcc) drop('bcc', 'bcc');
  if (options.replyTo?.length && !caps.replyTo) drop('reply-to', 'replyTo');
  if (options.headers && Object.keys(options.headers).length && !caps.headers) drop('custom headers', 'headers');
  if (options.metadata && Object.keys(options.metadata).length && !caps.metadata) drop('metadata', 'metadata');
  if (options.sendAt && !caps.sendAt) drop('sendAt (scheduled send)', 'sendAt');
  if (options.trackOpens !== undefined && !caps.trackOpens) drop('trackOpens', 'trackOpens');
  if (options.trackClicks !== undefined && !caps.trackClicks) drop('trackClicks', 'trackClicks');
  if (options.tags?.length && options.tags.length > caps.maxTags) {
    unsupportedFeature(backend, caps.maxTags === 0 ? 'tags' : caps.maxTags === 1 ? 'multiple tags' : `more than ${caps.maxTags} tags`);
    const kept = options.tags.slice(0, caps.maxTags);
    if (kept.length) writable().tags = kept;
    else delete writable().tags;
  }
  const extra = options.providerOptions?.[backend.name] ?? options.providerOptions?.[backend.kind];
  if (extra && Object.keys(extra).length && !caps.providerOptions) drop('providerOptions', 'providerOptions');
  return copied || attachments !== message.attachments ? { ...message, options, attachments } : message;
}

/** The provider options addressed to this backend (by instance name, then kind). */
export function providerOptionsFor(backend: Pick<Backend, 'name' | 'kind'>, message: OutboundMessage): Record<string, unknown> {
  return (message.options.providerOptions?.[backend.name] ?? message.options.providerOptions?.[backend.kind] ?? {}) as Record<string, unknown>;
}

type PlainObject = Record<string, unknown>;
const isPlainObject = (v: unknown): v is PlainObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deep-merge `extra` into a copy of `base` — how `providerOptions` (anymail's `esp_extra`) meet a provider payload:
 * objects merge key by key, anything else replaces.
 *
 * @example
 * ```ts
 * deepMerge({ a: { b: 1 }, tag: 'x' }, { a: { c: 2 }, tag: 'y' }); // { a: { b: 1, c: 2 }, tag: 'y' }
 * ```
 */
export function deepMerge(base: PlainObject, extra: PlainObject): PlainObject {
  const out: PlainObject = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}
