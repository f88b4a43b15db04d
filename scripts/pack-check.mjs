#!/usr/bin/env node
// Packs every publishable package (packages/*, not private) exactly as `pnpm publish` would and checks the tarballs:
// publint (warnings fail), no `catalog:` / `workspace:` specifier and no dev-only `@herald/source` export condition
// left in the packed package.json, README.md ("ESM-only") and CHANGELOG.md shipped. Prints one line per package.
//
//   node scripts/pack-check.mjs [--out DIR] [--json] [--no-build-check]
//
// --out DIR  keep the tarballs there (default: a temp folder, removed afterwards)
// --json     print the summary as JSON on stdout (the packed-install test reads it), human lines on stderr
// Packages must be built first (`pnpm build`): a missing dist/ file is reported by publint as FILE_DOES_NOT_EXIST.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The publishable workspace packages: every packages/* folder whose package.json is not private. */
export function publishablePackages() {
  const dir = join(root, 'packages');
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name, 'package.json'), { throwIfNoEntry: false })?.isFile())
    .map((name) => ({ dir: join(dir, name), pkg: JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => !pkg.private)
    .sort((a, b) => a.pkg.name.localeCompare(b.pkg.name));
}

/** Files of a .tgz (ustar, as npm and pnpm write it) as `path -> Buffer`, `package/` prefix removed. */
function untar(tarball) {
  const data = gunzipSync(tarball);
  const files = new Map();
  let longName = null;
  for (let at = 0; at + 512 <= data.length; ) {
    const header = data.subarray(at, at + 512);
    if (header.every((byte) => byte === 0)) break;
    const field = (from, length) => header.subarray(from, from + length).toString('utf8').replace(/\0.*$/s, '');
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1);
    const prefix = field(345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = data.subarray(at + 512, at + 512 + size);
    longName = null;
    if (type === 'L') longName = body.toString('utf8').replace(/\0.*$/s, '');
    else if (type === '0' || type === '') files.set(name.replace(/^package\//, ''), Buffer.from(body));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

const DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];

/** Problems of a packed package.json that publint does not look for. */
function manifestProblems(manifest, files) {
  const problems = [];
  for (const field of DEPENDENCY_FIELDS) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(catalog|workspace):/.test(range)) problems.push(`${field}.${dep} is still "${range}": publish with pnpm, which rewrites it`);
    }
  }
  if (JSON.stringify(manifest.exports ?? {}).includes('@herald/source')) {
    problems.push('exports keep the dev-only "@herald/source" condition (src/ is not shipped): set publishConfig.exports');
  }
  for (const required of ['README.md', 'CHANGELOG.md', 'package.json']) {
    if (!files.has(required)) problems.push(`${required} is not in the tarball`);
  }
  const readme = files.get('README.md')?.toString('utf8') ?? '';
  if (readme && !/^ESM-only/m.test(readme.split('\n').slice(0, 5).join('\n'))) problems.push('README.md does not say "ESM-only" under its title');
  for (const key of ['repository', 'homepage', 'bugs', 'keywords', 'license', 'engines']) {
    if (manifest[key] === undefined) problems.push(`package.json has no "${key}"`);
  }
  if (manifest.repository && !manifest.repository.directory) problems.push('repository has no "directory"');
  return problems;
}

/** Pack one package with pnpm into `out` and check the tarball. */
async function packOne({ dir, pkg }, out) {
  const { stdout } = await run('pnpm', ['pack', '--pack-destination', out, '--json'], { cwd: dir, maxBuffer: 16 << 20 });
  const filename = JSON.parse(stdout.slice(stdout.indexOf('{'))).filename;
  const tarball = readFileSync(filename);
  const files = untar(tarball);
  const manifest = JSON.parse(files.get('package.json').toString('utf8'));
  const lint = await publint({ pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) }, strict: true });
  const messages = lint.messages.map((m) => ({ type: m.type, text: formatMessage(m, lint.pkg, { color: false }) ?? m.code }));
  const problems = [...manifestProblems(manifest, files), ...messages.filter((m) => m.type !== 'suggestion').map((m) => `publint: ${m.text}`)];
  return {
    name: pkg.name,
    version: pkg.version,
    dir,
    tarball: filename,
    size: tarball.byteLength,
    unpackedSize: [...files.values()].reduce((sum, body) => sum + body.byteLength, 0),
    files: files.size,
    suggestions: messages.filter((m) => m.type === 'suggestion').map((m) => m.text),
    problems,
  };
}

export async function packAll(out) {
  mkdirSync(out, { recursive: true });
  const packages = publishablePackages();
  const results = [];
  // Six at a time: pnpm pack is mostly waiting on process start-up and the file system, not CPU.
  for (let i = 0; i < packages.length; i += 6) results.push(...(await Promise.all(packages.slice(i, i + 6).map((p) => packOne(p, out)))));
  return results;
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outIndex = args.indexOf('--out');
  const keep = outIndex >= 0;
  const out = keep ? resolve(args[outIndex + 1]) : mkdtempSync(join(tmpdir(), 'herald-pack-'));
  const log = args.includes('--json') ? console.error : console.log;
  try {
    const results = await packAll(out);
    for (const r of results) {
      log(`${r.problems.length ? '✗' : '✓'} ${`${r.name}@${r.version}`.padEnd(36)} ${kb(r.size).padStart(9)} packed ${kb(r.unpackedSize).padStart(10)} unpacked ${String(r.files).padStart(3)} files`);
      for (const p of r.problems) log(`    ${p}`);
      for (const s of r.suggestions) log(`    (suggestion) ${s}`);
    }
    const total = results.reduce((sum, r) => sum + r.size, 0);
    log(`${results.length} packages, ${kb(total)} packed${keep ? ` in ${out}` : ''}`);
    if (args.includes('--json')) console.log(JSON.stringify(results, null, 2));
    process.exitCode = results.some((r) => r.problems.length) ? 1 : 0;
  } finally {
    if (!keep) rmSync(out, { recursive: true, force: true });
  }
}
