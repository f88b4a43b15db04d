import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createProject, type Project, shellCommand, type StoreKind } from './_project';
import { type LoopbackSmtp, startSmtp } from './_smtp';

interface Summary {
  dryRun: boolean;
  created: number;
  batches: string[];
  skipped: { total: number; byReason: Record<string, number> };
  lines: { read: number; good: number; bad: number };
  errors: { line: number; endLine?: number; message: string }[];
}

const STORES: StoreKind[] = ['sqlite', 'postgres'];
/** util-linux `script` runs a command on a pseudo-terminal: the one way to see what a person at a terminal sees. */
const hasScript = spawnSync('script', ['--version']).status === 0;

// Line 1 is the header; lines 4, 5–6, 8, 9, 10 and 11 are bad, each for another reason (5–6 is one record whose
// quoted name spans two lines: a name with a line break in it).
const CSV = [
  'id,name,locale,email,sms', // 1
  'u1,Ada Lovelace,en,ada@acme.io,+15550101', // 2
  'u2,"Lovelace, Byron",en-GB,byron@acme.io,', // 3
  'u3,Bad Mail,,not-an-address,', // 4
  'u4,"Grace', // 5: a quoted name over two lines
  'Hopper",en,grace@acme.io,+15550104', // 6
  'u4b,Grace Hopper,en,grace@acme.io,+15550104', // 7
  'u5,Too,Many,Fields,here,now', // 8
  'u6,Nobody,,,', // 9
  'u7,Bad Locale,en_US!,seven@acme.io,', // 10
  'u8,Bad Phone,,,12345', // 11
  'u9,Last One,fr,last@acme.io,+15550109', // 12
  '', // 13: blank lines are skipped
  'u10,Tail,,tail@acme.io,', // 14
].join('\n');

describe.each(STORES)('herald send --recipients against %s', (store) => {
  let smtp: LoopbackSmtp;
  let project: Project;

  beforeAll(async () => {
    smtp = await startSmtp();
    project = await createProject({ store, smtpPort: smtp.port });
    expect((await project.run(['migrate'])).code).toBe(0);
  });
  afterAll(async () => {
    await project?.cleanup();
    await smtp?.close();
  });

  it('a CSV with broken lines: good lines are enqueued in chunks, bad ones reported by line number, exit 1', async () => {
    project.write('people.csv', `${CSV}\n`);
    const result = await project.run(['send', 'welcome', '--data', '{"name":"friend"}', '--recipients', 'people.csv', '--chunk-size', '2', '--json']);
    expect(result.code).toBe(1);
    const s = result.json<Summary>();
    expect(s.errors).toEqual([
      { line: 4, message: expect.stringMatching(/contact email:not-an-address of recipient "u3": must be an email address/) },
      { line: 5, message: expect.stringMatching(/name of recipient "u4" contains a control character/) },
      { line: 8, message: 'has 6 fields, the header has 5' },
      { line: 9, message: 'no address in any of the columns email, sms' },
      { line: 10, message: 'locale "en_US!" is not a BCP 47 language tag (e.g. en, pt-BR)' },
      { line: 11, message: expect.stringMatching(/sms:12345 of recipient "u8": must be an E\.164 phone number/) },
    ]);
    // u1 (2 contacts), u2, u4b (2), u9 (2), u10 — with chunks of 2 a bad line never holds back its neighbours.
    expect(s.created).toBe(8);
    expect(s.lines).toEqual({ read: 11, good: 5, bad: 6 });
    expect(s.batches.length).toBeGreaterThanOrEqual(3);

    const rows = (await project.run(['deliveries', '--json', '--limit', '100'])).json<{ deliveries: { recipientId: string; address: string }[] }>().deliveries;
    expect(new Set(rows.map((d) => d.recipientId))).toEqual(new Set(['u1', 'u2', 'u4b', 'u9', 'u10']));
    expect(rows.map((d) => d.address)).toContain('grace@acme.io');

    const human = await project.run(['send', 'welcome', '--data', '{"name":"friend"}', '--recipients', 'people.csv', '--dry-run']);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('would create 8 deliveries (dry run: nothing enqueued)');
    expect(human.stdout).toContain('6 bad lines');
    expect(human.stdout).toMatch(/line 8: has 6 fields, the header has 5/);
  });

  it('--dry-run renders and checks everything and enqueues nothing', async () => {
    project.write('two.jsonl', ['{"id":"j1","name":"Jo","contacts":[{"protocol":"email","address":"jo@acme.io"}]}', '{"id":"j2","contacts":[{"protocol":"sms","address":"+15550111"}]}'].join('\n'));
    const before = (await project.run(['deliveries', '--json', '--limit', '500'])).json<{ deliveries: unknown[] }>().deliveries.length;
    const result = await project.run(['send', 'welcome', '--data', '{"name":"x"}', '--recipients', 'two.jsonl', '--dry-run', '--json']);
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ dryRun: true, created: 2, batches: [], errors: [] });
    expect((await project.run(['deliveries', '--json', '--limit', '500'])).json<{ deliveries: unknown[] }>().deliveries).toHaveLength(before);
  });

  it('JSON Lines: one recipient object per line; bad JSON and bad shapes are reported with their line', async () => {
    project.write(
      'people.jsonl',
      [
        '{"id":"k1","name":"Kay","contacts":[{"protocol":"email","address":"kay@acme.io"}]}',
        '{"id":"k2","contacts":[{"protocol":"email","address":"kay2@acme.io"}]', // unterminated
        '',
        '{"id":"k3","emial":"x@acme.io","contacts":[{"protocol":"email","address":"k3@acme.io"}]}',
        '["not", "an", "object"]',
        '{"id":"k4","contacts":[]}',
        '{"id":"k5","locale":"de","contacts":[{"protocol":"sms","address":"+15550155"}]}',
      ].join('\n'),
    );
    const result = await project.run(['send', 'welcome', '--data', '{"name":"x"}', '--recipients', 'people.jsonl', '--json']);
    expect(result.code).toBe(1);
    const s = result.json<Summary>();
    expect(s.created).toBe(2);
    expect(s.errors.map((e) => e.line)).toEqual([2, 4, 5, 6]);
    expect(s.errors[0]!.message).toMatch(/^not valid JSON/);
    expect(s.errors[1]!.message).toBe('unknown key "emial"; a recipient has id, name, locale, contacts, optOut');
  });

  it('a bad header stops before anything is enqueued (exit 1); bad data too', async () => {
    project.write('bad-header.csv', 'id,name,emial\nz1,Zed,zed@acme.io\n');
    const header = await project.run(['send', 'welcome', '--data', '{"name":"x"}', '--recipients', 'bad-header.csv', '--json']);
    expect(header.code).toBe(1);
    expect(header.json()).toMatchObject({ error: { code: 'VALIDATION', message: expect.stringContaining('unknown column "emial" (did you mean "email"?)') } });

    project.write('ok.csv', 'id,email\nz2,zed@acme.io\n');
    const data = await project.run(['send', 'welcome', '--data', '{"nam":"x"}', '--recipients', 'ok.csv']);
    expect(data.code).toBe(1);
    expect(data.stderr).toMatch(/data\.name/);
    const malformed = await project.run(['send', 'welcome', '--data', '{"name":', '--recipients', 'ok.csv', '--json']);
    expect(malformed.code).toBe(1);
    expect(malformed.json()).toMatchObject({ error: { code: 'VALIDATION', field: 'data', message: expect.stringContaining('--data is not valid JSON') } });
    const rows = (await project.run(['deliveries', '--json', '--recipient', 'z1'])).json<{ deliveries: unknown[] }>().deliveries;
    expect(rows).toHaveLength(0);
    expect((await project.run(['send', 'welcome', '--recipients', 'missing.csv', '--data', '{"name":"x"}'])).stderr).toContain('missing.csv: no such file');
    expect((await project.run(['send', 'welcome', '--data', '{"name":"x"}'])).code).toBe(2);
  });

  it('an unclosed quote swallows the rest of the file: those lines are reported as one range', async () => {
    project.write('unclosed.csv', 'id,email\nq1,q1@acme.io\nq2,"q2@acme.io\nq3,q3@acme.io\n');
    const result = await project.run(['send', 'receipt', '--data', '{"orderId":"Q","total":1}', '--recipients', 'unclosed.csv', '--json']);
    expect(result.code).toBe(1);
    const s = result.json<Summary>();
    expect(s.created).toBe(1);
    expect(s.errors).toEqual([{ line: 3, endLine: 4, message: 'a quote is opened and never closed' }]);
  });

  it('reads recipients from standard input', async () => {
    const result = await project.run(['send', 'receipt', '--data', '{"orderId":"S","total":2}', '--recipients', '-', '--format', 'csv', '--json'], { input: 'id,email\ns1,s1@acme.io\n' });
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ created: 1 });
  });

  it.skipIf(!hasScript)('on a terminal: a progress bar with share, rate and ETA on stderr, then the summary', async () => {
    const lines = ['id,email', ...Array.from({ length: 3000 }, (_, i) => `t${i},t${i}@acme.io`)];
    project.write('big.csv', `${lines.join('\n')}\n`);
    const command = shellCommand(['send', 'receipt', '--data', '{"orderId":"T","total":1}', '--recipients', 'big.csv', '--chunk-size', '100']);
    const tty = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: project.dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', TERM: 'xterm' } });
    expect(tty.status).toBe(0);
    expect(tty.stdout).toMatch(/\rsending █*░* +\d+% {2}[\d,]+ recipients {2}[\d,]+\/s {2}ETA \d\d:\d\d/);
    expect(tty.stdout).toContain('created 3000 deliveries in 30 batches');
    // NO_COLOR holds on a terminal too.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI sequences are what is checked
    expect(tty.stdout).not.toMatch(/\u001b\[3\dm/);
  });
});
