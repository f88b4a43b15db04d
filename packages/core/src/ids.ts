import { randomBytes } from 'node:crypto';

let lastMs = 0;
let seq = 0;

/** Time-ordered unique id (sortable by creation): 10 chars of ms timestamp + 4 of sequence + 10 random, base 36. */
export function newId(prefix = ''): string {
  const now = Date.now();
  if (now === lastMs) seq++;
  else {
    lastMs = now;
    seq = 0;
  }
  const rand = randomBytes(8).readBigUInt64BE().toString(36).padStart(13, '0').slice(0, 10);
  return `${prefix}${now.toString(36).padStart(10, '0')}${seq.toString(36).padStart(4, '0')}${rand}`;
}
