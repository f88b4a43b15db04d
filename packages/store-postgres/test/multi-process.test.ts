import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { smtp } from '@herald/backend-smtp';
import { ABANDONED_ATTEMPT_ERROR, createHerald, type Recipient } from '@herald/core';
import { postgresStore } from '@herald/store-postgres';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DATABASE_URL, dropSchemas, uniqueSchema } from './_pg';
import { SmtpSink } from './_smtp-sink';
import { loadNotification } from './fixtures/load-notification';

const TOTAL = 5000;
const WORKERS = 3;
const LEASE_MS = 4000;
const TSX_LOADER = pathToFileURL(fileURLToPath(new URL('../../../node_modules/tsx/dist/esm/index.mjs', import.meta.url))).href;
const WORKER_SCRIPT = fileURLToPath(new URL('./fixtures/worker.ts', import.meta.url));

const schemas: string[] = [];
const children = new Set<ChildProcess>();
const sinks: SmtpSink[] = [];

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await Promise.all(sinks.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await dropSchemas(schemas);
});

/** Enqueue TOTAL deliveries through `notify()` (one call per 1,000 recipients) into a fresh schema. */
async function prepare(): Promise<{ schema: string; sink: SmtpSink; ids: Set<string> }> {
  const schema = uniqueSchema('herald_mp');
  schemas.push(schema);
  const sink = new SmtpSink();
  sinks.push(sink);
  await sink.listen();
  const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 2 });
  const herald = createHerald({
    store,
    backends: [smtp({ host: '127.0.0.1', port: sink.port, secure: false, ignoreTLS: true, test: true, from: 'Herald <herald@example.test>' })],
    notifications: [loadNotification],
    logger: false,
  });
  const ids = new Set<string>();
  for (let start = 0; start < TOTAL; start += 1000) {
    const recipients: Recipient[] = Array.from({ length: 1000 }, (_, i) => ({
      id: `u${start + i}`,
      name: `User ${start + i}`,
      contacts: [{ protocol: 'email', address: `user${start + i}@example.test` }],
    }));
    const result = await herald.notify(loadNotification, { run: schema }, recipients);
    for (const d of result.deliveries) ids.add(d.id);
  }
  await herald.close();
  expect(ids.size).toBe(TOTAL);
  return { schema, sink, ids };
}

async function startWorker(schema: string, smtpPort: number, id: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, '--conditions=@herald/source', WORKER_SCRIPT], {
    env: { ...process.env, DATABASE_URL, HERALD_SCHEMA: schema, SMTP_PORT: String(smtpPort), WORKER_ID: id, LEASE_MS: String(LEASE_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string) => {
      out += chunk;
      if (out.includes('ready')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker ${id} exited with ${code} before it was ready: ${out}`)));
  });
  child.stdout!.resume();
  return child;
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function statusCounts(schema: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM "${schema}".deliveries GROUP BY status`);
    const counts: Record<string, number> = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    if (counts.failed) {
      const { rows: errors } = await client.query<{ last_error: string }>(`SELECT last_error FROM "${schema}".deliveries WHERE status = 'failed' LIMIT 1`);
      throw new Error(`${counts.failed} deliveries failed, e.g.: ${errors[0]?.last_error}`);
    }
    return counts;
  } finally {
    await client.end();
  }
}

async function stopAll(): Promise<void> {
  await Promise.all(
    [...children].map(async (child) => {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }),
  );
}

describe(`${WORKERS} worker processes draining ${TOTAL} deliveries to a loopback SMTP server`, () => {
  it('sends every delivery exactly once', async () => {
    const { schema, sink, ids } = await prepare();
    const started = performance.now();
    await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker(schema, sink.port, `w${i}`)));
    await waitFor(async () => sink.total >= TOTAL && (await statusCounts(schema)).sent === TOTAL, 90_000, 'every delivery sent');
    const seconds = (performance.now() - started) / 1000;
    await stopAll();
    console.log(`[store-postgres] ${WORKERS} workers sent ${TOTAL} in ${seconds.toFixed(1)} s (${Math.round(TOTAL / seconds)}/s incl. start-up)`);
    expect(sink.received.size).toBe(TOTAL);
    expect([...sink.received.keys()].every((id) => ids.has(id))).toBe(true);
    expect(sink.duplicates()).toEqual([]);
    expect(await statusCounts(schema)).toEqual({ sent: TOTAL });
  }, 120_000);

  it('with one worker killed -9 halfway: none lost, duplicates only among those it had in flight, each of those logged as abandoned', async () => {
    const { schema, sink, ids } = await prepare();
    const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => startWorker(schema, sink.port, `w${i}`)));
    await waitFor(() => sink.total >= TOTAL / 2, 60_000, 'half of the deliveries');
    workers[0]!.kill('SIGKILL');
    await once(workers[0]!, 'exit');
    // What the killed worker held at the moment it died: claimed (leased to it) but not finished.
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    let inFlight: Set<string>;
    try {
      const { rows } = await admin.query<{ id: string }>(`SELECT id FROM "${schema}".deliveries WHERE status = 'sending' AND lease_owner = 'w0'`);
      inFlight = new Set(rows.map((r) => r.id));
    } finally {
      await admin.end();
    }
    const receivedAtKill = sink.total;
    // The survivors pick up the rest, and the dead worker's deliveries once its lease expires.
    await waitFor(async () => (await statusCounts(schema)).sent === TOTAL, 90_000, 'every delivery sent after the kill');
    await stopAll();
    const duplicates = sink.duplicates();
    const lost = [...ids].filter((id) => !sink.received.has(id));
    console.log(
      `[store-postgres] killed w0 after ${receivedAtKill} of ${TOTAL} received; it held ${inFlight.size} in flight; ` +
        `${duplicates.length} sent twice (all among those), ${lost.length} lost`,
    );
    expect(lost).toEqual([]);
    expect(duplicates.every((id) => inFlight.has(id))).toBe(true);
    expect(duplicates.length).toBeLessThanOrEqual(inFlight.size);
    expect(Math.max(...sink.received.values())).toBeLessThanOrEqual(2);
    expect(await statusCounts(schema)).toEqual({ sent: TOTAL });

    // The attempt log shows every attempt the dead worker lost (where a duplicate may have happened): one
    // `abandoned` entry per delivery it held, numbered as its attempt, then the survivor's send.
    const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 2 });
    try {
      const abandonedByW0 = new Set<string>();
      for (const id of ids) {
        const log = await store.attempts(id);
        const lostAttempts = log.filter((a) => a.outcome === 'abandoned');
        for (const a of lostAttempts) {
          if (a.workerId === 'w0') abandonedByW0.add(id);
          expect(a).toMatchObject({ backend: 'smtp', request: null, response: null, error: ABANDONED_ATTEMPT_ERROR });
        }
        if (inFlight.has(id)) {
          expect(lostAttempts.map((a) => [a.attempt, a.workerId])).toContainEqual([1, 'w0']);
          expect(log.at(-1)).toMatchObject({ outcome: 'sent', attempt: lostAttempts.length + 1 });
        }
      }
      expect([...inFlight].filter((id) => !abandonedByW0.has(id))).toEqual([]);
      expect([...abandonedByW0].filter((id) => !inFlight.has(id))).toEqual([]);
      expect(duplicates.every((id) => abandonedByW0.has(id))).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);
});
