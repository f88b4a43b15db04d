import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createProject, type Project, type StoreKind } from './_project';
import { type LoopbackSmtp, startSmtp } from './_smtp';

interface DeliveryJson {
  id: string;
  status: string;
  notification: string;
  backend: string | null;
  address: string;
  attempts: number;
  skipReason: string | null;
  lastError: string | null;
}

const STORES: StoreKind[] = ['sqlite', 'postgres'];

/** Start a worker, wait for `count` log lines matching `until` (e.g. deliveries sent), stop it with SIGTERM. */
async function runWorker(project: Project, until: RegExp, count: number): Promise<string[]> {
  const worker = project.start(['worker', '--json', '--verbose', '--poll-interval', '50ms']);
  await worker.waitForLines(until, count);
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
  return worker.lines;
}

describe.each(STORES)('herald commands against %s', (store) => {
  let smtp: LoopbackSmtp;
  let project: Project;
  const list = async (...args: string[]) => (await project.run(['deliveries', '--json', ...args])).json<{ deliveries: DeliveryJson[] }>().deliveries;

  beforeAll(async () => {
    smtp = await startSmtp();
    project = await createProject({ store, smtpPort: smtp.port });
  });
  afterEach(() => project.killAll());
  afterAll(async () => {
    await project?.cleanup();
    await smtp?.close();
  });

  it('migrate --dry-run lists pending migrations, migrate applies them, a second run has nothing to do', async () => {
    const dry = await project.run(['migrate', '--dry-run', '--json']);
    expect(dry.code).toBe(0);
    const before = dry.json<{ applied: unknown[]; pending: { version: number; description: string }[] }>();
    expect(before.applied).toEqual([]);
    expect(before.pending.length).toBeGreaterThan(0);

    const human = await project.run(['migrate']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`applied ${before.pending.length} migration`);

    const again = await project.run(['migrate', '--json']);
    expect(again.json()).toMatchObject({ applied: [], pending: [] });
    expect((await project.run(['migrate', '--dry-run'])).stdout).toMatch(/0 pending/);
  });

  it('check reports every part ok and exits 0', async () => {
    const result = await project.run(['check', '--json']);
    expect(result.code).toBe(0);
    const report = result.json<{ ok: boolean; checks: { name: string; status: string }[] }>();
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['config', 'templates', 'backend smtp', 'backend capture-sms', `store ${store}`]));
    const ping = await project.run(['check', '--ping']);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toMatch(/ping smtp: no harmless call/);
  });

  it('send --to enqueues, the worker sends over SMTP, deliveries and delivery show it', async () => {
    const sent = await project.run(['send', 'welcome', '--data', '{"name":"Ada"}', '--to', 'email:ada@acme.io', '--to', 'sms:+15550100', '--recipient-id', 'u-ada', '--name', 'Ada L', '--json']);
    expect(sent.code).toBe(0);
    const summary = sent.json<{ created: number; batches: string[] }>();
    expect(summary.created).toBe(2);
    expect(summary.batches).toHaveLength(1);

    await runWorker(project, /"msg":"delivery sent"/, 2);
    expect(smtp.messages[0]!.raw).toContain('Subject: Welcome, Ada');
    expect(smtp.messages[0]!.raw).toContain('Hi Ada L');

    const rows = await list('--batch', summary.batches[0]!);
    expect(rows.map((d) => [d.backend, d.status]).sort()).toEqual([
      ['capture-sms', 'sent'],
      ['smtp', 'sent'],
    ]);
    const email = rows.find((d) => d.backend === 'smtp')!;
    expect(await list('--address', 'ada@acme.io', '--status', 'sent')).toHaveLength(1);
    expect(await list('--backend', 'capture-sms', '--notification', 'welcome')).toHaveLength(1);
    expect(await list('--since', '1h', '--limit', '1')).toHaveLength(1);
    expect(await list('--status', 'failed')).toHaveLength(0);

    const table = await project.run(['deliveries']);
    expect(table.stdout).toMatch(/^ID\s+STATUS\s+NOTIFICATION/);
    expect(table.stdout).toContain('email:ada@acme.io');

    const one = await project.run(['delivery', email.id, '--json']);
    expect(one.code).toBe(0);
    const detail = one.json<{ delivery: DeliveryJson; attempts: { outcome: string; durationMs: number; request: object }[]; timeline: { kind: string; status: string }[] }>();
    expect(detail.delivery.status).toBe('sent');
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0]).toMatchObject({ outcome: 'sent', request: expect.any(Object) });
    expect(detail.timeline.map((e) => [e.kind, e.status])).toEqual([
      ['created', 'queued'],
      ['attempt', 'sent'],
      ['status', 'sent'],
    ]);
    const human = await project.run(['delivery', email.id]);
    expect(human.stdout).toContain('Timeline');
    expect(human.stdout).toMatch(/attempt 1 sent via smtp in \d+ ms/);

    const missing = await project.run(['delivery', 'd_nope', '--json']);
    expect(missing.code).toBe(1);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('preview prints subject, text, HTML source, the SMS with its segment count; --json for scripts', async () => {
    const result = await project.run(['preview', 'welcome', '--data', '{"name":"Zoë"}']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Subject: Welcome, Zoë');
    expect(result.stdout).toContain('<strong>Zoë</strong>');
    // ë is outside GSM 03.38: the whole SMS goes as UCS-2.
    expect(result.stdout).toMatch(/text, 1 segment \(UCS-2, 35 UTF-16 units\)/);
    const gsm = await project.run(['preview', 'welcome', '--data', '{"name":"Ada"}', '--channel', 'sms']);
    expect(gsm.stdout).toMatch(/text, 1 segment \(GSM-7, 35 septets\)/);
    expect(gsm.stdout).not.toContain('Subject:');

    const json = (await project.run(['preview', 'welcome', '--data', '{"name":"🙂"}', '--json'])).json<{ messages: { channel: string; sms?: { encoding: string; segments: number } }[] }>();
    expect(json.messages.map((m) => m.channel).sort()).toEqual(['email', 'sms']);
    expect(json.messages.find((m) => m.channel === 'sms')!.sms).toMatchObject({ encoding: 'UCS-2', segments: 1 });

    const bad = await project.run(['preview', 'welcome', '--data', '{"nme":"x"}']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/data\.name/);
    const unknown = await project.run(['preview', 'nope', '--json']);
    expect(unknown.code).toBe(1);
    expect(unknown.json()).toMatchObject({ error: { code: 'VALIDATION', message: expect.stringContaining('registered: welcome, receipt') } });
  });

  it('suppressions add, list, remove; a send to a suppressed address is skipped with the reason', async () => {
    expect((await project.run(['suppressions', 'add', 'email:Blocked@Acme.io', '--reason', 'asked by phone'])).code).toBe(0);
    const listed = (await project.run(['suppressions', 'list', '--json'])).json<{ suppressions: { protocol: string; address: string; reason: string }[] }>();
    expect(listed.suppressions).toEqual([expect.objectContaining({ protocol: 'email', address: 'blocked@acme.io', reason: 'asked by phone' })]);
    expect((await project.run(['suppressions', 'list', '--protocol', 'sms', '--json'])).json()).toMatchObject({ suppressions: [] });

    const sent = await project.run(['send', 'receipt', '--data', '{"orderId":"A1","total":3}', '--to', 'email:blocked@acme.io', '--json']);
    expect(sent.code).toBe(0);
    expect(sent.json()).toMatchObject({ created: 0, skipped: { total: 1, byReason: { suppressed: 1 } } });

    expect((await project.run(['suppressions', 'remove', 'email:blocked@acme.io'])).code).toBe(0);
    const again = await project.run(['suppressions', 'remove', 'email:blocked@acme.io']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('was not suppressed');
    const bad = await project.run(['suppressions', 'add', 'fax:123']);
    expect(bad.code).toBe(1);
  });

  it('prefs set and get; an opted-out category is skipped; --clear opts back in', async () => {
    expect((await project.run(['prefs', 'set', 'u-grace', 'marketing'])).code).toBe(0);
    expect((await project.run(['prefs', 'get', 'u-grace', '--json'])).json()).toEqual({ key: 'u-grace', optOut: ['marketing'] });
    const sent = await project.run(['send', 'welcome', '--data', '{"name":"Grace"}', '--to', 'email:grace@acme.io', '--recipient-id', 'u-grace', '--json']);
    expect(sent.json()).toMatchObject({ created: 0, skipped: { byReason: { 'opted-out': 1 } } });
    expect((await project.run(['prefs', 'set', 'u-grace'])).code).toBe(1);
    expect((await project.run(['prefs', 'set', 'u-grace', '--clear'])).code).toBe(0);
    expect((await project.run(['prefs', 'get', 'u-grace'])).stdout).toContain('opted out of nothing');
  });

  it('cancel takes a scheduled delivery out of the queue; cancelling it again, or an unknown id, exits 1', async () => {
    const sent = (await project.run(['send', 'receipt', '--data', '{"orderId":"C1","total":1}', '--to', 'email:later@acme.io', '--delay', '1h', '--json'])).json<{ batches: string[] }>();
    const [d] = await list('--batch', sent.batches[0]!);
    expect(d!.status).toBe('queued');
    const cancelled = await project.run(['cancel', d!.id, '--reason', 'wrong campaign', '--json']);
    expect(cancelled.code).toBe(0);
    expect(cancelled.json()).toEqual({ results: [{ id: d!.id, ok: true, status: 'cancelled' }] });
    const [after] = await list('--batch', sent.batches[0]!);
    expect(after).toMatchObject({ status: 'cancelled', lastError: 'wrong campaign' });

    // Cancelling is idempotent; a delivery already sent, or an unknown id, cannot be cancelled.
    const [sent1] = await list('--status', 'sent', '--limit', '1');
    const mixed = await project.run(['cancel', d!.id, sent1!.id, 'd_unknown']);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toContain(`${d!.id} cancelled`);
    expect(mixed.stderr).toMatch(/is already sent; only queued or retrying deliveries can be cancelled/);
    expect(mixed.stderr).toMatch(/no delivery "d_unknown"/);
  });

  it('a permanent SMTP refusal fails the delivery; redeliver queues it again; prune deletes finished deliveries', async () => {
    smtp.refuse('gone@acme.io');
    const sent = (await project.run(['send', 'receipt', '--data', '{"orderId":"R1","total":9}', '--to', 'email:gone@acme.io', '--json'])).json<{ batches: string[] }>();
    const batch = sent.batches[0]!;
    const lines = await runWorker(project, /"msg":"delivery failed"/, 1);
    const failedLine = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'delivery failed');
    expect(failedLine).toMatchObject({ level: 'error', backend: 'smtp', to: 'email:gone@acme.io', error: expect.stringContaining('550') });

    const [failed] = await list('--batch', batch);
    const redelivered = await project.run(['redeliver', failed!.id]);
    expect(redelivered.code).toBe(0);
    expect(redelivered.stdout).toContain('queued again');
    expect((await list('--batch', batch))[0]!.status).toBe('queued');
    const notFinished = await project.run(['redeliver', failed!.id, '--json']);
    expect(notFinished.code).toBe(1);
    expect(notFinished.json()).toMatchObject({ results: [{ ok: false, error: { code: 'VALIDATION' } }] });

    const finished = (await list('--limit', '500')).filter((d) => ['sent', 'failed', 'skipped', 'cancelled'].includes(d.status)).length;
    expect(finished).toBeGreaterThan(0);
    const pruned = await project.run(['prune', '--older-than', '0', '--json']);
    expect(pruned.code).toBe(0);
    expect(pruned.json()).toMatchObject({ deleted: finished });
    expect((await list('--limit', '500')).every((d) => d.status === 'queued')).toBe(true);
    expect((await project.run(['prune', '--older-than', 'soon'])).code).toBe(2);
  });

  it('keys create prints the key once; list shows it without the secret; revoke; serve answers with it', async () => {
    const created = await project.run(['keys', 'create', '--scope', 'send,read', '--name', 'billing', '--json']);
    expect(created.code).toBe(0);
    const { id, key } = created.json<{ id: string; key: string }>();
    expect(key).toMatch(new RegExp(`^hk_${id}_`));
    const human = await project.run(['keys', 'create', '--scope', 'admin']);
    expect(human.stdout.trim()).toMatch(/^hk_[a-f0-9]{16}_\S+$/);
    expect(human.stderr).toContain('shown once');

    const listed = await project.run(['keys', 'list', '--json']);
    expect(listed.stdout).not.toContain(key);
    expect(listed.json<{ keys: { id: string; scopes: string[]; revokedAt: string | null }[] }>().keys).toContainEqual(expect.objectContaining({ id, scopes: ['send', 'read'], revokedAt: null }));
    expect((await project.run(['keys', 'create', '--scope', 'root'])).code).toBe(2);

    const server = project.start(['serve', '--port', '0']);
    const url = await server.waitForLine(/^http:\/\//);
    expect(server.lines[0]).toBe(url);
    const answer = await fetch(`${url}/v1/deliveries?limit=1`, { headers: { authorization: `Bearer ${key}` } });
    expect(answer.status).toBe(200);
    expect((await fetch(`${url}/v1/deliveries`)).status).toBe(401);

    expect((await project.run(['keys', 'revoke', id])).code).toBe(0);
    expect((await fetch(`${url}/v1/deliveries`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    const twice = await project.run(['keys', 'revoke', id, '--json']);
    expect(twice.code).toBe(1);
    expect(twice.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
