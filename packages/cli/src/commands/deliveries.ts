import {
  type Attempt,
  DELIVERY_STATUSES,
  type Delivery,
  type DeliveryFilter,
  type DeliveryStatus,
  type Herald,
  NotFoundError,
  redactAddress,
  statusForEvent,
  type StoredTrackingEvent,
} from '@herald/core';
import { type Command, InvalidArgumentError } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { CommandFailed, exitCodeOf, reportOf } from '../_errors';
import { EXIT, type ExitCode, type Output } from '../_output';
import { instant, list, positiveInt } from '../_parse';

interface ListOptions extends CommonOptions {
  status?: DeliveryStatus[];
  notification?: string;
  backend?: string;
  address?: string;
  recipient?: string;
  batch?: string;
  dedupeKey?: string;
  since?: Date;
  before?: Date;
  beforeId?: string;
  limit: number;
}

function statuses(value: string, previous: DeliveryStatus[] = []): DeliveryStatus[] {
  const items = list(value);
  for (const s of items) {
    if (!(DELIVERY_STATUSES as readonly string[]).includes(s)) throw new InvalidArgumentError(`"${s}" is not a status; use ${DELIVERY_STATUSES.join(', ')}.`);
  }
  return [...previous, ...(items as DeliveryStatus[])];
}

const when = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');
const exact = (d: Date) => d.toISOString();

/** A delivery for `--json` lists: everything but the stored message (large; `herald delivery <id>` shows it). */
function summary(d: Delivery): Omit<Delivery, 'message'> {
  const { message: _message, ...rest } = d;
  return { ...rest, address: redactAddress(d.address) };
}

export function colorStatus(out: Output, status: string): string {
  const c = out.color;
  if (['sent', 'delivered', 'opened', 'clicked'].includes(status)) return c.green(status);
  if (['failed', 'bounced', 'rejected', 'complained'].includes(status)) return c.red(status);
  if (['retrying', 'deferred', 'unsubscribed'].includes(status)) return c.yellow(status);
  return c.dim(status);
}

interface TimelineEntry {
  at: Date;
  kind: 'created' | 'attempt' | 'event' | 'status';
  /** The delivery status this step led to (derived from the attempt log and the events). */
  status: DeliveryStatus | null;
  summary: string;
  attempt?: Attempt;
  event?: Omit<StoredTrackingEvent, 'raw'>;
}

const ATTEMPT_STATUS: Record<Attempt['outcome'], DeliveryStatus | null> = {
  sent: 'sent',
  transient: 'retrying',
  permanent: 'failed',
  unsupported: 'failed',
  expired: 'failed',
  abandoned: 'retrying',
  'circuit-open': 'retrying',
};

/**
 * The delivery's history: Herald keeps no separate status log, so the status changes are read from what is
 * kept — creation, every attempt (in order), every tracking event — and the status it has now.
 */
function timeline(d: Delivery, attempts: readonly Attempt[], events: readonly StoredTrackingEvent[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    {
      at: d.createdAt,
      kind: 'created',
      status: d.status === 'skipped' ? 'skipped' : 'queued',
      summary: d.status === 'skipped' ? `skipped: ${d.skipReason}` : `queued (batch ${d.batchId})`,
    },
  ];
  for (const a of attempts) {
    const last = a === attempts[attempts.length - 1];
    const status = last && a.outcome === 'transient' && d.status === 'failed' ? 'failed' : ATTEMPT_STATUS[a.outcome];
    entries.push({
      at: a.startedAt,
      kind: 'attempt',
      status,
      summary: `attempt ${a.attempt} ${a.outcome} via ${a.backend ?? '?'} in ${a.durationMs} ms (worker ${a.workerId})${a.error ? `: ${a.error}` : ''}`,
      attempt: a,
    });
  }
  for (const e of events) {
    const { raw: _raw, ...event } = e;
    entries.push({
      at: e.timestamp ?? e.receivedAt,
      kind: 'event',
      status: statusForEvent(e.eventType),
      summary: `${e.eventType} from ${e.backend}${e.description ? `: ${e.description}` : ''}${e.rejectReason ? ` (${e.rejectReason})` : ''}`,
      event,
    });
  }
  entries.sort((a, b) => a.at.getTime() - b.at.getTime());
  if (d.status === 'cancelled') entries.push({ at: d.updatedAt, kind: 'status', status: 'cancelled', summary: `cancelled${d.lastError ? `: ${d.lastError}` : ''}` });
  else entries.push({ at: d.updatedAt, kind: 'status', status: d.status, summary: `now ${d.status}${d.nextAttemptAt && ['queued', 'retrying'].includes(d.status) ? `, next attempt ${when(d.nextAttemptAt)}` : ''}` });
  return entries;
}

function printDelivery(out: Output, d: Delivery, entries: readonly TimelineEntry[]): void {
  const c = out.color;
  out.line(`${c.bold(d.id)}  ${colorStatus(out, d.status)}  ${d.notification} → ${d.protocol}:${redactAddress(d.address)}${d.backend ? ` via ${d.backend}` : ''}`);
  const facts = [
    `batch ${d.batchId}`,
    d.recipientId ? `recipient ${d.recipientId}` : null,
    `attempts ${d.attempts}/${d.maxAttempts}`,
    d.providerMessageId ? `provider id ${d.providerMessageId}` : null,
    d.dedupeKey ? `dedupe key ${d.dedupeKey}` : null,
    d.category ? `category ${d.category}` : null,
  ].filter(Boolean);
  out.line(c.dim(facts.join(' · ')));
  if (d.message?.content.subject) out.line(`${c.bold('Subject:')} ${d.message.content.subject}`);
  if (d.lastError && d.status !== 'cancelled') out.line(`${c.bold('Last error:')} ${d.lastError}`);
  out.line();
  out.line(c.bold('Timeline'));
  for (const e of entries) {
    out.line(`  ${c.dim(exact(e.at))}  ${e.status ? colorStatus(out, e.status.padEnd(9)) : ' '.repeat(9)}  ${e.summary}`);
    if (e.attempt?.request) out.line(`  ${' '.repeat(24)}   ${c.dim('request')}  ${JSON.stringify(e.attempt.request)}`);
    if (e.attempt?.response !== null && e.attempt?.response !== undefined) out.line(`  ${' '.repeat(24)}   ${c.dim('answer ')}  ${JSON.stringify(e.attempt.response)}`);
  }
}

/** Run `fn` for each id; report each outcome; the exit code is the worst of the failures. */
async function eachId(out: Output, ids: readonly string[], verb: string, fn: (id: string) => Promise<Delivery>): Promise<ExitCode> {
  const results: { id: string; ok: boolean; status?: DeliveryStatus; error?: ReturnType<typeof reportOf> }[] = [];
  let exit: ExitCode = EXIT.ok;
  for (const id of ids) {
    try {
      const d = await fn(id);
      results.push({ id, ok: true, status: d.status });
      out.line(`${out.color.green('✓')} ${id} ${verb} (now ${d.status})`);
    } catch (error) {
      const code = exitCodeOf(error);
      exit = Math.max(exit, code) as ExitCode;
      results.push({ id, ok: false, error: reportOf(error) });
      if (!out.json) out.note(`${out.errColor.red('✗')} ${id}: ${reportOf(error).message.replace(/^\[herald\] /, '')}`);
    }
  }
  if (out.json) out.document({ results });
  if (exit !== EXIT.ok) throw new CommandFailed(exit);
  return EXIT.ok;
}

async function found(herald: Herald, id: string): Promise<Delivery> {
  const d = await herald.deliveries.get(id);
  if (!d) throw new NotFoundError(`no delivery "${id}"`);
  return d;
}

export function registerDeliveries(program: Command, runtime: Runtime): void {
  const ls = program
    .command('deliveries')
    .description('list deliveries, newest first')
    .option('-s, --status <statuses>', `only these statuses, comma-separated (${DELIVERY_STATUSES.join(', ')})`, statuses)
    .option('-n, --notification <id>', 'only this notification')
    .option('-b, --backend <name>', 'only this backend')
    .option('-a, --address <address>', 'only this address')
    .option('--recipient <id>', 'only this recipient id')
    .option('--batch <id>', 'only this batch (one notify() call)')
    .option('--dedupe-key <key>', 'only deliveries sent with this dedupe key')
    .option('--since <time>', 'created at or after: ISO time or a duration ago ("1h", "7d")', instant)
    .option('--before <time>', 'created before (paging: pass the last row\'s createdAt, with --before-id its id)', instant)
    .option('--before-id <id>', 'with --before: at that instant, only ids sorting before this one')
    .option('-l, --limit <n>', 'most rows', positiveInt, 50);
  withCommonOptions(ls);
  examples(ls, [
    'herald deliveries --status failed,bounced --since 24h',
    'herald deliveries --address ada@example.com --limit 10',
    'herald deliveries --notification order-shipped --json | jq -r ".deliveries[].id"',
  ]);
  ls.action(
    action<ListOptions>(runtime, async ({ opts, out, load }) => {
      const { herald } = await load();
      const filter: DeliveryFilter = { limit: opts.limit };
      if (opts.status) filter.status = opts.status.length === 1 ? opts.status[0]! : opts.status;
      if (opts.notification) filter.notification = opts.notification;
      if (opts.backend) filter.backend = opts.backend;
      if (opts.address) filter.address = opts.address;
      if (opts.recipient) filter.recipientId = opts.recipient;
      if (opts.batch) filter.batchId = opts.batch;
      if (opts.dedupeKey) filter.dedupeKey = opts.dedupeKey;
      if (opts.since) filter.since = opts.since;
      if (opts.before) filter.before = opts.before;
      if (opts.beforeId) filter.beforeId = opts.beforeId;
      const rows = await herald.deliveries.list(filter);
      const last = rows[rows.length - 1];
      const next = rows.length === opts.limit && last ? { before: last.createdAt.toISOString(), beforeId: last.id } : null;
      out.result({ deliveries: rows.map(summary), next }, () => {
        if (!rows.length) {
          out.line('no deliveries match');
          return;
        }
        out.table(
          ['ID', 'STATUS', 'NOTIFICATION', 'BACKEND', 'ADDRESS', 'ATTEMPTS', 'CREATED'],
          rows.map((d) => [d.id, colorStatus(out, d.status), d.notification, d.backend ?? '-', `${d.protocol}:${redactAddress(d.address)}`, `${d.attempts}/${d.maxAttempts}`, when(d.createdAt)]),
        );
        if (next) out.note(out.errColor.dim(`more: --before ${next.before} --before-id ${next.beforeId}`));
      });
      return EXIT.ok;
    }),
  );

  const one = program.command('delivery').argument('<id>', 'delivery id').description('one delivery and its timeline: status changes, every attempt (request, answer, duration), tracking events');
  withCommonOptions(one);
  examples(one, ['herald delivery d_01J…', 'herald delivery d_01J… --json | jq .attempts']);
  one.action(
    action<CommonOptions, [string]>(runtime, async ({ out, load }, id) => {
      const { herald } = await load();
      const d = await found(herald, id);
      const [attempts, events] = await Promise.all([herald.deliveries.attempts(id), herald.deliveries.events(id)]);
      const entries = timeline(d, attempts, events);
      out.result({ delivery: { ...d, address: redactAddress(d.address) }, attempts, events, timeline: entries.map(({ attempt: _a, event: _e, ...e }) => e) }, () =>
        printDelivery(out, d, entries),
      );
      return EXIT.ok;
    }),
  );

  const redeliver = program.command('redeliver').argument('<ids...>', 'delivery ids').description('send finished deliveries (failed, bounced …) again, with a fresh attempt budget');
  withCommonOptions(redeliver);
  examples(redeliver, ['herald redeliver d_01J… d_01K…', 'herald deliveries --status failed --json | jq -r ".deliveries[].id" | xargs herald redeliver']);
  redeliver.action(
    action<CommonOptions, [string[]]>(runtime, async ({ out, load }, ids) => {
      const { herald } = await load();
      return eachId(out, ids, 'queued again', (id) => herald.redeliver(id));
    }),
  );

  const cancel = program
    .command('cancel')
    .argument('<ids...>', 'delivery ids')
    .description('take waiting deliveries (queued, scheduled or retrying) out of the queue: status cancelled, never sent')
    .option('--reason <text>', 'kept as the delivery\'s last error', 'cancelled');
  withCommonOptions(cancel);
  examples(cancel, ['herald cancel d_01J…', 'herald cancel d_01J… d_01K… --reason "wrong campaign"']);
  cancel.action(
    action<CommonOptions & { reason: string }, [string[]]>(runtime, async ({ opts, out, load }, ids) => {
      const { herald } = await load();
      return eachId(out, ids, 'cancelled', (id) => herald.cancel(id, { reason: opts.reason }));
    }),
  );
}
