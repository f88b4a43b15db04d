import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DELIVERY_STATUSES, type Herald, type HeraldWorker } from '@herald/core';
import { Gauge, Histogram, Registry } from 'prom-client';

/** Send-duration buckets in seconds: loopback SMTP answers in milliseconds, slow providers in tens of seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface WorkerMetrics {
  readonly registry: Registry;
  /** Read the store's counts into the gauges (once per scrape). */
  refresh(): Promise<void>;
  dispose(): void;
}

/**
 * The worker's Prometheus metrics: deliveries by status and the queue from the store at scrape time, and a
 * send-duration histogram fed by every attempt this process records (`herald.on('attempt')`).
 */
export function workerMetrics(herald: Herald): WorkerMetrics {
  const registry = new Registry();
  const deliveries = new Gauge({ name: 'herald_deliveries', help: 'Deliveries in the store, by status.', labelNames: ['status'], registers: [registry] });
  const depth = new Gauge({ name: 'herald_queue_depth', help: 'Deliveries waiting to be sent (queued or retrying, scheduled ones included).', registers: [registry] });
  const oldest = new Gauge({
    name: 'herald_oldest_due_age_seconds',
    help: 'How long the most overdue delivery has been due (0 when nothing is overdue).',
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'herald_send_duration_seconds',
    help: 'Duration of send attempts made by this process, by backend and outcome.',
    labelNames: ['backend', 'outcome'],
    buckets: BUCKETS,
    registers: [registry],
  });
  const off = herald.on('attempt', (attempt) => {
    duration.observe({ backend: attempt.backend ?? 'none', outcome: attempt.outcome }, attempt.durationMs / 1000);
  });
  return {
    registry,
    async refresh() {
      const [counts, due] = await Promise.all([herald.deliveries.count(), herald.store.nextDueAt()]);
      for (const status of DELIVERY_STATUSES) deliveries.set({ status }, counts[status] ?? 0);
      depth.set((counts.queued ?? 0) + (counts.retrying ?? 0));
      oldest.set(due ? Math.max(0, (Date.now() - due.getTime()) / 1000) : 0);
    },
    dispose: off,
  };
}

export interface HealthServer {
  readonly url: string;
  close(): Promise<void>;
}

/** `GET /healthz` (200 while the worker runs and the store answers, else 503) and `GET /metrics`. */
export function serveHealth(herald: Herald, worker: HeraldWorker, metrics: WorkerMetrics, options: { port: number; host: string }): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      herald.store
        .nextDueAt()
        .then(
          () => (worker.running ? { code: 200, body: { status: 'ok', worker: worker.id } } : { code: 503, body: { status: 'stopping', worker: worker.id } }),
          (error: unknown) => ({ code: 503, body: { status: 'store unreachable', worker: worker.id, error: String((error as Error).message ?? error) } }),
        )
        .then(({ code, body }) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body)));
      return;
    }
    if (path === '/metrics') {
      metrics
        .refresh()
        .then(() => metrics.registry.metrics())
        .then(
          (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
          (error: unknown) => res.writeHead(503, { 'content-type': 'text/plain' }).end(`metrics unavailable: ${(error as Error).message ?? error}\n`),
        );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve({
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
