#!/usr/bin/env node
// `pnpm bench <name>` runs bench/<name>.ts with the workspace packages resolved to their sources.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('../bench/', import.meta.url));
const name = process.argv[2];
const available = readdirSync(benchDir).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: pnpm bench <name>\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const file = `${benchDir}${name}.ts`;
if (!existsSync(file)) process.exit(2);
const run = spawnSync('pnpm', ['exec', 'tsx', '--conditions=@herald/source', file, ...process.argv.slice(3)], {
  stdio: 'inherit',
  cwd: benchDir,
});
process.exit(run.status ?? 1);
