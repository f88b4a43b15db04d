import { type Delivery, type Duration, redactAddress, toMs, type WorkerOptions } from '@herald/core';
import type { Command } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import type { HealthServer } from '../_health';
import { createLog } from '../_log';
import { EXIT } from '../_output';
import { duration, list, port, positiveInt } from '../_parse';
import { shutdownOn, sleep } from '../_signals';

interface WorkerCommandOptions extends CommonOptions {
  concurrency?: number;
  backends?: string[];
  id?: string;
  lease?: Duration;
  sendTimeout?: Duration;
  pollInterval?: Duration;
  stopTimeout: Duration;
  health?: number;
  healthHost: string;
  verbose?: boolean;
}

function about(d: Delivery) {
  return { delivery: d.id, notification: d.notification, backend: d.backend, to: `${d.protocol}:${redactAddress(d.address)}`, attempt: d.attempts };
}

export function registerWorker(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('worker')
    .description('send queued deliveries until SIGINT/SIGTERM, then stop gracefully: finish sends in flight, give back unsent claims')
    .option('--concurrency <n>', 'sends in flight at once (default 8)', positiveInt)
    .option('--backends <names>', 'only claim deliveries of these backends, comma-separated', list)
    .option('--id <id>', 'worker id in the attempt log (default host-pid-random)')
    .option('--lease <duration>', 'how long a claim holds before another worker may take it over (default 5m)', duration)
    .option('--send-timeout <duration>', 'longest single send (default 60s)', duration)
    .option('--poll-interval <duration>', 'poll interval when the store has no wake-up (default 1s)', duration)
    .option('--stop-timeout <duration>', 'longest wait for sends in flight after a stop signal', duration, '30s')
    .option('--health <port>', 'serve GET /healthz and /metrics (Prometheus) on this port (0 picks one)', port)
    .option('--health-host <host>', 'address for --health (0.0.0.0 for probes from outside)', '127.0.0.1')
    .option('--verbose', 'log every delivery status change, not only failures and retries');
  withCommonOptions(cmd).addHelpText(
    'after',
    '\nLogs: one line per state change on stdout, readable on a terminal, JSON lines otherwise (or with --json).',
  );
  examples(cmd, [
    'herald worker',
    'herald worker --concurrency 32 --backends smtp,twilio --health 9464',
    'herald worker --id "$HOSTNAME" --stop-timeout 2m --json',
  ]);
  cmd.action(
    action<WorkerCommandOptions>(runtime, async ({ opts, io, load, signals, keepOpen }) => {
      const log = createLog(io, opts.json === true || io.stdout.isTTY !== true);
      // Signal handlers go in first: a SIGTERM while the config loads must not kill the process unstopped.
      const shutdown = shutdownOn(signals);
      let health: HealthServer | null = null;
      try {
        const { herald, displayPath } = await load();
        const options: WorkerOptions = {};
        if (opts.concurrency) options.concurrency = opts.concurrency;
        if (opts.backends) options.backends = opts.backends;
        if (opts.id) options.id = opts.id;
        if (opts.lease !== undefined) options.lease = opts.lease;
        if (opts.sendTimeout !== undefined) options.sendTimeout = opts.sendTimeout;
        if (opts.pollInterval !== undefined) options.pollInterval = opts.pollInterval;
        const counts = { sent: 0, failed: 0, retrying: 0 };
        const offs = [
          herald.on('delivery', (d, change) => {
            if (change.to === 'sent') counts.sent++;
            if (change.to === 'failed') {
              counts.failed++;
              log('error', 'delivery failed', { ...about(d), error: d.lastError });
            } else if (change.to === 'retrying') {
              counts.retrying++;
              log('warn', 'delivery retrying', { ...about(d), next: d.nextAttemptAt, error: d.lastError });
            } else if (opts.verbose) log('info', `delivery ${change.to}`, { ...about(d), from: change.from, providerMessageId: d.providerMessageId });
          }),
          herald.on('failover', (d, change) => log('warn', 'delivery failed over', { ...about(d), from: change.from, to: change.to, reason: change.reason })),
        ];
        // prom-client and the HTTP server load only when --health asks for them.
        const healthModule = opts.health !== undefined ? await import('../_health') : null;
        const metrics = healthModule ? healthModule.workerMetrics(herald) : null;
        const worker = herald.worker(options);
        log('info', 'worker started', {
          worker: worker.id,
          config: displayPath,
          store: herald.store.name,
          concurrency: options.concurrency ?? 8,
          backends: (opts.backends ?? herald.backends.map((b) => b.name)).join(','),
        });
        if (healthModule && metrics && opts.health !== undefined) {
          health = await healthModule.serveHealth(herald, worker, metrics, { port: opts.health, host: opts.healthHost });
          log('info', 'health endpoint listening', { url: health.url, paths: '/healthz,/metrics' });
        }
        const signal = await shutdown.requested;
        const timeoutMs = toMs(opts.stopTimeout);
        log('info', 'worker stopping', { worker: worker.id, signal, timeoutMs });
        const outcome = await Promise.race([worker.stop().then(() => 'stopped' as const), sleep(timeoutMs), shutdown.forced.then(() => 'forced' as const)]);
        for (const off of offs) off();
        metrics?.dispose();
        await health?.close();
        health = null;
        if (outcome === 'stopped') {
          log('info', 'worker stopped', { worker: worker.id, ...counts });
          return EXIT.ok;
        }
        // Sends are still in flight: closing Herald would wait for them. Their leases expire and another worker
        // takes them over; the attempt log records each as abandoned.
        keepOpen();
        if (outcome === 'forced') {
          log('error', 'second signal: exiting without waiting for sends in flight', { worker: worker.id, ...counts });
          return EXIT.interrupted;
        }
        log('error', `worker did not stop within ${opts.stopTimeout}; sends still in flight are taken over by another worker after their lease`, { worker: worker.id, ...counts });
        return EXIT.failure;
      } finally {
        await health?.close();
        shutdown.dispose();
      }
    }),
  );
}
