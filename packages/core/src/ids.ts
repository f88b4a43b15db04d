import { randomBytes } from 'node:crypto';

let lastMs = 0;
let seq = 0;
/** Random per process (about 51 bits), so ids minted in the same millisecond by two processes differ. */
const processPart = randomBytes(8).readBigUInt64BE().toString(36).padStart(13, '0').slice(0, 10);

/**
 * Time-ordered unique id, sortable by creation: 10 base-36 chars of milliseconds, 4 of a per-millisecond
 * sequence, 10 of per-process randomness. Cheap enough for 20,000 ids in one `notify()` call.
 */
export function newId(prefix = ''): string {
  const now = Date.now();
  if (now <= lastMs) {
    seq++;
  } else {
    lastMs = now;
    seq = 0;
  }
  return `${prefix}${lastMs.toString(36).padStart(10, '0')}${seq.toString(36).padStart(4, '0')}${processPart}`;
}
