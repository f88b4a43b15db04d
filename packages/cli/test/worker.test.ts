import parsePrometheus from 'parse-prometheus-text-format';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { histogram, samples } from './_prometheus';
import { createProject, type Project, type StoreKind } from './_project';
import { type LoopbackSmtp, startSmtp } from './_smtp';

interface DeliveryJson {
  id: string;
  status: string;
  backend: string;
  attempts: number;
  recipientId: string;
}

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

const STORES: StoreKind[] = ['sqlite', 'postgres'];

const jsonl = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) => JSON.stringify({ id: `${prefix}${i}`, contacts: [{ protocol: 'email', address: `${prefix}${i}@acme.io` }] })).join('\n');

const parseLog = (lines: readonly string[]) => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);

describe.each(STORES)('herald worker against %s', (store) => {
  let smtp: LoopbackSmtp;
  let project: Project;
  const list = async (...args: string[]) => (await project.run(['deliveries', '--json', '--limit', '500', ...args])).json<{ deliveries: DeliveryJson[] }>().deliveries;
  const enqueue = async (count: number, prefix: string) => {
    project.write(`${prefix}.jsonl`, jsonl(count, prefix));
    const sent = await project.run(['send', 'receipt', '--data', '{"orderId":"W","total":1}', '--recipients', `${prefix}.jsonl`, '--json']);
    expect(sent.code).toBe(0);
    return sent.json<{ batches: string[] }>().batches;
  };

  beforeAll(async () => {
    smtp = await startSmtp();
    project = await createProject({ store, smtpPort: smtp.port });
    expect((await project.run(['migrate'])).code).toBe(0);
  });
  afterEach(() => {
    smtp.delayMs = 0;
    project.killAll();
  });
  afterAll(async () => {
    await project?.cleanup();
    await smtp?.close();
  });

  it('SIGTERM during a drain: sends in flight finish, unsent claims go back to the queue, exit 0', async () => {
    const [batch] = await enqueue(12, 'drain');
    smtp.delayMs = 800;
    const worker = project.start(['worker', '--concurrency', '3', '--verbose', '--poll-interval', '50ms']);
    await worker.waitForLine(/"msg":"delivery sending"/);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const log = parseLog(worker.lines);
    expect(log.map((l) => l.msg)).toEqual(expect.arrayContaining(['worker started', 'worker stopping', 'worker stopped']));
    expect(log.find((l) => l.msg === 'worker stopping')).toMatchObject({ signal: 'SIGTERM', timeoutMs: 30_000 });
    const stopped = log.find((l) => l.msg === 'worker stopped')!;

    const rows = await list('--batch', batch!);
    const sent = rows.filter((d) => d.status === 'sent');
    const queued = rows.filter((d) => d.status === 'queued');
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent.length).toBeLessThan(12);
    expect(sent.length + queued.length).toBe(12);
    // Given back without counting an attempt; nothing is left half-sent.
    expect(queued.every((d) => d.attempts === 0)).toBe(true);
    expect(stopped.sent).toBe(sent.length);
    expect(smtp.messages.filter((m) => m.to[0]!.startsWith('drain')).length).toBe(sent.length);

    // The rest goes out with the next worker.
    smtp.delayMs = 0;
    const next = project.start(['worker', '--json', '--verbose', '--poll-interval', '50ms']);
    await next.waitForLines(/"msg":"delivery sent"/, queued.length);
    next.child.kill('SIGINT');
    expect(await next.exited).toBe(0);
    expect(await list('--batch', batch!, '--status', 'sent')).toHaveLength(12);
  });

  it('a stop that outlasts --stop-timeout exits 3; a second signal exits 130 at once', async () => {
    const [batch] = await enqueue(2, 'slow');
    smtp.delayMs = 6000;
    const slow = project.start(['worker', '--json', '--verbose', '--stop-timeout', '300ms', '--lease', '2s']);
    await slow.waitForLine(/"msg":"delivery sending"/);
    slow.child.kill('SIGTERM');
    expect(await slow.exited).toBe(3);
    expect(parseLog(slow.lines).at(-1)).toMatchObject({ level: 'error', msg: 'worker did not stop within 300ms; sends still in flight are taken over by another worker after their lease' });

    // Wait for the dead worker's 2 s lease, so the next one reclaims the deliveries.
    await new Promise((r) => setTimeout(r, 2200));
    const impatient = project.start(['worker', '--json', '--verbose', '--lease', '2s']);
    await impatient.waitForLine(/"msg":"delivery sending"/);
    impatient.child.kill('SIGINT');
    await impatient.waitForLine(/"worker stopping"/);
    impatient.child.kill('SIGINT');
    expect(await impatient.exited).toBe(130);
    expect(parseLog(impatient.lines).at(-1)).toMatchObject({ msg: 'second signal: exiting without waiting for sends in flight' });
    smtp.delayMs = 0;

    // The impatient worker left one delivery `sending` under its 2 s lease: the finisher takes it over after that.
    const finisher = project.start(['worker', '--json', '--verbose', '--lease', '2s', '--poll-interval', '100ms']);
    await finisher.waitForLines(/"msg":"delivery sent"/, 2);
    finisher.child.kill('SIGTERM');
    expect(await finisher.exited).toBe(0);
    const attempts = (await project.run(['delivery', (await list('--batch', batch!))[0]!.id, '--json'])).json<{ attempts: { outcome: string }[] }>().attempts;
    expect(attempts.map((a) => a.outcome)).toContain('abandoned');
  });

  it('--health serves /healthz and Prometheus /metrics: deliveries by status, queue depth, oldest due age, send durations', async () => {
    smtp.defer('later@acme.io');
    project.write('health.jsonl', [jsonl(3, 'health'), JSON.stringify({ id: 'later', contacts: [{ protocol: 'email', address: 'later@acme.io' }] })].join('\n'));
    expect((await project.run(['send', 'receipt', '--data', '{"orderId":"H","total":1}', '--recipients', 'health.jsonl'])).code).toBe(0);
    expect((await project.run(['send', 'receipt', '--data', '{"orderId":"H2","total":1}', '--to', 'email:held@acme.io', '--delay', '1h'])).code).toBe(0);

    const worker = project.start(['worker', '--json', '--verbose', '--health', '0', '--poll-interval', '50ms']);
    const listening = parseLog([await worker.waitForLine(/health endpoint listening/)])[0]!;
    const url = String(listening.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', worker: expect.any(String) });
    expect((await fetch(`${url}/nope`)).status).toBe(404);

    // The deferred address retries twice (fixed 50 ms) and fails at the third attempt (maxAttempts 3).
    await worker.waitForLine(/"msg":"delivery failed"/);
    const log = parseLog(worker.lines);
    expect(log.filter((l) => l.msg === 'delivery retrying')).toHaveLength(2);
    expect(log.find((l) => l.msg === 'delivery retrying')).toMatchObject({ level: 'warn', to: 'email:later@acme.io', error: expect.stringContaining('451') });
    expect(log.find((l) => l.msg === 'delivery failed')).toMatchObject({ level: 'error', to: 'email:later@acme.io', attempt: 3 });
    await worker.waitForLines(/"msg":"delivery sent".*"to":"email:health/, 3);

    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    const families = new Map(parsePrometheus(text).map((f) => [f.name, f]));
    const counts = await project.run(['deliveries', '--json', '--limit', '500']);
    const byStatus = new Map<string, number>();
    for (const d of counts.json<{ deliveries: DeliveryJson[] }>().deliveries) byStatus.set(d.status, (byStatus.get(d.status) ?? 0) + 1);

    const deliveries = families.get('herald_deliveries')!;
    expect(deliveries.type).toBe('GAUGE');
    const gauge = (status: string) => Number(deliveries.metrics.find((m) => m.labels?.status === status)?.value);
    expect(gauge('sent')).toBe(byStatus.get('sent'));
    expect(gauge('failed')).toBe(byStatus.get('failed'));
    expect(gauge('bounced')).toBe(0);
    expect(Number(families.get('herald_queue_depth')!.metrics[0]!.value)).toBe((byStatus.get('queued') ?? 0) + (byStatus.get('retrying') ?? 0));
    expect(Number(families.get('herald_oldest_due_age_seconds')!.metrics[0]!.value)).toBe(0);

    expect(families.get('herald_send_duration_seconds')!.type).toBe('HISTOGRAM');
    const all = samples(text);
    const sent = histogram(all, 'herald_send_duration_seconds', { backend: 'smtp', outcome: 'sent' });
    const transient = histogram(all, 'herald_send_duration_seconds', { backend: 'smtp', outcome: 'transient' });
    expect(sent.count).toBe(3);
    expect(transient.count).toBe(3);
    expect(sent.sum).toBeGreaterThan(0);
    expect(sent.buckets.at(-1)).toEqual({ le: '+Inf', count: 3 });
    // Cumulative: each bucket holds at least what the one below it holds.
    expect(sent.buckets.map((b) => b.count)).toEqual([...sent.buckets.map((b) => b.count)].sort((a, b) => a - b));
    expect(sent.buckets.map((b) => b.le)).toContain('0.005');

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('--backends limits the worker to those backends; an unknown name is a usage error naming the closest one', async () => {
    const sent = await project.run(['send', 'welcome', '--data', '{"name":"B"}', '--to', 'email:both@acme.io', '--to', 'sms:+15550177', '--json']);
    const batch = sent.json<{ batches: string[] }>().batches[0]!;
    const worker = project.start(['worker', '--json', '--verbose', '--backends', 'capture-sms', '--poll-interval', '50ms']);
    expect(parseLog([await worker.waitForLine(/"worker started"/)])[0]).toMatchObject({ backends: 'capture-sms' });
    await worker.waitForLine(/"msg":"delivery sent".*"backend":"capture-sms"/);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect((await list('--batch', batch)).find((d) => d.backend === 'smtp')?.status).toBe('queued');

    const typo = await project.run(['worker', '--backends', 'smpt']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('no backend named "smpt" (did you mean "smtp"?)');
  });
});
