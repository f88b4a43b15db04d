import type { Duration, Herald, Notification, NotifyOptions, Recipient, SkippedContact } from '@herald/core';
import { type Command, InvalidArgumentError } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { CommandFailed, reportOf } from '../_errors';
import { EXIT, type Output } from '../_output';
import { type ContactArg, contact, duration, positiveInt, readData } from '../_parse';
import { progressBar } from '../_progress';
import type { BadLine, GoodLine } from '../_recipients';

interface SendOptions extends CommonOptions {
  data?: string;
  to?: ContactArg[];
  recipientId?: string;
  name?: string;
  recipients?: string;
  format?: string;
  chunkSize: number;
  dryRun?: boolean;
  delay?: Duration;
  sendAt?: string;
}

interface Summary {
  dryRun: boolean;
  notification: string;
  /** Deliveries queued (with --dry-run: that would be queued). */
  created: number;
  batches: string[];
  skipped: { total: number; byReason: Record<string, number> };
  lines: { read: number; good: number; bad: number };
  /** Bad lines by line number, and chunk-level problems. */
  errors: { line: number; endLine?: number; message: string }[];
  /** Set when the run stopped early (the store failed): what was enqueued before stays enqueued. */
  stopped?: { atLine: number; error: ReturnType<typeof reportOf> };
}

/** Lines of a chunk, with their index in the `recipients` array passed to notify(). */
type Chunk = GoodLine[];

const RECIPIENT_ISSUE = /^recipients\[(\d+)\]/;

/**
 * One notify() (or prepare(), for --dry-run) call per chunk. A ValidationError rejects the whole call and stores
 * nothing; its issues name the recipients at fault (`recipients[3].contacts[0].address`), so those lines are
 * reported and the call is made again with the others. An issue about anything else (the data) is fatal.
 */
async function sendChunk(herald: Herald, n: Notification, data: unknown, chunk: Chunk, call: NotifyOptions, dryRun: boolean, summary: Summary): Promise<void> {
  let pending = chunk;
  while (pending.length) {
    const recipients: Recipient[] = pending.map((l) => l.recipient);
    try {
      let skipped: readonly SkippedContact[];
      if (dryRun) {
        const { transaction: _t, ...options } = call;
        const prepared = await herald.prepare(n, data as never, recipients, options);
        summary.created += prepared.size;
        skipped = prepared.skipped;
      } else {
        const result = await herald.notify(n, data as never, recipients, call);
        summary.created += result.deliveries.length;
        summary.batches.push(result.batchId);
        skipped = result.skipped;
      }
      for (const s of skipped) countSkip(summary, s.reason);
      summary.lines.good += pending.length;
      return;
    } catch (error) {
      const report = reportOf(error);
      if (report.code === 'REQUIRED_NOT_SENT') {
        for (const s of (error as { skipped?: { reason: string }[] }).skipped ?? []) countSkip(summary, s.reason);
        const first = pending[0]!.line;
        const last = pending[pending.length - 1]!.line;
        summary.errors.push({ line: first, ...(last > first ? { endLine: last } : {}), message: `required notification: no delivery could be created for these ${pending.length} recipients` });
        summary.lines.bad += pending.length;
        return;
      }
      if (report.code !== 'VALIDATION' || !report.issues?.length) throw error;
      const bad = new Map<number, string[]>();
      for (const issue of report.issues) {
        const m = RECIPIENT_ISSUE.exec(issue.path);
        if (!m) throw error;
        const i = Number(m[1]);
        bad.set(i, [...(bad.get(i) ?? []), issue.message]);
      }
      for (const [i, messages] of bad) summary.errors.push({ line: pending[i]!.line, message: messages.join('; ') });
      summary.lines.bad += bad.size;
      pending = pending.filter((_, i) => !bad.has(i));
    }
  }
}

function countSkip(summary: Summary, reason: string): void {
  summary.skipped.total++;
  summary.skipped.byReason[reason] = (summary.skipped.byReason[reason] ?? 0) + 1;
}

function printSummary(out: Output, s: Summary): void {
  const c = out.color;
  const reasons = Object.entries(s.skipped.byReason)
    .map(([r, k]) => `${r} ${k}`)
    .join(', ');
  const created = s.dryRun ? `would create ${s.created} deliver${s.created === 1 ? 'y' : 'ies'} (dry run: nothing enqueued)` : `created ${s.created} deliver${s.created === 1 ? 'y' : 'ies'} in ${s.batches.length} batch${s.batches.length === 1 ? '' : 'es'}`;
  const parts = [c.green(created), `skipped ${s.skipped.total}${reasons ? ` (${reasons})` : ''}`];
  if (s.lines.bad) parts.push(c.red(`${s.lines.bad} bad line${s.lines.bad === 1 ? '' : 's'}`));
  out.line(parts.join(' · '));
  if (s.batches.length === 1) out.line(c.dim(`batch ${s.batches[0]}`));
  const shown = s.errors.slice(0, 50);
  for (const e of shown) out.line(`  ${c.red(`line ${e.line}${e.endLine ? `–${e.endLine}` : ''}`)}: ${e.message}`);
  if (s.errors.length > shown.length) out.line(c.dim(`  … and ${s.errors.length - shown.length} more (--json lists them all)`));
  if (s.stopped) out.line(c.red(`stopped at line ${s.stopped.atLine}: ${s.stopped.error.message}; lines before it stay enqueued`));
}

export function registerSend(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('send')
    .argument('<notification>', 'notification id')
    .description('enqueue a notification for recipients given with --to, or in bulk from a CSV or JSON Lines file')
    .option('-d, --data <json|@file>', 'the notification data: inline JSON, @file.json, or @- for standard input')
    .option('-t, --to <protocol:address>', 'a contact of the one recipient (repeatable): email:ada@example.com, sms:+15550100', contact)
    .option('--recipient-id <id>', 'with --to: the recipient id (keys opt-out preferences)')
    .option('--name <name>', 'with --to: the recipient name')
    .option('-r, --recipients <file>', 'bulk: a .csv (header id,name,locale,<protocol>…) or .jsonl file (one recipient object a line); - for stdin')
    .option('--format <format>', 'format of --recipients when its name does not say: csv or jsonl', (v) => {
      if (v !== 'csv' && v !== 'jsonl') throw new InvalidArgumentError('must be csv or jsonl.');
      return v;
    })
    .option('--chunk-size <n>', 'recipients per notify() call (one store transaction each)', positiveInt, 500)
    .option('--delay <duration>', 'hold the deliveries this long ("15m", "2h")', duration)
    .option('--send-at <time>', 'hold the deliveries until this ISO 8601 time (with a time zone)')
    .option('--dry-run', 'validate and render everything, enqueue nothing');
  withCommonOptions(cmd);
  examples(cmd, [
    'herald send welcome --data \'{"name":"Ada"}\' --to email:ada@example.com --recipient-id u1',
    'herald send newsletter --data @issue-42.json --recipients subscribers.csv',
    'herald send newsletter --data @issue-42.json --recipients subscribers.jsonl --dry-run --json',
  ]);
  cmd.action(
    action<SendOptions, [string]>(runtime, async ({ opts, out, io, load }, id) => {
      if (!opts.to && !opts.recipients) throw new InvalidArgumentError('send: give the recipient with --to protocol:address, or a file with --recipients');
      if (opts.to && opts.recipients) throw new InvalidArgumentError('send: --to and --recipients exclude each other');
      if (opts.sendAt && opts.delay !== undefined) throw new InvalidArgumentError('send: --send-at and --delay exclude each other');
      const data = await readData(opts.data, io.cwd, io.stdin);
      const { herald } = await load();
      const n = { id } as Notification;
      // Bad data or an unknown notification fail here, before any line is read.
      await herald.preview(n, data as never);
      const call: NotifyOptions = {};
      if (opts.delay !== undefined) call.delay = opts.delay;
      if (opts.sendAt) call.sendAt = opts.sendAt;
      const summary: Summary = { dryRun: opts.dryRun === true, notification: id, created: 0, batches: [], skipped: { total: 0, byReason: {} }, lines: { read: 0, good: 0, bad: 0 }, errors: [] };

      if (opts.to) {
        const recipient: Recipient = { contacts: opts.to.map((t) => ({ protocol: t.protocol, address: t.address })) };
        if (opts.recipientId) recipient.id = opts.recipientId;
        if (opts.name) recipient.name = opts.name;
        summary.lines.read = 1;
        await sendChunk(herald, n, data, [{ line: 1, recipient }], call, summary.dryRun, summary);
        // With --to there are no lines: a bad contact is a plain error naming it.
        if (summary.errors.length) {
          summary.errors = summary.errors.map((e) => ({ ...e, line: 0 }));
          out.result(summary, () => out.note(`${out.errColor.red('error:')} ${summary.errors.map((e) => e.message).join('; ')}`));
          throw new CommandFailed(EXIT.badInput);
        }
        out.result(summary, () => printSummary(out, summary));
        return EXIT.ok;
      }

      const { readRecipients } = await import('../_recipients');
      const source = readRecipients(opts.recipients!, { ...(opts.format ? { format: opts.format } : {}), stdin: io.stdin, cwd: io.cwd });
      const bar = progressBar(io.stderr, out.errColor, summary.dryRun ? 'checking' : 'sending');
      let chunk: Chunk = [];
      let atLine = 0;
      const flush = async () => {
        const current = chunk;
        chunk = [];
        if (current.length) {
          atLine = current[0]!.line;
          await sendChunk(herald, n, data, current, call, summary.dryRun, summary);
        }
        bar.update(summary.lines.good + summary.lines.bad, source.totalBytes ? source.bytesRead / source.totalBytes : null);
      };
      try {
        for await (const item of source.lines) {
          summary.lines.read++;
          atLine = item.line;
          if ('error' in item) {
            const bad: BadLine = item;
            summary.errors.push({ line: bad.line, ...(bad.endLine ? { endLine: bad.endLine } : {}), message: bad.error });
            summary.lines.bad++;
            continue;
          }
          chunk.push(item);
          if (chunk.length >= opts.chunkSize) await flush();
        }
        await flush();
      } catch (error) {
        bar.finish();
        const report = reportOf(error);
        // A bad header (nothing read yet) is bad input like any other; a failing store stops the run midway.
        if (summary.lines.good === 0 && summary.errors.length === 0 && report.code === 'VALIDATION') throw error;
        summary.stopped = { atLine: chunk[0]?.line ?? atLine, error: report };
      }
      bar.finish();
      summary.errors.sort((a, b) => a.line - b.line);
      out.result(summary, () => printSummary(out, summary));
      if (summary.stopped) throw new CommandFailed(summary.stopped.error.code === 'VALIDATION' ? EXIT.badInput : EXIT.failure);
      if (summary.lines.bad) throw new CommandFailed(EXIT.badInput);
      return EXIT.ok;
    }),
  );
}
