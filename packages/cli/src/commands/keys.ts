import { type ApiKeyRecord, NotFoundError } from '@herald/core';
import type { Scope } from '@herald/server';
import { type Command, InvalidArgumentError } from 'commander';
import { action, type CommonOptions, examples, type Runtime, withCommonOptions } from '../_command';
import { EXIT } from '../_output';
import { list } from '../_parse';

const server = () => import('@herald/server');

/** `--scope`: checked against @herald/server's scopes (loaded only when a keys command runs) — a usage error. */
async function checkedScopes(values: readonly string[]): Promise<Scope[]> {
  const { SCOPES } = await server();
  for (const s of values) if (!(SCOPES as readonly string[]).includes(s)) throw new InvalidArgumentError(`--scope: "${s}" is not a scope; use ${SCOPES.join(', ')}.`);
  return [...new Set(values as Scope[])];
}

/** A key record as printed: never the hash (it is not secret, but nobody needs it). */
function shown(k: ApiKeyRecord) {
  return { id: k.id, name: k.name, scopes: k.scopes, createdAt: k.createdAt, lastUsedAt: k.lastUsedAt, revokedAt: k.revokedAt };
}

const when = (d: Date | null) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

export function registerKeys(program: Command, runtime: Runtime): void {
  const keys = program.command('keys').description("the HTTP API's keys (herald serve): only a hash is stored; the key is shown once");

  const create = keys
    .command('create')
    .description('create an API key and print it once')
    .requiredOption('--scope <scopes>', 'what the key may do, comma-separated: send, read, admin (admin includes the others)', list)
    .option('--name <name>', 'what the key is for, shown in lists');
  withCommonOptions(create);
  examples(create, ['herald keys create --scope send,read --name billing-service', 'KEY=$(herald keys create --scope send --json | jq -r .key)']);
  create.action(
    action<CommonOptions & { scope: string[]; name?: string }, []>(runtime, async ({ opts, out, load }) => {
      const scopes = await checkedScopes(opts.scope);
      const { herald } = await load();
      await herald.store.migrate();
      const { id, key } = await (await server()).createApiKey(herald.store, { scopes, ...(opts.name ? { name: opts.name } : {}) });
      out.result({ id, key, scopes, name: opts.name ?? null }, () => {
        out.line(key);
        out.note(`key ${id} (${scopes.join(', ')}${opts.name ? `, ${opts.name}` : ''}): shown once — store it now; it cannot be recovered`);
      });
      return EXIT.ok;
    }),
  );

  const ls = keys.command('list').description('list API keys (revoked ones too), newest first');
  withCommonOptions(ls);
  examples(ls, ['herald keys list', 'herald keys list --json']);
  ls.action(
    action<CommonOptions>(runtime, async ({ out, load }) => {
      const { herald } = await load();
      await herald.store.migrate();
      const records = await (await server()).listApiKeys(herald.store);
      out.result({ keys: records.map(shown) }, () => {
        if (!records.length) {
          out.line('no API keys (create one with herald keys create --scope send)');
          return;
        }
        out.table(
          ['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'STATE'],
          records.map((k) => [k.id, k.name ?? '-', k.scopes.join(','), when(k.createdAt), when(k.lastUsedAt), k.revokedAt ? out.color.red(`revoked ${when(k.revokedAt)}`) : out.color.green('active')]),
        );
      });
      return EXIT.ok;
    }),
  );

  const revoke = keys.command('revoke').argument('<id>', 'key id (the part after hk_, as in herald keys list)').description('revoke an API key: refused from the next request on');
  withCommonOptions(revoke);
  examples(revoke, ['herald keys revoke 0f1e2d3c4b5a6978']);
  revoke.action(
    action<CommonOptions, [string]>(runtime, async ({ out, load }, id) => {
      const { herald } = await load();
      await herald.store.migrate();
      if (!(await (await server()).revokeApiKey(herald.store, id))) throw new NotFoundError(`no active API key "${id}" (unknown, or revoked already)`);
      out.result({ id, revoked: true }, () => out.line(`key ${id} revoked`));
      return EXIT.ok;
    }),
  );
}
