/**
 * bench/scale-out — 1, 2 and 4 worker processes on PostgreSQL draining 20,000 queued json-webhook deliveries to
 * a loopback receiver that answers at once (in a worker thread). Enqueueing (`notify()`) and process start-up
 * are not timed: every worker is connected and listening before it is told to start. The receiver counts
 * requests per delivery id, so `duplicates` (must be 0) is the number of deliveries received more than once.
 * herald = deliveries/s with 4 workers, baseline = with 1 worker. Target: ratio ≥ 1.6 on 2 cores.
 */
import { createHerald } from '@herald/core';
import { postgresStore } from '@herald/store-postgres';
import { peakRssMb, report } from './_report';
import {
  benchBackend,
  benchNotification,
  benchRecipients,
  DATABASE_URL,
  dropSchemas,
  postgresCpuMs,
  startPgSink,
  startWorkerProcess,
  uniqueSchema,
  waitUntil,
} from './_pg-util';

const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 20_000);
const COUNTS = [1, 2, 4];

const sink = await startPgSink();
const schemas: string[] = [];
const rates = new Map<number, number>();
let duplicates = 0;
let childPeakMb = 0;

try {
  for (const workers of COUNTS) {
    const schema = uniqueSchema('herald_bench_scale');
    schemas.push(schema);
    const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 2 });
    const herald = createHerald({ store, backends: [benchBackend()], notifications: [benchNotification], logger: false });
    for (let offset = 0; offset < DELIVERIES; offset += 2000) {
      await herald.notify(benchNotification, { orderId: 'A-1', total: '74.50' }, benchRecipients(Math.min(2000, DELIVERIES - offset), sink.url, offset));
    }
    await herald.close();
    await sink.reset();
    const procs = await Promise.all(Array.from({ length: workers }, (_, i) => startWorkerProcess(schema, `w${i}`)));
    const pgCpuBefore = await postgresCpuMs();
    const started = performance.now();
    for (const p of procs) p.go();
    let last = 0;
    await waitUntil(
      async () => {
        const { received } = await sink.count();
        if (received - last >= 5000) {
          last = received - (received % 5000);
          console.log(`  ${workers} worker(s): ${received} received`);
        }
        return received >= DELIVERIES;
      },
      180_000,
      `${workers} worker(s) to drain`,
    );
    const seconds = (performance.now() - started) / 1000;
    const pgCpu = await postgresCpuMs();
    const stopped = await Promise.all(procs.map((p) => p.stop()));
    childPeakMb = Math.max(childPeakMb, stopped.reduce((a, b) => a + b.rssMb, 0));
    const workerCpu = stopped.reduce((a, b) => a + b.cpuMs, 0);
    const counts = await sink.count();
    duplicates += counts.duplicates;
    const rate = Math.round(DELIVERIES / seconds);
    rates.set(workers, rate);
    console.log(
      `${workers} worker process(es): ${DELIVERIES} in ${seconds.toFixed(2)} s = ${rate}/s, duplicates ${counts.duplicates}; ` +
        `CPU: workers ${(workerCpu / 1000).toFixed(1)} s, PostgreSQL ${((pgCpu - pgCpuBefore) / 1000).toFixed(1)} s`,
    );
  }
} finally {
  await sink.close();
  await dropSchemas(schemas);
}

report({
  bench: 'scale-out',
  unit: 'deliveries/s',
  herald: rates.get(4)!,
  baseline: rates.get(1)!,
  workers1: rates.get(1)!,
  workers2: rates.get(2)!,
  workers4: rates.get(4)!,
  duplicates,
  peakRssMb: Math.round((peakRssMb() + childPeakMb) * 10) / 10,
});
