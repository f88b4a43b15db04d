import type { Command } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { EXIT } from '../_output';

interface MigrateOptions extends CommonOptions {
  dryRun?: boolean;
}

export function registerMigrate(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('migrate')
    .description("create or upgrade the store's schema (safe to run from several processes at once)")
    .option('--dry-run', 'list applied and pending migrations without changing anything');
  withCommonOptions(cmd);
  examples(cmd, ['herald migrate', 'herald migrate --dry-run --json']);
  cmd.action(
    action<MigrateOptions>(runtime, async ({ opts, out, load }) => {
      const { herald } = await load();
      const store = herald.store;
      const before = await store.migrations();
      const c = out.color;
      if (opts.dryRun) {
        out.result({ store: store.name, applied: before.applied, pending: before.pending }, () => {
          out.line(`store ${store.name}: ${before.applied.length} applied, ${before.pending.length} pending`);
          for (const m of before.applied) out.line(`  ${c.green('applied')}  ${m.version}  ${m.description}`);
          for (const m of before.pending) out.line(`  ${c.yellow('pending')}  ${m.version}  ${m.description}`);
          if (before.pending.length) out.line(`\nrun ${c.bold('herald migrate')} to apply them.`);
        });
        return EXIT.ok;
      }
      await store.migrate();
      const after = await store.migrations();
      const done = new Set(after.applied.map((m) => m.version));
      const applied = before.pending.filter((m) => done.has(m.version));
      out.result({ store: store.name, applied, pending: after.pending }, () => {
        if (!applied.length) out.line(`store ${store.name}: schema up to date (${after.applied.length} migrations applied)`);
        else {
          out.line(`store ${store.name}: applied ${applied.length} migration${applied.length === 1 ? '' : 's'}`);
          for (const m of applied) out.line(`  ${c.green('applied')}  ${m.version}  ${m.description}`);
        }
      });
      // Another process may have applied some of them meanwhile: still up to date. Only what is left is a failure.
      return after.pending.length ? EXIT.failure : EXIT.ok;
    }),
  );
}
