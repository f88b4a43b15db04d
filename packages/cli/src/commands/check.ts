import { createHerald, type Duration, type Herald, type HeraldOptions, toMs } from '@herald/core';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { CommandFailed } from '../_errors';
import { EXIT, type Output } from '../_output';
import { duration } from '../_parse';
import { ConfigLoadError, importConfig, isHeraldInstance } from '../config';

interface CheckOptions extends CommonOptions {
  ping?: boolean;
  pingTimeout: Duration;
}

type Status = 'ok' | 'warning' | 'problem' | 'skipped';

interface CheckResult {
  /** What was checked: `config`, `templates`, `backend smtp`, `store`, `ping smtp` … */
  name: string;
  status: Status;
  message: string;
}

const strip = (message: string) => message.replace(/^\[herald\] /, '');

/**
 * createHerald stops at its first problem. With options (not an instance) in the config, each notification is
 * tried alone as well, so every broken template is named, not just the first.
 */
function problemsOf(options: HeraldOptions, whole: unknown): CheckResult[] {
  const problems: CheckResult[] = [];
  const attempt = (notifications: HeraldOptions['notifications']) => {
    try {
      createHerald({ ...options, notifications, logger: false });
      return null;
    } catch (error) {
      return error;
    }
  };
  const base = attempt([]);
  if (base) problems.push({ name: 'config', status: 'problem', message: strip(String((base as Error).message ?? base)) });
  else {
    for (const n of options.notifications) {
      const error = attempt([n]);
      if (error) problems.push({ name: `notification ${n?.id ?? '?'}`, status: 'problem', message: strip((error as Error).message ?? String(error)) });
    }
  }
  if (!problems.length) problems.push({ name: 'config', status: 'problem', message: strip((whole as Error).message ?? String(whole)) });
  return problems;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkHerald(herald: Herald, opts: CheckOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const notifications = herald.notifications ?? [];
  results.push({
    name: 'templates',
    status: 'ok',
    message: `${notifications.length} notification${notifications.length === 1 ? '' : 's'}: every template compiles and uses only fields of its schema`,
  });
  for (const b of herald.backends) {
    results.push({ name: `backend ${b.name}`, status: 'ok', message: `${b.kind} (${b.protocol}): options valid${b.test ? ', test sink' : ''}` });
  }
  if (!herald.backends.length) results.push({ name: 'backends', status: 'warning', message: 'no backends configured: nothing can be sent' });
  try {
    const { applied, pending } = await herald.store.migrations();
    results.push(
      pending.length
        ? { name: `store ${herald.store.name}`, status: 'warning', message: `reachable; ${pending.length} pending migration${pending.length === 1 ? '' : 's'} (run herald migrate)` }
        : { name: `store ${herald.store.name}`, status: 'ok', message: `reachable, schema up to date (${applied.length} migrations)` },
    );
  } catch (error) {
    results.push({ name: `store ${herald.store.name}`, status: 'problem', message: `unreachable: ${strip((error as Error).message)}` });
  }
  if (opts.ping) {
    const timeout = toMs(opts.pingTimeout);
    await Promise.all(
      herald.backends.map(async (b) => {
        if (!b.ping) {
          results.push({ name: `ping ${b.name}`, status: 'skipped', message: `no harmless call: ${b.kind} has no way to reach the provider without sending` });
          return;
        }
        const started = performance.now();
        try {
          await withTimeout(b.ping(), timeout, b.name);
          results.push({ name: `ping ${b.name}`, status: 'ok', message: `reachable (${Math.round(performance.now() - started)} ms)` });
        } catch (error) {
          results.push({ name: `ping ${b.name}`, status: 'problem', message: strip((error as Error).message ?? String(error)) });
        }
      }),
    );
    // Promise.all finishes in any order; print pings in the backends' order.
    const order = new Map(herald.backends.map((b, i) => [`ping ${b.name}`, i]));
    results.sort((a, b) => (order.get(a.name) ?? -1) - (order.get(b.name) ?? -1));
  }
  return results;
}

function print(out: Output, file: string, results: readonly CheckResult[]): void {
  const c = out.color;
  const mark: Record<Status, string> = { ok: c.green('✓'), warning: c.yellow('!'), problem: c.red('✗'), skipped: c.dim('-') };
  out.line(`herald check ${c.dim(file)}`);
  for (const r of results) out.line(`${mark[r.status]} ${c.bold(r.name)}: ${r.message.replace(/\n/g, '\n    ')}`);
  const problems = results.filter((r) => r.status === 'problem').length;
  const warnings = results.filter((r) => r.status === 'warning').length;
  out.line();
  out.line(problems ? c.red(`${problems} problem${problems === 1 ? '' : 's'}`) + (warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : '') : c.green(`no problems${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`));
}

export function registerCheck(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('check')
    .description("check the config: every template against its schema, every backend's options, the store; --ping reaches each provider")
    .option('--ping', 'call each backend\'s harmless provider call (an account or connection check); sends nothing')
    .option('--ping-timeout <duration>', 'longest wait for one ping', duration, '10s');
  withCommonOptions(cmd);
  examples(cmd, ['herald check', 'herald check --ping', 'herald check --json | jq \'.checks[] | select(.status == "problem")\'']);
  cmd.action(
    action<CheckOptions>(runtime, async ({ opts, out, io }) => {
      let results: CheckResult[];
      let file: string;
      let herald: Herald | null = null;
      try {
        const imported = await importConfig({ ...(opts.config ? { config: opts.config } : {}), cwd: io.cwd, env: io.env });
        file = imported.displayPath;
        if (isHeraldInstance(imported.value)) herald = imported.value;
        else {
          try {
            herald = createHerald(imported.value);
          } catch (error) {
            results = problemsOf(imported.value, error);
          }
        }
      } catch (error) {
        // No config file at all is a usage error (exit 2); a config that throws is a problem this command reports.
        if (!(error instanceof ConfigLoadError) || error.missing) throw error;
        file = relative(io.cwd, error.file) || error.file;
        results = [{ name: 'config', status: 'problem', message: strip(error.message) }];
      }
      if (herald) {
        try {
          results = [{ name: 'config', status: 'ok', message: `loaded (${herald.backends.length} backends, store ${herald.store.name})` }, ...(await checkHerald(herald, opts))];
        } finally {
          await herald.close().catch(() => {});
        }
      }
      const all = results!;
      const ok = !all.some((r) => r.status === 'problem');
      out.result({ ok, config: file!, checks: all }, () => print(out, file!, all));
      if (!ok) throw new CommandFailed(EXIT.badInput);
      return EXIT.ok;
    }),
  );
}
