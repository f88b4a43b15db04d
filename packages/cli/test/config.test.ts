import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { processSignals } from '../src/_command';
import { createProgram } from '../src/main';
import type { CliIO } from '../src/_output';
import { createProject, DIST_BIN, type Project } from './_project';
import { type LoopbackSmtp, startSmtp } from './_smtp';

describe('herald.config loading, usage errors, --help, colours', () => {
  let smtp: LoopbackSmtp;
  let project: Project;

  beforeAll(async () => {
    smtp = await startSmtp();
    project = await createProject({ store: 'sqlite', smtpPort: smtp.port });
  });
  afterEach(() => project.killAll());
  afterAll(async () => {
    await project?.cleanup();
    await smtp?.close();
  });

  it('a missing config file is a usage error naming where it looked (exit 2)', async () => {
    // A folder with its own package.json is a project root of its own: the search stops there.
    project.write('elsewhere/package.json', '{"type":"module"}');
    const none = await project.run(['deliveries'], { cwd: 'elsewhere' });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no herald\.config\.ts \(or \.mts, \.js, \.mjs\) in .*elsewhere or its parents up to the project root/);
    const result = await project.run(['deliveries', '--config', 'nope.config.ts']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('config file nope.config.ts does not exist');
    const json = await project.run(['check', '--config', 'nope.config.ts', '--json']);
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({ error: { code: 'CONFIG', field: 'config' } });
  });

  it('finds herald.config.ts from a subfolder, and takes --config or HERALD_CONFIG', async () => {
    project.write('src/deep/.keep', '');
    const nested = await project.run(['check', '--json'], { cwd: 'src/deep' });
    expect(nested.code).toBe(0);
    expect(nested.json()).toMatchObject({ config: '../../herald.config.ts' });
    project.write('other.config.mjs', `export { default } from './herald.config.ts';\n`);
    const fromEnv = await project.run(['check', '--json'], { env: { HERALD_CONFIG: 'other.config.mjs' } });
    expect(fromEnv.json()).toMatchObject({ config: 'other.config.mjs' });
    const fromFlag = await project.run(['check', '--json', '--config', 'other.config.mjs']);
    expect(fromFlag.json()).toMatchObject({ ok: true, config: 'other.config.mjs' });
  });

  it('a config that throws is a config error naming the file and the cause (exit 2); check lists it as a problem (exit 1)', async () => {
    project.write('throws.config.ts', `throw new Error('DATABASE_URL is not set');\nexport default {};\n`);
    const result = await project.run(['deliveries', '--config', 'throws.config.ts']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('throws.config.ts threw while loading: DATABASE_URL is not set');
    const check = await project.run(['check', '--config', 'throws.config.ts', '--json']);
    expect(check.code).toBe(1);
    expect(check.json()).toMatchObject({ ok: false, checks: [{ name: 'config', status: 'problem', message: expect.stringContaining('DATABASE_URL is not set') }] });

    project.write('empty.config.ts', 'export const x = 1;\n');
    const empty = await project.run(['deliveries', '--config', 'empty.config.ts']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('empty.config.ts: the default export must be a Herald instance');
    expect(empty.stderr).toContain('got nothing (no default export)');
  });

  it('the default export may be createHerald options, or a function returning an instance', async () => {
    const source = readFileSync(join(project.dir, 'herald.config.ts'), 'utf8');
    project.write('options.config.ts', source.replace(/export default createHerald\(([\s\S]*)\);\n$/, 'export default $1;\n'));
    const options = await project.run(['check', '--config', 'options.config.ts', '--json']);
    expect(options.code).toBe(0);
    expect(options.json()).toMatchObject({ ok: true });
    project.write('function.config.ts', `import herald from './herald.config.ts';\nexport default async () => herald;\n`);
    expect((await project.run(['check', '--config', 'function.config.ts'])).code).toBe(0);
  });

  it('check names every broken template of an options config, not only the first (exit 1)', async () => {
    project.write(
      'broken.config.ts',
      `import { defineNotification } from '@herald/core';
import { captureBackend } from '@herald/core/testing';
import { sqliteStore } from '@herald/store-sqlite';
import { z } from 'zod';
const a = defineNotification({ id: 'a', schema: z.object({ orderId: z.string() }), templates: { email: { format: 'text', subject: 'x', body: 'Order {{ordrId}}' } } });
const b = defineNotification({ id: 'b', schema: z.object({ n: z.number() }), templates: { email: { format: 'html', subject: 'x', body: '<p>{{#if n}}unclosed</p>' } } });
const c = defineNotification({ id: 'c', schema: z.object({}), templates: { email: { format: 'text', subject: 'ok', body: 'fine' } } });
export default { store: sqliteStore({ path: ':memory:' }), backends: [captureBackend({ protocol: 'email' })], notifications: [a, b, c] };
`,
    );
    const result = await project.run(['check', '--config', 'broken.config.ts', '--json']);
    expect(result.code).toBe(1);
    const report = result.json<{ ok: boolean; checks: { name: string; status: string; message: string }[] }>();
    expect(report.ok).toBe(false);
    expect(report.checks.map((c) => c.name)).toEqual(['notification a', 'notification b']);
    expect(report.checks[0]!.message).toMatch(/ordrId/);
    const human = await project.run(['check', '--config', 'broken.config.ts']);
    expect(human.stdout).toMatch(/✗ notification a: .*ordrId/);
    expect(human.stdout).toContain('2 problems');
    // Every other command refuses the config.
    const other = await project.run(['deliveries', '--config', 'broken.config.ts']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('broken.config.ts: createHerald failed');
  });

  it('check --ping: ok where a backend can be reached, a named problem where not, "no harmless call" otherwise', async () => {
    project.write(
      'ping.config.ts',
      `import { createHerald, defineBackend, TransientError } from '@herald/core';
import { captureBackend, memoryStore } from '@herald/core/testing';
import { z } from 'zod';
const pinging = (name: string, ok: boolean) =>
  defineBackend({ name: 'pinger', protocol: 'email', formats: ['text'], options: z.object({}),
    setup: () => ({ async send() { return {}; }, async ping() { if (!ok) throw new TransientError('401 unauthorized: check the API key', { backend: name }); } }) })({ name });
export default createHerald({ store: memoryStore(), backends: [pinging('up', true), pinging('down', false), captureBackend({ protocol: 'sms' })], notifications: [] });
`,
    );
    const result = await project.run(['check', '--ping', '--config', 'ping.config.ts', '--json']);
    expect(result.code).toBe(1);
    const pings = result.json<{ checks: { name: string; status: string; message: string }[] }>().checks.filter((c) => c.name.startsWith('ping '));
    expect(pings).toEqual([
      { name: 'ping up', status: 'ok', message: expect.stringMatching(/^reachable \(\d+ ms\)$/) },
      { name: 'ping down', status: 'problem', message: '[down] 401 unauthorized: check the API key' },
      { name: 'ping capture-sms', status: 'skipped', message: expect.stringContaining('no harmless call') },
    ]);
    expect((await project.run(['check', '--config', 'ping.config.ts'])).code).toBe(0);
  });

  it('usage errors exit 2: unknown command, unknown option, bad option value, missing argument', async () => {
    const unknown = await project.run(['sned']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'sned'");
    expect(unknown.stderr).toContain('(Did you mean send?)');
    expect((await project.run(['deliveries', '--limt', '3'])).code).toBe(2);
    const bad = await project.run(['deliveries', '--limit', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("option '-l, --limit <n>' argument 'lots' is invalid. must be a whole number of at least 1.");
    const status = await project.run(['deliveries', '--status', 'sant']);
    expect(status.stderr).toContain('"sant" is not a status');
    expect((await project.run(['send'])).code).toBe(2);
    expect((await project.run(['send', 'welcome', '--to', 'fax:1'])).code).toBe(2);
    expect((await project.run([])).code).toBe(2);
  });

  it('--help shows examples and exit codes (exit 0); --version', async () => {
    const help = await project.run(['send', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('$ herald send newsletter --data @issue-42.json --recipients subscribers.csv');
    expect(help.stdout).toContain('--json');
    const top = await project.run(['--help']);
    expect(top.stdout).toMatch(/Exit codes: 0 ok · 1 bad input or partial failure · 2 usage or config error · 3 runtime failure/);
    // Every command's help, read in this process (the same program the binary builds).
    let text = '';
    const write = (s: string) => {
      text += s;
      return true;
    };
    const io = { stdout: { write }, stderr: { write: () => true }, stdin: process.stdin, cwd: project.dir, env: {} } as unknown as CliIO;
    const program = createProgram({ io, signals: processSignals, exitCode: 0 });
    const leaves: Command[][] = program.commands.flatMap((c) => (c.commands.length ? c.commands.map((sub) => [c, sub]) : [[c]]));
    expect(leaves.length).toBe(19);
    for (const path of leaves) {
      text = '';
      path.at(-1)!.outputHelp();
      expect(text, path.map((c) => c.name()).join(' ')).toMatch(/Examples:\n {2}\$ herald /);
      expect(text, path.map((c) => c.name()).join(' ')).toContain('--json');
    }
    expect((await project.run(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('colours only on a terminal and never with NO_COLOR', async () => {
    const piped = await project.run(['check'], { env: { NO_COLOR: undefined } });
    expect(piped.stdout).not.toContain('\u001b[');
    const forced = await project.run(['check'], { env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(forced.stdout).toContain('\u001b[32m✓');
    const both = await project.run(['check'], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(both.stdout).not.toContain('\u001b[');
  });

  it('preview --open writes the HTML to a temp file and opens it with $BROWSER', async () => {
    const opened = join(project.dir, 'opened.txt');
    project.write('browser.sh', `#!/bin/sh\necho "$1" > ${JSON.stringify(opened)}\n`);
    chmodSync(join(project.dir, 'browser.sh'), 0o755);
    const result = await project.run(['preview', 'welcome', '--data', '{"name":"Ada"}', '--open'], { env: { BROWSER: join(project.dir, 'browser.sh') } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/html \(opened .*welcome\.smtp\.html\)/);
    await expect.poll(() => existsSync(opened)).toBe(true);
    const url = readFileSync(opened, 'utf8').trim();
    expect(url).toMatch(/^file:\/\/.*welcome\.smtp\.html$/);
    expect(readFileSync(new URL(url), 'utf8')).toContain('<strong>Ada</strong>');
  });

  it('serve refuses keyless JSON-RPC on a public bind unless forced', async () => {
    project.write('keyless.config.ts', `export { default } from './herald.config.ts';\nexport const server = { rpc: { auth: 'none' } };\n`);
    const refused = await project.run(['serve', '--config', 'keyless.config.ts', '--host', '0.0.0.0', '--port', '0']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("refusing keyless JSON-RPC (server.rpc.auth: 'none' in keyless.config.ts) on 0.0.0.0");
    const forced = project.start(['serve', '--config', 'keyless.config.ts', '--host', '0.0.0.0', '--port', '0', '--allow-keyless-rpc-on-public-host', '--json']);
    const first = JSON.parse(await forced.waitForLine(/"url"/)) as { url: string };
    expect(first.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    forced.child.kill('SIGTERM');
    expect(await forced.exited).toBe(0);
    const local = project.start(['serve', '--config', 'keyless.config.ts', '--port', '0']);
    expect(await local.waitForLine(/^http:\/\/127\.0\.0\.1:\d+$/)).toBe(local.lines[0]);
    local.child.kill('SIGINT');
    expect(await local.exited).toBe(0);
  });

  // The published binary (dist/bin.js) on plain Node: a TypeScript config goes through jiti. CI builds first.
  it.skipIf(!existsSync(DIST_BIN))('the built binary loads a TypeScript config through jiti', async () => {
    project.write('helper.ts', "export const subject: string = 'from a helper';\n");
    project.write(
      'jiti.config.ts',
      `import { createHerald, defineNotification } from '@herald/core';
import { memoryStore, captureBackend } from '@herald/core/testing';
import { z } from 'zod';
import { subject } from './helper';
const n = defineNotification({ id: 'n', schema: z.object({}), templates: { email: { format: 'text', subject, body: 'x' } } });
export default createHerald({ store: memoryStore(), backends: [captureBackend({ protocol: 'email' })], notifications: [n] });
`,
    );
    const result = await project.run(['preview', 'n', '--config', 'jiti.config.ts', '--json'], { dist: true });
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ messages: [{ subject: 'from a helper' }] });
  });
});
