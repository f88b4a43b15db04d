/** Helpers shared by the PostgreSQL benchmarks (scale-out, enqueue-pg, latency). */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { jsonWebhook } from '@herald/backend-json-webhook';
import { defineNotification, type Recipient } from '@herald/core';
import pg from 'pg';
import { z } from 'zod';

export const DATABASE_URL = process.env.HERALD_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function uniqueSchema(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

export async function dropSchemas(schemas: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** The JSON webhook backend every PostgreSQL bench sends through (loopback, unsigned). */
export function benchBackend() {
  return jsonWebhook({ unsigned: true, allowPrivateNetworks: true, test: true });
}

export const benchNotification = defineNotification({
  id: 'order-shipped',
  schema: z.object({ orderId: z.string(), total: z.string() }),
  templates: {
    'json-webhook': { format: 'params', body: { event: 'order.shipped', orderId: '{{orderId}}', total: '{{total}}', customer: '{{recipient.name}}' } },
  },
});

export function benchRecipients(count: number, url: string, offset = 0): Recipient[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `u${offset + i}`,
    name: `User ${offset + i}`,
    contacts: [{ protocol: 'json-webhook', address: `${url}/hook/${offset + i}` }],
  }));
}

export interface PgSink {
  url: string;
  count(): Promise<{ received: number; duplicates: number }>;
  /** Arrival instants (performance.timeOrigin + performance.now(), ms) per delivery id. */
  arrivals(): Promise<Map<string, number>>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** The loopback HTTP receiver (`_pg-sink.mjs`) in a worker thread. */
export async function startPgSink(): Promise<PgSink> {
  const worker = new Worker(new URL('./_pg-sink.mjs', import.meta.url));
  const next = async <T>(type: string): Promise<T> => {
    for (;;) {
      const [msg] = (await once(worker, 'message')) as [{ type: string } & T];
      if (msg.type === type) return msg;
    }
  };
  const { port } = await next<{ port: number }>('ready');
  const ask = async <T>(type: string): Promise<T> => {
    const reply = next<T>(type);
    worker.postMessage(type);
    return reply;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    count: () => ask<{ received: number; duplicates: number }>('count'),
    arrivals: async () => new Map((await ask<{ arrivals: [string, number][] }>('arrivals')).arrivals),
    reset: async () => {
      await ask('reset');
    },
    close: async () => {
      const closed = next('closed');
      worker.postMessage('close');
      await closed;
      await worker.terminate();
    },
  };
}

const TSX_LOADER = pathToFileURL(fileURLToPath(import.meta.resolve('tsx/esm'))).href;
const WORKER_SCRIPT = fileURLToPath(new URL('./_pg-worker.ts', import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  go(): void;
  /** SIGTERM, wait for exit; returns the process's peak RSS in MB and its CPU time in ms. */
  stop(): Promise<{ rssMb: number; cpuMs: number }>;
}

/** Start a worker process (`_pg-worker.ts`) and wait until it is connected and listening. */
export async function startWorkerProcess(schema: string, id: string, extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
  // Worker processes run the same build as the bench itself (see scripts/bench.mjs).
  const conditions = process.env.HERALD_BENCH_SOURCE === '1' ? ['--conditions=@herald/source'] : [];
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ...conditions, WORKER_SCRIPT], {
    env: { ...process.env, DATABASE_URL, HERALD_SCHEMA: schema, WORKER_ID: id, ...extraEnv },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('ready')) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`worker ${id} exited with ${code}: ${out}`));
    });
  });
  return {
    child,
    go: () => child.stdin!.write('go\n'),
    async stop() {
      const exited = child.exitCode === null ? once(child, 'exit') : Promise.resolve();
      child.kill('SIGTERM');
      await exited;
      const m = /rss ([\d.]+) cpu (\d+)/.exec(out);
      return { rssMb: m ? Number(m[1]) : 0, cpuMs: m ? Number(m[2]) : 0 };
    },
  };
}

export async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** CPU time (ms) used so far by every PostgreSQL server process on this machine (Linux /proc), for progress lines. */
export async function postgresCpuMs(): Promise<number> {
  const { readdir, readFile } = await import('node:fs/promises');
  const tick = 10; // USER_HZ = 100 on Linux
  let total = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!name.startsWith('postgres')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // the process ended while we read
    }
  }
  return total;
}
