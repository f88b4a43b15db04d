import { ABANDONED_ATTEMPT_ERROR } from '@herald/core';
import { makeDelivery } from '@herald/core/testing/vitest';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from '../src';
import { type Child, spawnChild } from './_spawn';
import { tempDatabase } from './_tmp';

describe('sqlite store across processes', () => {
  const children: Child[] = [];
  const dbs: ReturnType<typeof tempDatabase>[] = [];

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
      await child.exited;
    }
    for (const db of dbs.splice(0)) db.remove();
  });

  function setup() {
    const db = tempDatabase();
    dbs.push(db);
    return db;
  }

  function start(args: string[]): Child {
    const child = spawnChild(args);
    children.push(child);
    return child;
  }

  it('a process that never closes its store still exits: the checkpointer thread does not hold it', async () => {
    const { path } = setup();
    const child = start(['enqueue-and-leave', path, '500']);
    expect(await child.next<string>(20_000)).toBe('done');
    const code = await Promise.race([child.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000))]);
    expect(code).toBe(0);
    const store = sqliteStore({ path });
    expect((await store.count()).queued).toBe(500);
    await store.close();
  });

  it('close() as the last thing a process awaits completes (the last checkpoint holds the process until done)', async () => {
    const { path } = setup();
    const child = start(['enqueue-and-close', path, '500']);
    expect(await child.next<string>(20_000)).toBe('closed');
    expect(await child.exited).toBe(0);
  });

  it('a worker killed with SIGKILL after claiming loses nothing: its deliveries are reclaimed once the lease expires, the lost attempts logged as abandoned', async () => {
    const db = setup();
    const store = sqliteStore({ path: db.path });
    await store.migrate();
    const t0 = Date.now() - 60_000;
    const rows = Array.from({ length: 10 }, (_, i) =>
      makeDelivery({ createdAt: new Date(t0), nextAttemptAt: new Date(t0 + i), address: `u${i}@example.org` }),
    );
    await store.enqueue(rows);

    const child = start(['claim', db.path, 'doomed-worker', '4', '60000']);
    const doomed = await child.next<string[]>();
    expect(doomed).toEqual(rows.slice(0, 4).map((r) => r.id));
    child.process.kill('SIGKILL');
    await child.exited;

    // While the dead worker's lease is live, nobody else gets its deliveries.
    const others = await store.claim({ owner: 'rescuer', limit: 100, leaseMs: 60_000 });
    expect(others.map((d) => d.id)).toEqual(rows.slice(4).map((r) => r.id));

    const leased = await Promise.all(doomed.map((id) => store.get(id)));
    const leaseUntil = Math.max(...leased.map((d) => d!.leaseUntil!.getTime()));
    expect(leased.every((d) => d?.status === 'sending' && d.leaseOwner === 'doomed-worker')).toBe(true);
    expect(await store.claim({ owner: 'rescuer', limit: 100, leaseMs: 60_000, now: new Date(leaseUntil - 1) })).toEqual([]);

    const reclaimed = await store.claim({ owner: 'rescuer', limit: 100, leaseMs: 60_000, now: new Date(leaseUntil) });
    expect(reclaimed.map((d) => d.id)).toEqual(doomed);
    expect(reclaimed.every((d) => d.attempts === 2 && d.leaseOwner === 'rescuer')).toBe(true);
    // The attempt the dead worker lost, which may have reached the provider, is in the log.
    for (const [i, id] of doomed.entries()) {
      expect(await store.attempts(id)).toEqual([
        {
          deliveryId: id,
          attempt: 1,
          startedAt: new Date(leased[i]!.leaseUntil!.getTime() - 60_000),
          durationMs: 60_000,
          outcome: 'abandoned',
          backend: 'smtp',
          request: null,
          response: null,
          error: ABANDONED_ATTEMPT_ERROR,
          workerId: 'doomed-worker',
        },
      ]);
    }
    for (const d of others) expect(await store.attempts(d.id)).toEqual([]);

    const all = await store.list();
    expect(all.map((d) => d.id).sort()).toEqual(rows.map((r) => r.id).sort());
    expect(all.every((d) => d.status === 'sending' && d.leaseOwner === 'rescuer')).toBe(true);
    await store.close();
  });

  it('two processes claiming from one file at once never get the same delivery', async () => {
    const db = setup();
    const store = sqliteStore({ path: db.path });
    await store.migrate();
    const rows = Array.from({ length: 600 }, (_, i) => makeDelivery({ address: `u${i}@example.org` }));
    await store.enqueue(rows);

    const workers = [start(['drain', db.path, 'p1', '5']), start(['drain', db.path, 'p2', '5'])];
    for (const worker of workers) expect(await worker.next<string>()).toBe('ready');
    for (const worker of workers) worker.process.stdin.write('go\n');
    const [a, b] = await Promise.all(workers.map((worker) => worker.next<string[]>(60_000)));

    expect(a!.length).toBeGreaterThan(0);
    expect(b!.length).toBeGreaterThan(0);
    expect(a!.length + b!.length).toBe(600);
    expect(a!.filter((id) => new Set(b).has(id))).toEqual([]);
    expect(new Set([...a!, ...b!]).size).toBe(600);
    for (const [owner, ids] of [['p1', a!], ['p2', b!]] as const) {
      for (const id of ids) expect((await store.get(id))?.leaseOwner).toBe(owner);
    }
    expect(await store.count()).toEqual({ sending: 600 });
    await store.close();
  });

  it('a process killed in the middle of enqueueing leaves whole batches only, and an intact database', async () => {
    const db = setup();
    const child = start(['enqueue-forever', db.path, '250']);
    expect(await child.next<string>()).toBe('started');
    await new Promise((resolve) => setTimeout(resolve, 150));
    child.process.kill('SIGKILL');
    await child.exited;

    const raw = new Database(db.path);
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    const batches = raw.prepare<[], { batch_id: string; n: number }>('SELECT batch_id, COUNT(*) AS n FROM herald_deliveries GROUP BY batch_id').all();
    raw.close();
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.filter((batch) => batch.n !== 250)).toEqual([]);

    const store = sqliteStore({ path: db.path });
    await store.migrate();
    expect((await store.count()).queued).toBe(batches.length * 250);
    await store.close();
  });
});
