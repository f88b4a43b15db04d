import { ApiError } from './_errors';

/**
 * Keyset cursors: the last row's `(createdAt, id)` — or `(createdAt, address)` for suppressions — as base64url JSON.
 * Opaque to clients; a page never skips or repeats rows that share a timestamp.
 */
export function encodeCursor(at: Date, tieBreak: string): string {
  return Buffer.from(JSON.stringify([at.getTime(), tieBreak])).toString('base64url');
}

export function decodeCursor(cursor: string): { before: Date; tieBreak: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string') {
      return { before: new Date(value[0] as number), tieBreak: value[1] };
    }
  } catch {
    // answered below
  }
  throw new ApiError(422, 'validation_error', 'cursor is not a cursor this API returned; pass `nextCursor` from the previous page as is', { field: 'cursor' });
}
