import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temp directory holding one database file; `remove()` deletes it with its WAL files. */
export function tempDatabase(): { dir: string; path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-'));
  return { dir, path: join(dir, 'herald.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
