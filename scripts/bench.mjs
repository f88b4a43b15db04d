#!/usr/bin/env node
// `pnpm bench <name>` builds the packages (turbo caches an unchanged build) and runs bench/<name>.ts against
// them: a benchmark measures what users install, the built ESM in dist/. `HERALD_BENCH_SOURCE=1 pnpm bench <name>`
// resolves the workspace packages to their TypeScript sources instead (no build; for quick iterations, slower).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const benchDir = fileURLToPath(new URL('../bench/', import.meta.url));
const name = process.argv[2];
const available = readdirSync(benchDir).filter((f) => f.endsWith('.ts') && !f.startsWith('_')).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: pnpm bench <name>\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const file = `${benchDir}${name}.ts`;
if (!existsSync(file)) process.exit(2);
const fromSource = process.env.HERALD_BENCH_SOURCE === '1';
if (!fromSource) {
  const build = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', '--filter=./packages/*', '--output-logs=errors-only'], { stdio: 'inherit', cwd: root });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const conditions = fromSource ? ['--conditions=@herald/source'] : [];
const run = spawnSync('pnpm', ['exec', 'tsx', ...conditions, file, ...process.argv.slice(3)], {
  stdio: 'inherit',
  cwd: benchDir,
  env: { ...process.env, HERALD_BENCH_SOURCE: fromSource ? '1' : '0' },
});
process.exit(run.status ?? 1);
