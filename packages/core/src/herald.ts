import { z } from 'zod';
import type {
  DeliveryChange,
  DrainResult,
  Herald,
  HeraldEvents,
  HeraldOptions,
  HeraldWorker,
  NotifyOptions,
  NotifyResult,
  PreviewMessage,
  SiteContact,
  SkippedContact,
  WorkerOptions,
} from './api';
import { applyCapabilities } from './backend';
import { ConfigError, NotFoundError, RequiredNotificationError, ValidationError, type ValidationIssue } from './errors';
import { newId } from './ids';
import { type Contact, type Notification, type Recipient, toMs } from './notification';
import { addressSchemas, isProtocol, isTestAddress, normalizeAddress, PROTOCOLS, type Protocol } from './protocols';
import { resolveRetry } from './retry';
import { type CompiledTemplate, compileTemplate, loadTemplatesDir } from './templates';
import type { RenderScope } from './templates/compile';
import type {
  Attachment,
  Backend,
  Delivery,
  NewDelivery,
  OutboundMessage,
  SendOptions,
  SkipReason,
  TemplateSpec,
} from './types';
import { createWebhookHandler } from './webhooks';
import { Worker } from './worker';
import { issuesOf } from './_zod';
import { resolveLogger } from './_logger';

const durationSchema = z.union([z.number().nonnegative(), z.string().regex(/^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/, 'must be a duration like "30s", "15m", "24h"')]);

const optionsSchema = z.object({
  store: z.custom<HeraldOptions['store']>(
    (v) => !!v && typeof v === 'object' && typeof (v as { enqueue?: unknown }).enqueue === 'function' && typeof (v as { claim?: unknown }).claim === 'function',
    'must be a Store (e.g. sqliteStore({ path: "herald.db" }) from @herald/store-sqlite)',
  ),
  backends: z.array(
    z.custom<Backend>(
      (v) => !!v && typeof v === 'object' && typeof (v as { send?: unknown }).send === 'function' && isProtocol((v as { protocol?: unknown }).protocol),
      'must be a backend created by a backend factory, e.g. smtp({ ... }) from @herald/backend-smtp',
    ),
  ),
  notifications: z.array(
    z.custom<Notification>((v) => !!v && typeof v === 'object' && (v as { kind?: unknown }).kind === 'herald.notification', 'must be created with defineNotification()'),
  ),
  templatesDir: z.string().optional(),
  siteContacts: z
    .array(
      z.object({
        name: z.string().optional(),
        protocol: z.enum(PROTOCOLS),
        address: z.string(),
        backend: z.string().optional(),
        only: z.array(z.string()).optional(),
        except: z.array(z.string()).optional(),
      }),
    )
    .optional(),
  routing: z.partialRecord(z.enum(PROTOCOLS), z.enum(['failover', 'round-robin'])).optional(),
  retry: z
    .object({
      maxAttempts: z.number().int().min(1).optional(),
      maxAge: durationSchema.optional(),
      backoff: z.union([z.function(), z.object({ type: z.enum(['exponential', 'fixed']), delay: durationSchema, maxDelay: durationSchema.optional(), jitter: z.enum(['full', 'none']).optional() })]).optional(),
    })
    .optional(),
  logger: z.union([z.literal(false), z.object({ warn: z.function(), error: z.function() }).passthrough()]).optional(),
  webhooks: z.object({ maxBodyBytes: z.number().int().positive().optional() }).optional(),
});

type Listeners = { [E in keyof HeraldEvents]: Set<HeraldEvents[E]> };

/**
 * Create a Herald instance: validates the configuration (errors name the field), compiles every template
 * (syntax errors name the notification, channel and line), and runs the store's migrations on first use.
 *
 * @example
 * ```ts
 * const herald = createHerald({
 *   store: sqliteStore({ path: 'herald.db' }),
 *   backends: [smtp({ host: '127.0.0.1', port: 2525 })],
 *   notifications: [orderShipped],
 * });
 * await herald.notify(orderShipped, { orderId: 'A1' }, [{ id: 'u1', contacts: [{ protocol: 'email', address: 'ada@shop.dev' }] }]);
 * await herald.drain();
 * ```
 */
export function createHerald(options: HeraldOptions): Herald {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error, 'options');
    throw new ConfigError(`invalid createHerald options:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, { field: issues[0]?.path });
  }
  const { store } = options;
  const logger = resolveLogger(options.logger);
  const retry = resolveRetry(options.retry);
  const backends = new Map<string, Backend>();
  for (const [i, backend] of options.backends.entries()) {
    if (backends.has(backend.name)) {
      throw new ConfigError(`two backends are named "${backend.name}"; give one a distinct name option`, { field: `options.backends[${i}].name` });
    }
    backends.set(backend.name, backend);
  }
  const byProtocol = new Map<Protocol, Backend[]>();
  for (const backend of backends.values()) byProtocol.set(backend.protocol, [...(byProtocol.get(backend.protocol) ?? []), backend]);

  const notifications = new Map<string, Notification>();
  for (const [i, n] of options.notifications.entries()) {
    if (notifications.has(n.id)) throw new ConfigError(`two notifications have the id "${n.id}"`, { field: `options.notifications[${i}].id` });
    notifications.set(n.id, n);
  }

  // Collect template specs per notification and channel: inline first, then files (a clash is an error).
  const specs = new Map<string, Map<string, { spec: TemplateSpec; file?: string }>>();
  for (const n of notifications.values()) {
    const own = new Map<string, { spec: TemplateSpec; file?: string }>();
    for (const [channel, spec] of Object.entries(n.templates ?? {})) own.set(channel, { spec });
    specs.set(n.id, own);
  }
  if (options.templatesDir) {
    for (const t of loadTemplatesDir(options.templatesDir)) {
      const own = specs.get(t.notification);
      if (!own) continue;
      if (own.has(t.channel)) {
        throw new ConfigError(`notification "${t.notification}" has both an inline template and ${t.file} for "${t.channel}"; keep one`, { field: 'templatesDir' });
      }
      own.set(t.channel, { spec: t.spec, file: t.file });
    }
  }
  // Compile per (notification, backend): the backend's own template wins over its protocol's.
  const compiled = new Map<string, Map<string, CompiledTemplate>>();
  const standalone = new Map<string, CompiledTemplate[]>();
  for (const [id, own] of specs) {
    const perBackend = new Map<string, CompiledTemplate>();
    for (const channel of own.keys()) {
      if (!isProtocol(channel) && !backends.has(channel)) {
        throw new ConfigError(
          `notification "${id}" has a template for "${channel}", which is neither a protocol (${PROTOCOLS.join(', ')}) nor a configured backend (${[...backends.keys()].join(', ') || 'none'})`,
          { field: `notifications.${id}.templates.${channel}` },
        );
      }
    }
    for (const backend of backends.values()) {
      const channel = own.has(backend.name) ? backend.name : own.has(backend.protocol) ? backend.protocol : null;
      if (!channel) continue;
      const { spec, file } = own.get(channel)!;
      if (!backend.formats.includes(spec.format)) {
        throw new ConfigError(
          `notification "${id}": the ${channel} template is in format "${spec.format}", but backend "${backend.name}" renders ${backend.formats.join(', ')}. Write a ${backend.formats[0]} template for "${backend.name}" or "${backend.protocol}".`,
          { field: `notifications.${id}.templates.${channel}.format` },
        );
      }
      const location = { notification: id, channel, ...(file ? { file } : {}), ...(backend.escapeText ? { escapeText: backend.escapeText } : {}) };
      perBackend.set(backend.name, compileTemplate(spec, location));
    }
    compiled.set(id, perBackend);
    // Templates for protocols with no backend here are still compiled, so preview() and syntax checks cover them.
    const extra: CompiledTemplate[] = [];
    for (const [channel, { spec, file }] of own) {
      if (isProtocol(channel) && !byProtocol.has(channel)) extra.push(compileTemplate(spec, { notification: id, channel, ...(file ? { file } : {}) }));
    }
    standalone.set(id, extra);
  }

  const siteContacts: SiteContact[] = options.siteContacts ?? [];
  for (const [i, sc] of siteContacts.entries()) {
    const ok = addressSchemas[sc.protocol].safeParse(sc.address);
    if (!ok.success) throw new ConfigError(`site contact ${sc.name ?? sc.address}: address ${ok.error.issues[0]?.message}`, { field: `options.siteContacts[${i}].address` });
  }

  const routing = options.routing ?? {};
  const rrCursor = new Map<Protocol, number>();
  const listeners: Listeners = { delivery: new Set(), tracking: new Set(), inbound: new Set(), error: new Set() };
  const workers = new Set<Worker>();
  let migrated: Promise<void> | null = null;
  const ready = () => {
    if (!migrated) {
      migrated = store.migrate();
      migrated.catch(() => {
        migrated = null;
      });
    }
    return migrated;
  };

  const emitError = (error: unknown) => {
    if (listeners.error.size === 0) logger.error('listener failed', { error: String(error) });
    for (const l of listeners.error) l(error);
  };
  const emitDelivery = (delivery: Delivery, change: DeliveryChange) => {
    for (const l of listeners.delivery) {
      try {
        l(delivery, change);
      } catch (error) {
        emitError(error);
      }
    }
  };

  function registered(notification: Notification): Notification {
    const n = notification && typeof notification === 'object' ? notifications.get(notification.id) : undefined;
    if (!n) {
      throw new ValidationError(`unknown notification "${(notification as { id?: string })?.id ?? String(notification)}": pass it to createHerald({ notifications: [...] })`, [
        { path: 'notification', message: `registered: ${[...notifications.keys()].join(', ') || 'none'}` },
      ]);
    }
    return n;
  }

  /** Pick the backend for a contact: explicit, else by protocol (failover = first with a template; round-robin). */
  function route(n: Notification, protocol: Protocol, explicit: string | undefined): { backend: Backend | null; template: CompiledTemplate | null } {
    const templates = compiled.get(n.id)!;
    if (explicit) {
      const b = backends.get(explicit)!;
      return { backend: b, template: templates.get(b.name) ?? null };
    }
    const candidates = byProtocol.get(protocol);
    if (!candidates?.length) return { backend: null, template: null };
    const usable = candidates.filter((b) => templates.has(b.name));
    if (!usable.length) return { backend: candidates[0]!, template: null };
    let pick = usable[0]!;
    if (routing[protocol] === 'round-robin' && usable.length > 1) {
      const i = rrCursor.get(protocol) ?? 0;
      pick = usable[i % usable.length]!;
      rrCursor.set(protocol, i + 1);
    }
    return { backend: pick, template: templates.get(pick.name)! };
  }

  async function notify(notification: Notification, data: unknown, recipients: readonly Recipient[], callOptions: NotifyOptions = {}): Promise<NotifyResult> {
    const n = registered(notification);
    const issues: ValidationIssue[] = [];
    const parsedData = n.schema.safeParse(data);
    if (!parsedData.success) issues.push(...issuesOf(parsedData.error, 'data'));
    if (!Array.isArray(recipients)) {
      throw new ValidationError(`notify("${n.id}"): recipients must be an array of { id?, name?, contacts: [{ protocol, address }] }`, [{ path: 'recipients', message: 'not an array' }]);
    }

    interface Target {
      recipient: Recipient | null;
      contact: Contact & { protocol: Protocol };
      /** Normalized address (dedupe, suppression, preferences), computed once. */
      norm: string;
      /** Where the contact came from, for error messages (built only when needed). */
      where: () => { path: string; label: string };
    }
    const targets: Target[] = [];
    recipients.forEach((recipient, ri) => {
      if (!recipient || !Array.isArray(recipient.contacts)) {
        issues.push({ path: `recipients[${ri}].contacts`, message: 'must be an array of { protocol, address }' });
        return;
      }
      const contacts: Contact[] = recipient.contacts;
      contacts.forEach((contact, ci) => {
        const where = () => ({
          path: `recipients[${ri}].contacts[${ci}]`,
          label: `contact ${contact?.protocol}:${contact?.address}${recipient.id ? ` of recipient "${recipient.id}"` : ''}`,
        });
        if (!contact || !isProtocol(contact.protocol)) {
          const { path, label } = where();
          issues.push({ path: `${path}.protocol`, message: `${label}: unknown protocol "${contact?.protocol}"; use one of ${PROTOCOLS.join(', ')}` });
          return;
        }
        const checked = addressSchemas[contact.protocol].safeParse(contact.address);
        if (!checked.success) {
          const { path, label } = where();
          issues.push({ path: `${path}.address`, message: `${label}: ${checked.error.issues[0]?.message ?? 'invalid address'}` });
          return;
        }
        if (contact.backend !== undefined) {
          const b = backends.get(contact.backend);
          if (!b || b.protocol !== contact.protocol) {
            const { path, label } = where();
            issues.push({ path: `${path}.backend`, message: `${label}: no ${contact.protocol} backend named "${contact.backend}"` });
            return;
          }
        }
        targets.push({ recipient, contact: contact as Contact & { protocol: Protocol }, norm: normalizeAddress(contact.protocol, contact.address), where });
      });
    });
    if (n.siteContacts !== false) {
      for (const sc of siteContacts) {
        if (sc.only && !sc.only.includes(n.id)) continue;
        if (sc.except?.includes(n.id)) continue;
        const contact: Contact & { protocol: Protocol } = { protocol: sc.protocol, address: sc.address, ...(sc.backend ? { backend: sc.backend } : {}) };
        targets.push({ recipient: null, contact, norm: normalizeAddress(contact.protocol, contact.address), where: () => ({ path: 'siteContacts', label: `site contact ${sc.name ?? sc.address}` }) });
      }
    }

    await ready();
    // Preferences and suppressions, looked up in bulk.
    const prefKeys = new Set<string>();
    const byProto = new Map<Protocol, Set<string>>();
    for (const t of targets) {
      if (t.recipient?.id) prefKeys.add(t.recipient.id);
      const norm = t.norm;
      prefKeys.add(norm);
      if (!byProto.has(t.contact.protocol)) byProto.set(t.contact.protocol, new Set());
      byProto.get(t.contact.protocol)!.add(norm);
    }
    const optOuts = n.category && !n.required ? await store.getOptOuts([...prefKeys]) : new Map<string, string[]>();
    const suppressed = new Map<Protocol, Set<string>>();
    for (const [protocol, set] of byProto) suppressed.set(protocol, new Set((await store.suppressed(protocol, [...set])).keys()));

    const batchId = newId('b_');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + retry.maxAgeMs);
    const dedupeSince = n.dedupe ? new Date(now.getTime() - toMs(n.dedupe.window)) : null;
    const dataValue = (parsedData.success ? parsedData.data : {}) as Record<string, unknown>;
    const dedupeKey = n.dedupe && parsedData.success ? n.dedupe.key(parsedData.data) : null;
    const memo = new Map<unknown, unknown>();
    let attachments: Attachment[] | null = null;
    // Options and attachments are the same for every message of one backend in a call: merge and check them once.
    const checked = new Map<string, Pick<OutboundMessage, 'options' | 'attachments'>>();
    const seen = new Set<string>();
    const rows: NewDelivery[] = [];
    const skipped: SkippedContact[] = [];

    for (const t of targets) {
      const { contact, recipient, norm } = t;
      const { backend, template } = route(n, contact.protocol, contact.backend);
      let reason: SkipReason | null = null;
      if (!backend) reason = 'no-backend';
      else if (!template) reason = 'no-template';
      else if (isTestAddress(contact.protocol, contact.address) && !backend.test) reason = 'test-address';
      else if (n.category && !n.required && (recipient?.optOut?.includes(n.category) || optOuts.get(recipient?.id ?? '\u0000')?.includes(n.category) || optOuts.get(norm)?.includes(n.category))) reason = 'opted-out';
      else if (suppressed.get(contact.protocol)?.has(norm)) reason = 'suppressed';
      else if (seen.has(`${backend.name}\u0000${norm}`)) reason = 'duplicate';
      if (backend && !reason && backend.validateAddress) {
        const problem = backend.validateAddress(contact.address);
        if (problem) {
          const { path, label } = t.where();
          issues.push({ path: `${path}.address`, message: `${label}: ${problem}` });
        }
      }
      const id = newId('d_');
      // Rows are built as literals, never by spreading a shared base: V8 gives an 18-property object made by
      // spread a dictionary backing store, several times larger — measured, half the promoted heap of a
      // 20,000-delivery notify().
      const row = (status: NewDelivery['status']): NewDelivery => ({
        id,
        batchId,
        notification: n.id,
        category: n.category ?? null,
        recipientId: recipient?.id ?? null,
        protocol: contact.protocol,
        address: contact.address,
        backend: backend?.name ?? null,
        maxAttempts: retry.maxAttempts,
        createdAt: now,
        status,
        skipReason: null,
        dedupeKey: null,
        dedupeSince: null,
        dedupeAddress: null,
        message: null,
        nextAttemptAt: null,
        expiresAt: null,
      });
      if (reason || !backend || !template) {
        const why = reason ?? 'no-template';
        const skippedRow = row('skipped');
        skippedRow.skipReason = why;
        rows.push(skippedRow);
        skipped.push({ recipientId: skippedRow.recipientId, protocol: contact.protocol, address: contact.address, backend: skippedRow.backend, reason: why, deliveryId: id });
        continue;
      }
      seen.add(`${backend.name}\u0000${norm}`);
      if (!parsedData.success) continue;
      const recipientView = recipient ? { ...(recipient.id ? { id: recipient.id } : {}), ...(recipient.name ? { name: recipient.name } : {}) } : {};
      const scope: RenderScope = { data: dataValue, recipient: recipientView, contact: { protocol: contact.protocol, address: contact.address }, memo };
      const content = template.render(scope);
      if (n.attachments && backend.capabilities.attachments && attachments === null) attachments = toAttachments(await n.attachments(parsedData.data));
      const message: OutboundMessage = {
        deliveryId: id,
        notification: n.id,
        protocol: contact.protocol,
        backend: backend.name,
        to: contact.address,
        recipient: recipientView,
        content,
        attachments: backend.capabilities.attachments ? (attachments ?? []) : [],
        options: {},
      };
      const cached = checked.get(backend.name);
      if (cached) {
        message.options = cached.options;
        message.attachments = cached.attachments;
      } else {
        message.options = mergeOptions(backend.defaults, n.options, callOptions.options);
        const capped = applyCapabilities(backend, message);
        checked.set(backend.name, { options: capped.options, attachments: capped.attachments });
        message.options = capped.options;
        message.attachments = capped.attachments;
      }
      const queued = row('queued');
      queued.dedupeKey = dedupeKey;
      queued.dedupeSince = dedupeSince;
      queued.dedupeAddress = dedupeKey ? norm : null;
      queued.message = message;
      queued.nextAttemptAt = now;
      queued.expiresAt = expiresAt;
      rows.push(queued);
    }
    if (issues.length) throw new ValidationError(`notify("${n.id}"): invalid input; nothing was enqueued`, issues);
    const queuedCount = rows.length - skipped.length;
    if (n.required && queuedCount === 0) throw new RequiredNotificationError(n.id, skipped);

    const { duplicates } = await store.enqueue(rows, callOptions.transaction === undefined ? undefined : { transaction: callOptions.transaction });
    const dup = new Set(duplicates);
    const deliveries: Delivery[] = [];
    for (const row of rows) {
      if (row.status === 'skipped') continue;
      if (dup.has(row.id)) {
        skipped.push({ recipientId: row.recipientId, protocol: row.protocol, address: row.address, backend: row.backend, reason: 'duplicate', deliveryId: row.id });
        continue;
      }
      deliveries.push(rowToDelivery(row));
    }
    if (n.required && deliveries.length === 0) throw new RequiredNotificationError(n.id, skipped);
    if (listeners.delivery.size) for (const d of deliveries) emitDelivery(d, { from: null, to: 'queued' });
    return { batchId, deliveries, skipped };
  }

  async function preview(notification: Notification, data: unknown, previewOptions: { recipient?: { id?: string; name?: string } } = {}): Promise<PreviewMessage[]> {
    const n = registered(notification);
    const parsedData = n.schema.safeParse(data);
    if (!parsedData.success) throw new ValidationError(`preview("${n.id}"): invalid data`, issuesOf(parsedData.error, 'data'));
    const recipient = previewOptions.recipient ?? { id: 'preview', name: 'Preview Recipient' };
    const scopeFor = (protocol: Protocol): RenderScope => ({ data: parsedData.data as Record<string, unknown>, recipient, contact: { protocol, address: '' } });
    const out: PreviewMessage[] = [];
    for (const [name, template] of compiled.get(n.id)!) {
      const b = backends.get(name)!;
      out.push({ channel: template.location.channel, backend: name, protocol: b.protocol, content: template.render(scopeFor(b.protocol)) });
    }
    for (const template of standalone.get(n.id) ?? []) {
      const protocol = template.location.channel as Protocol;
      out.push({ channel: protocol, backend: null, protocol, content: template.render(scopeFor(protocol)) });
    }
    return out;
  }

  function startWorker(workerOptions: WorkerOptions = {}, drain = false): Worker {
    const worker = new Worker(
      {
        store,
        backends,
        retry,
        logger,
        emitDelivery,
        observed: () => listeners.delivery.size > 0,
        suppress: async (delivery, reason) => {
          await store.suppress({ protocol: delivery.protocol, address: normalizeAddress(delivery.protocol, delivery.address), reason });
        },
      },
      {
        ...(workerOptions.id ? { id: workerOptions.id } : {}),
        concurrency: workerOptions.concurrency ?? 8,
        leaseMs: toMs(workerOptions.lease ?? '5m', 'worker.lease'),
        sendTimeoutMs: toMs(workerOptions.sendTimeout ?? '60s', 'worker.sendTimeout'),
        pollMs: toMs(workerOptions.pollInterval ?? '1s', 'worker.pollInterval'),
        drain,
      },
    );
    workers.add(worker);
    worker.done.then(() => workers.delete(worker));
    return worker;
  }

  const webhookHandler = createWebhookHandler({
    backends: [...backends.values()],
    store,
    logger,
    maxBodyBytes: options.webhooks?.maxBodyBytes ?? 1_048_576,
    now: () => new Date(),
    emitTracking: async (event, delivery) => {
      for (const l of listeners.tracking) await l(event, delivery);
    },
    emitInbound: async (event, backend) => {
      for (const l of listeners.inbound) await l(event, backend);
    },
    emitDelivery,
  });

  const herald: Herald = {
    notify: notify as Herald['notify'],
    preview: preview as Herald['preview'],
    worker(workerOptions?: WorkerOptions): HeraldWorker {
      const worker = startWorker(workerOptions);
      ready().catch((error) => logger.error('store migration failed', { error: String(error) }));
      return worker;
    },
    async drain(drainOptions = {}): Promise<DrainResult> {
      await ready();
      const worker = startWorker(drainOptions, true);
      await worker.done;
      return worker.result;
    },
    async redeliver(deliveryId) {
      await ready();
      const d = await store.get(deliveryId);
      if (!d) throw new NotFoundError(`no delivery "${deliveryId}"`);
      if (d.status === 'skipped' || !d.message) throw new ValidationError(`delivery "${deliveryId}" was skipped (${d.skipReason}); there is no message to send`);
      if (d.status === 'queued' || d.status === 'sending' || d.status === 'retrying') throw new ValidationError(`delivery "${deliveryId}" is still ${d.status}; it will be sent without redeliver()`);
      const now = new Date();
      const updated = await store.requeue(deliveryId, { now, expiresAt: new Date(now.getTime() + retry.maxAgeMs), maxAttempts: retry.maxAttempts });
      if (!updated) throw new NotFoundError(`no delivery "${deliveryId}"`);
      emitDelivery(updated, { from: d.status, to: 'queued' });
      return updated;
    },
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>;
      set.add(listener);
      return () => set.delete(listener);
    },
    webhooks: {
      async handle(request) {
        await ready();
        return webhookHandler(request);
      },
    },
    deliveries: {
      get: (id) => ready().then(() => store.get(id)),
      list: (filter) => ready().then(() => store.list(filter)),
      count: (filter) => ready().then(() => store.count(filter)),
      attempts: (id) => ready().then(() => store.attempts(id)),
      events: (id) => ready().then(() => store.events(id)),
    },
    preferences: {
      async get(key) {
        await ready();
        return (await store.getOptOuts([key])).get(key) ?? [];
      },
      async set(key, optOut) {
        await ready();
        await store.setOptOuts(key, optOut);
      },
    },
    suppressions: {
      async add(protocol, address, reason) {
        await ready();
        await store.suppress({ protocol, address: normalizeAddress(protocol, address), reason });
      },
      async remove(protocol, address) {
        await ready();
        return store.unsuppress(protocol, normalizeAddress(protocol, address));
      },
      async check(protocol, address) {
        await ready();
        const norm = normalizeAddress(protocol, address);
        return (await store.suppressed(protocol, [norm])).get(norm) ?? null;
      },
    },
    async prune({ olderThan, batchSize }) {
      await ready();
      const cutoff = olderThan instanceof Date ? olderThan : new Date(Date.now() - toMs(olderThan, 'prune.olderThan'));
      return store.prune({ olderThan: cutoff, ...(batchSize ? { batchSize } : {}) });
    },
    store,
    backends: [...backends.values()],
    async close() {
      await Promise.all([...workers].map((w) => w.stop()));
      await Promise.all([...backends.values()].map((b) => b.close?.()));
      await store.close();
    },
  };
  return herald;
}

/** Merge send options: scalars last-wins, lists concatenated, headers/metadata/providerOptions merged (anymail's rules). */
export function mergeOptions(...layers: (SendOptions | undefined)[]): SendOptions {
  const out: SendOptions = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer) as [keyof SendOptions, unknown][]) {
      if (value === undefined) continue;
      const prev = out[key];
      if (Array.isArray(value)) (out as Record<string, unknown>)[key] = [...((prev as unknown[]) ?? []), ...value];
      else if (key === 'providerOptions') {
        const merged: Record<string, unknown> = { ...(prev as object) };
        for (const [b, v] of Object.entries(value as object)) merged[b] = { ...(merged[b] as object), ...(v as object) };
        out.providerOptions = merged as SendOptions['providerOptions'];
      } else if (value && typeof value === 'object') (out as Record<string, unknown>)[key] = { ...(prev as object), ...(value as object) };
      else (out as Record<string, unknown>)[key] = value;
    }
  }
  return out;
}

function toAttachments(list: readonly { filename: string; contentType?: string; content: string | Uint8Array; contentId?: string }[]): Attachment[] {
  return list.map((a) => ({
    filename: a.filename,
    contentType: a.contentType ?? 'application/octet-stream',
    content: Buffer.from(typeof a.content === 'string' ? Buffer.from(a.content, 'utf8') : a.content).toString('base64'),
    ...(a.contentId ? { contentId: a.contentId } : {}),
  }));
}

function rowToDelivery(row: NewDelivery): Delivery {
  return {
    id: row.id,
    batchId: row.batchId,
    notification: row.notification,
    category: row.category,
    recipientId: row.recipientId,
    protocol: row.protocol,
    address: row.address,
    backend: row.backend,
    status: row.status,
    skipReason: row.skipReason,
    dedupeKey: row.dedupeKey,
    attempts: 0,
    maxAttempts: row.maxAttempts,
    providerMessageId: null,
    lastError: null,
    message: row.message,
    createdAt: row.createdAt,
    updatedAt: row.createdAt,
    nextAttemptAt: row.nextAttemptAt,
    expiresAt: row.expiresAt,
    leaseOwner: null,
    leaseUntil: null,
    sentAt: null,
  };
}
