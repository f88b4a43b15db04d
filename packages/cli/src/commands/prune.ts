import type { Duration } from '@herald/core';
import type { Command } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { EXIT } from '../_output';
import { duration, positiveInt } from '../_parse';

interface PruneOptions extends CommonOptions {
  olderThan: Duration;
  batchSize?: number;
}

export function registerPrune(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('prune')
    .description('delete finished deliveries (with their attempts and events) last updated before a cut-off')
    .requiredOption('--older-than <duration>', 'age of the cut-off: "30d", "12h" …', duration)
    .option('--batch-size <n>', 'rows deleted per store transaction', positiveInt);
  withCommonOptions(cmd);
  examples(cmd, ['herald prune --older-than 30d', 'herald prune --older-than 7d --batch-size 5000 --json']);
  cmd.action(
    action<PruneOptions>(runtime, async ({ opts, out, load }) => {
      const { herald } = await load();
      const deleted = await herald.prune({ olderThan: opts.olderThan, ...(opts.batchSize ? { batchSize: opts.batchSize } : {}) });
      out.result({ deleted, olderThan: opts.olderThan }, () => out.line(`deleted ${deleted} finished deliver${deleted === 1 ? 'y' : 'ies'} older than ${opts.olderThan}`));
      return EXIT.ok;
    }),
  );
}
