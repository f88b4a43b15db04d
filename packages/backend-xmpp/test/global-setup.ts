import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';

/** The private prosody of this test run, as the tests see it through `inject('prosody')`. */
export interface ProsodyInfo {
  /** Set when prosody could not be installed or started: every test fails with it. */
  error?: string;
  service: string;
  port: number;
  domain: string;
  alice: { username: string; password: string; jid: string };
  bob: { username: string; password: string; jid: string };
  /** The server's certificate and key (PEM files, for localhost / 127.0.0.1), trusted by the test workers. */
  tls: { cert: string; key: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    prosody: ProsodyInfo;
  }
}

const SCRIPT = fileURLToPath(new URL('../../../scripts/prosody.sh', import.meta.url));
const run = promisify(execFile);

/**
 * Start one private prosody (own temp dir, free loopback port, STARTTLS with a self-signed certificate) for the
 * package's test run. Node reads NODE_EXTRA_CA_CERTS only when a process starts, so it is set here, before vitest
 * forks the test workers (which inherit it). Failures are handed to the tests, which fail with the reason.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-xmpp-test-'));
  const previousCa = process.env.NODE_EXTRA_CA_CERTS;
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start', dir], { env: { ...process.env, PROSODY_TLS: '1', PROSODY_WATCH_PID: String(process.pid) }, timeout: 180_000 });
    const env = Object.fromEntries(stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    // Keep a CA bundle someone else configured: NODE_EXTRA_CA_CERTS names one file.
    const bundle = join(dir, 'ca-bundle.pem');
    const extra = previousCa ? await readFile(previousCa, 'utf8').catch(() => '') : '';
    await writeFile(bundle, `${extra}\n${await readFile(env.PROSODY_CA!, 'utf8')}`);
    process.env.NODE_EXTRA_CA_CERTS = bundle;
    project.provide('prosody', {
      service: env.PROSODY_SERVICE!,
      port: Number(env.PROSODY_PORT),
      domain: env.PROSODY_DOMAIN!,
      alice: { username: 'alice', password: env.XMPP_ALICE_PASSWORD!, jid: env.XMPP_ALICE! },
      bob: { username: 'bob', password: env.XMPP_BOB_PASSWORD!, jid: env.XMPP_BOB! },
      tls: { cert: env.PROSODY_CA!, key: env.PROSODY_CA!.replace(/\.crt$/, '.key') },
    });
  } catch (error) {
    const detail = error instanceof Error ? ((error as { stderr?: string }).stderr || error.message) : String(error);
    project.provide('prosody', {
      error: `could not start prosody for the XMPP tests (install it: \`scripts/prosody.sh install\`, i.e. apt-get install prosody): ${detail.trim()}`,
      service: '',
      port: 0,
      domain: 'localhost',
      alice: { username: 'alice', password: '', jid: '' },
      bob: { username: 'bob', password: '', jid: '' },
      tls: { cert: '', key: '' },
    });
  }
  return async function teardown() {
    await run('bash', [SCRIPT, 'stop', dir]).catch(() => rm(dir, { recursive: true, force: true }));
    if (previousCa === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = previousCa;
  };
}
