import type { DeliveryChange, DrainResult, FailoverChange, Herald, HeraldEvents, HeraldOptions, HeraldWorker, PreviewMessage, WorkerOptions } from './api';
import { CircuitBreaker } from './circuit';
import { failoverPredicate } from './classify';
import { checkOptions, checkWorkerOptions } from './config';
import { ConfigError, NotFoundError, ValidationError } from './errors';
import { type Notification, toMs } from './notification';
import { createNotifier } from './notify';
import { normalizeAddress, type Protocol } from './protocols';
import { resolveRetry } from './retry';
import { Router } from './routing';
import { createTemplateRegistry } from './templates/registry';
import type { RenderScope } from './templates/compile';
import type { Attempt, Delivery, TrackingEvent } from './types';
import { Poller } from './poller';
import { createWebhookHandler } from './webhooks';
import { Worker } from './worker';
import { closestKey, issuesOf } from './options';
import { resolveLogger } from './_logger';

type Listeners = { [E in keyof HeraldEvents]: Set<HeraldEvents[E]> };

/**
 * Create a Herald instance: validates the configuration (errors name the field), compiles every template
 * (syntax errors name the notification, channel and line), and runs the store's migrations once, before first use.
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
  const { backends, notifications } = checkOptions(options);
  const { store } = options;
  const logger = resolveLogger(options.logger);
  const retry = resolveRetry(options.retry);

  const templates = createTemplateRegistry({
    notifications: [...notifications.values()],
    backends,
    ...(options.templatesDir ? { templatesDir: options.templatesDir } : {}),
    ...options.templates,
  });
  const router = new Router(backends, templates, options.routing ?? {});
  const circuit = options.failover?.circuit ?? { failures: 5, coolDown: '30s' };
  const breaker = circuit === false ? null : new CircuitBreaker(circuit.failures, toMs(circuit.coolDown, 'failover.circuit.coolDown'));
  const listeners: Listeners = { delivery: new Set(), failover: new Set(), attempt: new Set(), tracking: new Set(), inbound: new Set(), error: new Set() };
  const workers = new Set<Worker>();

  // Core is the one owner of migration: every public call awaits it once, before the store is first used.
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
  const emitTo = <A extends unknown[]>(set: Set<(...args: A) => void>, ...args: A) => {
    for (const l of set) {
      try {
        l(...args);
      } catch (error) {
        emitError(error);
      }
    }
  };
  const emitDelivery = (delivery: Delivery, change: DeliveryChange) => emitTo(listeners.delivery, delivery, change);
  const emitFailover = (delivery: Delivery, change: FailoverChange) => emitTo(listeners.failover, delivery, change);
  const emitAttempt = (attempt: Attempt, delivery: Delivery) => {
    if (listeners.attempt.size) emitTo(listeners.attempt, attempt, delivery);
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

  const { notify, prepare } = createNotifier({
    store,
    backends,
    siteContacts: options.siteContacts ?? [],
    router,
    retry,
    ready,
    registered,
    observed: () => listeners.delivery.size > 0,
    emitDelivery,
  });

  async function preview(notification: Notification, data: unknown, previewOptions: { recipient?: { id?: string; name?: string } } = {}): Promise<PreviewMessage[]> {
    const n = registered(notification);
    const parsedData = n.schema.safeParse(data);
    if (!parsedData.success) throw new ValidationError(`preview("${n.id}"): invalid data`, issuesOf(parsedData.error, 'data'));
    const recipient = previewOptions.recipient ?? { id: 'preview', name: 'Preview Recipient' };
    const scopeFor = (protocol: Protocol): RenderScope => ({ data: parsedData.data as Record<string, unknown>, recipient, contact: { protocol, address: '' } });
    const out: PreviewMessage[] = [];
    for (const [name, template] of templates.entries(n.id)) {
      const b = backends.get(name)!;
      out.push({ channel: template.location.channel, backend: name, protocol: b.protocol, content: template.render(scopeFor(b.protocol)) });
    }
    for (const template of templates.standalone(n.id)) {
      const protocol = template.location.channel as Protocol;
      out.push({ channel: protocol, backend: null, protocol, content: template.render(scopeFor(protocol)) });
    }
    return out;
  }

  async function emitTracking(event: TrackingEvent, delivery: Delivery | null): Promise<void> {
    for (const l of listeners.tracking) await l(event, delivery);
  }

  function channels(notification: Notification) {
    const n = registered(notification);
    const out: ReturnType<Herald['channels']> = [];
    for (const [name, template] of templates.entries(n.id)) {
      out.push({ channel: template.location.channel, backend: name, protocol: backends.get(name)!.protocol, format: template.format });
    }
    for (const template of templates.standalone(n.id)) {
      out.push({ channel: template.location.channel, backend: null, protocol: template.location.channel as Protocol, format: template.format });
    }
    return out;
  }

  function startWorker(workerOptions: WorkerOptions, drain: boolean): Worker {
    const settings = checkWorkerOptions(workerOptions, drain ? 'drain' : 'worker');
    for (const name of settings.backends ?? []) {
      if (backends.has(name)) continue;
      const hint = closestKey(name, backends.keys());
      throw new ConfigError(`${drain ? 'drain' : 'worker'}.backends: no backend named "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; backends: ${[...backends.keys()].join(', ')}`, {
        field: `${drain ? 'drain' : 'worker'}.backends`,
      });
    }
    const worker = new Worker(
      {
        store,
        ready,
        backends,
        retry,
        logger,
        emitDelivery,
        emitFailover,
        emitAttempt,
        observed: () => listeners.delivery.size > 0,
        breaker,
        failsOver: (failure, delivery) => failoverPredicate(options.failover?.on, delivery)(failure),
        suppress: async (delivery, reason) => {
          await store.suppress({ protocol: delivery.protocol, address: normalizeAddress(delivery.protocol, delivery.address), reason });
        },
      },
      { ...settings, drain },
    );
    workers.add(worker);
    const poller = drain ? null : new Poller({ store, logger, ready, emitTracking, emitDelivery }, backends.values());
    poller?.start();
    worker.done.then(async () => {
      await poller?.stop();
      workers.delete(worker);
    });
    return worker;
  }

  const webhookHandler = createWebhookHandler({
    backends: [...backends.values()],
    store,
    logger,
    maxBodyBytes: options.webhooks?.maxBodyBytes ?? 1_048_576,
    now: () => new Date(),
    emitTracking,
    emitInbound: async (event, backend) => {
      for (const l of listeners.inbound) await l(event, backend);
    },
    emitDelivery,
  });

  const herald: Herald = {
    notify: notify as Herald['notify'],
    prepare: prepare as Herald['prepare'],
    preview: preview as Herald['preview'],
    channels,
    worker(workerOptions: WorkerOptions = {}): HeraldWorker {
      return startWorker(workerOptions, false);
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
    async cancel(deliveryId, cancelOptions = {}) {
      await ready();
      const reason = cancelOptions.reason ?? 'cancelled';
      const updated = await store.cancel(deliveryId, { now: new Date(), reason });
      if (!updated) throw new NotFoundError(`no delivery "${deliveryId}"`);
      if (updated.status !== 'cancelled') {
        const why = updated.status === 'sending' ? 'is being sent right now' : `is already ${updated.status}`;
        throw new ValidationError(`delivery "${deliveryId}" ${why}; only queued or retrying deliveries can be cancelled`, [{ path: 'deliveryId', message: `status ${updated.status}` }]);
      }
      emitDelivery(updated, { from: null, to: 'cancelled' });
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
      async list(filter) {
        await ready();
        return store.listSuppressions(filter);
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
    notifications: [...notifications.values()],
    async close() {
      await Promise.all([...workers].map((w) => w.stop()));
      await Promise.all([...backends.values()].map((b) => b.close?.()));
      await store.close();
    },
  };
  return herald;
}

export { mergeOptions } from './render';
