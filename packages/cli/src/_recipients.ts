import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { closestKey, PROTOCOLS, type Protocol, type Recipient, ValidationError } from '@herald/core';
import { type CsvError, parse } from 'csv-parse';

/** A recipient read from one line (or the lines of one multi-line CSV record) of a `--recipients` file. */
export interface GoodLine {
  line: number;
  recipient: Recipient;
}

/** A line that could not be read as a recipient, with why. `endLine` is set when the problem spans lines. */
export interface BadLine {
  line: number;
  endLine?: number;
  error: string;
}

export type RecipientLine = GoodLine | BadLine;

export type RecipientFormat = 'csv' | 'jsonl';

export interface RecipientSource {
  format: RecipientFormat;
  /** File size in bytes (null for standard input): the progress bar's 100 %. */
  totalBytes: number | null;
  /** Bytes read so far. */
  readonly bytesRead: number;
  lines: AsyncIterable<RecipientLine>;
}

/** `--format`, or the file's extension: `.csv`, `.jsonl` / `.ndjson`. */
export function formatOf(path: string, explicit: string | undefined): RecipientFormat {
  const f = (explicit ?? path.split('.').pop() ?? '').toLowerCase();
  if (f === 'csv') return 'csv';
  if (f === 'jsonl' || f === 'ndjson') return 'jsonl';
  throw new ValidationError(`--recipients ${path}: cannot tell the format from the name; use a .csv or .jsonl file, or --format csv|jsonl`, [
    { path: 'recipients', message: 'unknown format' },
  ]);
}

const RECIPIENT_KEYS = ['id', 'name', 'locale', 'contacts', 'optOut'];
const CSV_FIXED = ['id', 'name', 'locale'];

/** BCP 47 check, as `Intl` understands it (`en`, `pt-BR`, `zh-Hant-TW`). */
function localeProblem(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value !== 'string') return 'locale must be a string';
  try {
    Intl.getCanonicalLocales(value);
    return null;
  } catch {
    return `locale "${value}" is not a BCP 47 language tag (e.g. en, pt-BR)`;
  }
}

/** The header row: `id`, `name`, optional `locale`, and one column per protocol. Anything else stops the run. */
function columnsOf(header: readonly string[]): string[] {
  const columns = header.map((h) => h.trim().toLowerCase());
  const known = [...CSV_FIXED, ...PROTOCOLS];
  const seen = new Set<string>();
  for (const [i, c] of columns.entries()) {
    if (!known.includes(c)) {
      const near = closestKey(c, known);
      throw new ValidationError(
        `--recipients line 1: unknown column "${header[i]}"${near ? ` (did you mean "${near}"?)` : ''}; columns are id, name, locale and one per protocol (${PROTOCOLS.join(', ')}); nothing was enqueued`,
        [{ path: `recipients.columns[${i}]`, message: 'unknown column' }],
      );
    }
    if (seen.has(c)) throw new ValidationError(`--recipients line 1: column "${c}" appears twice; nothing was enqueued`, [{ path: `recipients.columns[${i}]`, message: 'duplicate column' }]);
    seen.add(c);
  }
  if (!columns.some((c) => (PROTOCOLS as readonly string[]).includes(c))) {
    throw new ValidationError(`--recipients line 1: no address column; add one named after a protocol (${PROTOCOLS.join(', ')}); nothing was enqueued`, [
      { path: 'recipients.columns', message: 'no protocol column' },
    ]);
  }
  return columns;
}

function csvRecipient(columns: readonly string[], record: readonly string[]): Recipient | string {
  const recipient: Recipient & { locale?: string } = { contacts: [] };
  for (const [i, column] of columns.entries()) {
    const value = (record[i] ?? '').trim();
    if (!value) continue;
    if (column === 'id') recipient.id = value;
    else if (column === 'name') recipient.name = value;
    else if (column === 'locale') recipient.locale = value;
    else recipient.contacts.push({ protocol: column as Protocol, address: value });
  }
  const problem = localeProblem(recipient.locale);
  if (problem) return problem;
  if (!recipient.contacts.length) return `no address in any of the columns ${columns.filter((c) => !CSV_FIXED.includes(c)).join(', ')}`;
  return recipient;
}

/** Why csv-parse skipped a record, in words. */
function csvProblem(error: CsvError, width: number): string {
  switch (error.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH': {
      const got = /got (\d+)/.exec(error.message)?.[1];
      return `has ${got ?? 'a different number of'} fields, the header has ${width}`;
    }
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'a quoted field has text after its closing quote (quote the whole field, and write a quote inside it as "")';
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quote is opened and never closed';
    default:
      return error.message;
  }
}

async function* csvLines(source: NodeJS.ReadableStream, progress: { bytes: number }): AsyncGenerator<RecipientLine> {
  // Parse errors are queued and reported once the next good record (or the end) shows how many lines they swallowed.
  const skipped: { code: CsvError; at: number }[] = [];
  const parser = source.pipe(
    parse({
      info: true,
      raw: true,
      bom: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      // csv-parse's `trim` option stops reading after a bad closing quote (nothing after it is reported): trim here.
      on_skip: (error) => {
        if (error) skipped.push({ code: error, at: Number((error as { lines?: unknown }).lines ?? 0) });
        return undefined;
      },
    }),
  );
  let columns: string[] | null = null;
  let lastEnd = 0;
  // csv-parse reads a whole chunk (many records) before the first is consumed here, so errors are matched to
  // records by line: those detected before a record's first line belong before it.
  const flush = function* (nextStart: number): Generator<BadLine> {
    const due = skipped.filter((s) => s.at < nextStart);
    for (const [i, s] of due.entries()) {
      const start = lastEnd + 1;
      const end = Math.max(start, i === due.length - 1 ? Math.max(s.at, nextStart - 1) : s.at);
      lastEnd = end;
      yield { line: start, ...(end > start ? { endLine: end } : {}), error: csvProblem(s.code, columns?.length ?? 0) };
    }
    skipped.splice(0, due.length);
  };
  let lastByte = -1;
  source.on('data', (chunk: Buffer | string) => {
    if (chunk.length) lastByte = typeof chunk === 'string' ? chunk.charCodeAt(chunk.length - 1) : chunk[chunk.length - 1]!;
  });
  for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number; bytes: number }; raw: string }>) {
    progress.bytes = item.info.bytes;
    const end = item.info.lines;
    const start = end - (item.raw.replace(/\r?\n$/, '').match(/\n/g)?.length ?? 0);
    yield* flush(start);
    lastEnd = end;
    if (!columns) {
      columns = columnsOf(item.record);
      continue;
    }
    const recipient = csvRecipient(columns, item.record);
    yield typeof recipient === 'string' ? { line: start, error: recipient } : { line: start, recipient };
  }
  // The last line of the file: csv-parse counts the empty "line" after a final newline too.
  const lastLine = (parser as unknown as { info: { lines: number } }).info.lines - (lastByte === 0x0a ? 1 : 0);
  yield* flush(lastLine + 1);
  if (!columns) throw new ValidationError('--recipients: the file is empty (a CSV needs a header row: id,name,email,…)', [{ path: 'recipients', message: 'empty' }]);
}

function jsonRecipient(text: string): Recipient | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON: ${(error as Error).message}`;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'must be one recipient object: { "id": …, "name": …, "contacts": [{ "protocol": "email", "address": … }] }';
  for (const key of Object.keys(value)) {
    if (RECIPIENT_KEYS.includes(key)) continue;
    const near = closestKey(key, RECIPIENT_KEYS);
    return `unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}; a recipient has ${RECIPIENT_KEYS.join(', ')}`;
  }
  const r = value as Recipient & { locale?: unknown };
  if (!Array.isArray(r.contacts) || !r.contacts.length) return 'contacts must be a non-empty array of { "protocol": …, "address": … }';
  return localeProblem(r.locale) ?? r;
}

async function* jsonLines(source: NodeJS.ReadableStream, progress: { bytes: number }): AsyncGenerator<RecipientLine> {
  let line = 0;
  for await (const text of createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    progress.bytes += Buffer.byteLength(text) + 1;
    if (!text.trim()) continue;
    const recipient = jsonRecipient(text);
    yield typeof recipient === 'string' ? { line, error: recipient } : { line, recipient };
  }
}

/**
 * Read `--recipients` as a stream (a file of any size, one record in memory at a time): CSV with a header row,
 * or JSON Lines. Unreadable lines come out as {@link BadLine}s in order with the good ones; a bad header throws.
 */
export function readRecipients(path: string, options: { format?: string; stdin: NodeJS.ReadableStream; cwd: string }): RecipientSource {
  const format = path === '-' ? formatOf('stdin', options.format ?? 'jsonl') : formatOf(path, options.format);
  let source: NodeJS.ReadableStream;
  let totalBytes: number | null = null;
  if (path === '-') source = options.stdin;
  else {
    const file = resolve(options.cwd, path);
    try {
      totalBytes = statSync(file).size;
    } catch (error) {
      throw new ValidationError(`--recipients ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, [
        { path: 'recipients', message: 'unreadable file' },
      ]);
    }
    source = createReadStream(file);
  }
  const progress = { bytes: 0 };
  return {
    format,
    totalBytes,
    get bytesRead() {
      return progress.bytes;
    },
    lines: format === 'csv' ? csvLines(source, progress) : jsonLines(source, progress),
  };
}
