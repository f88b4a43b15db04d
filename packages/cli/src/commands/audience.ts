import { isProtocol, PROTOCOLS, type Protocol, redactAddress, type SuppressionFilter, ValidationError } from '@herald/core';
import { type Command, InvalidArgumentError } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { CommandFailed } from '../_errors';
import { EXIT } from '../_output';
import { type ContactArg, contact, instant, positiveInt } from '../_parse';

function protocol(value: string): Protocol {
  if (!isProtocol(value)) throw new InvalidArgumentError(`"${value}" is not a protocol; use ${PROTOCOLS.join(', ')}.`);
  return value;
}

/** `protocol:address` arguments (validated like `--to`). */
function contacts(values: readonly string[]): ContactArg[] {
  try {
    return values.reduce<ContactArg[]>((all, v) => contact(v, all), []);
  } catch (error) {
    throw new ValidationError((error as Error).message, [{ path: 'address', message: 'expected protocol:address' }]);
  }
}

interface ListOptions extends CommonOptions {
  protocol?: Protocol;
  search?: string;
  before?: Date;
  beforeAddress?: string;
  limit: number;
}

export function registerAudience(program: Command, runtime: Runtime): void {
  const suppressions = program.command('suppressions').description('the suppression list: addresses nothing is sent to (bounces, complaints, manual)');

  const ls = suppressions
    .command('list')
    .description('list suppressed addresses, newest first')
    .option('-p, --protocol <protocol>', 'only this protocol', protocol)
    .option('--search <text>', 'addresses containing this text')
    .option('--before <time>', 'paging: entries created before this time (the last row\'s createdAt)', instant)
    .option('--before-address <address>', 'with --before: at that instant, addresses sorting before this one')
    .option('-l, --limit <n>', 'most rows', positiveInt, 100);
  withCommonOptions(ls);
  examples(ls, ['herald suppressions list', 'herald suppressions list --protocol email --search @example.com --json']);
  ls.action(
    action<ListOptions>(runtime, async ({ opts, out, load }) => {
      const { herald } = await load();
      const filter: SuppressionFilter = { limit: opts.limit };
      if (opts.protocol) filter.protocol = opts.protocol;
      if (opts.search) filter.search = opts.search;
      if (opts.before) filter.before = opts.before;
      if (opts.beforeAddress) filter.beforeAddress = opts.beforeAddress;
      const rows = await herald.suppressions.list(filter);
      const last = rows[rows.length - 1];
      const next = rows.length === opts.limit && last ? { before: last.createdAt.toISOString(), beforeAddress: last.address } : null;
      out.result({ suppressions: rows.map((s) => ({ ...s, address: redactAddress(s.address) })), next }, () => {
        if (!rows.length) {
          out.line('no suppressed addresses');
          return;
        }
        out.table(
          ['ADDRESS', 'REASON', 'SINCE'],
          rows.map((s) => [`${s.protocol}:${redactAddress(s.address)}`, s.reason, s.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z')]),
        );
      });
      return EXIT.ok;
    }),
  );

  const add = suppressions
    .command('add')
    .argument('<addresses...>', 'protocol:address, e.g. email:ada@example.com')
    .description('suppress addresses: deliveries to them are skipped (reason "suppressed")')
    .option('--reason <text>', 'why (shown in lists)', 'manual');
  withCommonOptions(add);
  examples(add, ['herald suppressions add email:ada@example.com --reason "asked by phone"', 'herald suppressions add sms:+15550100 sms:+15550101']);
  add.action(
    action<CommonOptions & { reason: string }, [string[]]>(runtime, async ({ opts, out, load }, values) => {
      const targets = contacts(values);
      const { herald } = await load();
      for (const t of targets) await herald.suppressions.add(t.protocol, t.address, opts.reason);
      out.result({ added: targets.map((t) => ({ ...t, reason: opts.reason })) }, () => {
        for (const t of targets) out.line(`${out.color.green('✓')} suppressed ${t.protocol}:${t.address} (${opts.reason})`);
      });
      return EXIT.ok;
    }),
  );

  const remove = suppressions.command('remove').argument('<addresses...>', 'protocol:address').description('take addresses off the suppression list');
  withCommonOptions(remove);
  examples(remove, ['herald suppressions remove email:ada@example.com']);
  remove.action(
    action<CommonOptions, [string[]]>(runtime, async ({ out, load }, values) => {
      const targets = contacts(values);
      const { herald } = await load();
      const results: (ContactArg & { removed: boolean })[] = [];
      for (const t of targets) results.push({ ...t, removed: await herald.suppressions.remove(t.protocol, t.address) });
      out.result({ results }, () => {
        for (const r of results) {
          if (r.removed) out.line(`${out.color.green('✓')} removed ${r.protocol}:${r.address}`);
          else out.note(`${out.errColor.red('✗')} ${r.protocol}:${r.address} was not suppressed`);
        }
      });
      if (results.some((r) => !r.removed)) throw new CommandFailed(EXIT.badInput);
      return EXIT.ok;
    }),
  );

  const prefs = program.command('prefs').description('opt-out preferences: the categories a recipient (id or address) does not want');

  const get = prefs.command('get').argument('<key>', 'recipient id or normalized address').description("print a recipient's opted-out categories");
  withCommonOptions(get);
  examples(get, ['herald prefs get u_123', 'herald prefs get ada@example.com --json']);
  get.action(
    action<CommonOptions, [string]>(runtime, async ({ out, load }, key) => {
      const { herald } = await load();
      const optOut = await herald.preferences.get(key);
      out.result({ key, optOut }, () => out.line(optOut.length ? optOut.join('\n') : `${key} has opted out of nothing`));
      return EXIT.ok;
    }),
  );

  const set = prefs
    .command('set')
    .argument('<key>', 'recipient id or normalized address')
    .argument('[categories...]', 'the categories opted out of (replaces the list)')
    .description("replace a recipient's opted-out categories")
    .option('--clear', 'opt back in to everything (an empty list)');
  withCommonOptions(set);
  examples(set, ['herald prefs set u_123 marketing digest', 'herald prefs set u_123 --clear']);
  set.action(
    action<CommonOptions & { clear?: boolean }, [string, string[]]>(runtime, async ({ opts, out, load }, key, categories) => {
      if (!categories.length && !opts.clear) {
        throw new ValidationError('prefs set: name the categories to opt out of, or pass --clear to opt back in to everything', [{ path: 'categories', message: 'missing' }]);
      }
      if (categories.length && opts.clear) throw new ValidationError('prefs set: --clear takes no categories', [{ path: 'categories', message: 'given with --clear' }]);
      const { herald } = await load();
      await herald.preferences.set(key, categories);
      out.result({ key, optOut: categories }, () => out.line(categories.length ? `${key} opted out of ${categories.join(', ')}` : `${key} opted back in to everything`));
      return EXIT.ok;
    }),
  );
}
