import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Duration, isProtocol, PROTOCOLS, type Protocol, toMs, ValidationError } from '@herald/core';
import { InvalidArgumentError } from 'commander';

// Option value parsers for commander: a bad value is a usage error (exit 2) naming the option.

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1.');
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be a port number from 0 to 65535 (0 picks a free one).');
  return n;
}

export function duration(value: string): Duration {
  const d = (/^\d+$/.test(value) ? Number(value) : value) as Duration;
  try {
    toMs(d);
  } catch {
    throw new InvalidArgumentError('must be a duration such as 500 (ms), "30s", "15m", "24h" or "30d".');
  }
  return d;
}

/** A comma-separated list (`a,b`); repeating the option adds to it. */
export function list(value: string, previous: string[] = []): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new InvalidArgumentError('must name at least one item (a,b).');
  return [...previous, ...items];
}

/** An instant: an ISO 8601 timestamp, or a duration meaning "that long ago" (`--since 1h`). */
export function instant(value: string): Date {
  if (/^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/.test(value)) return new Date(Date.now() - toMs(value as Duration));
  const date = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('must be an ISO 8601 date or time ("2026-01-31", "2026-01-31T12:00:00Z") or a duration ago ("1h", "7d").');
  return date;
}

export interface ContactArg {
  protocol: Protocol;
  address: string;
}

/** `protocol:address` (`email:ada@example.com`, `sms:+15550100`, `slack-webhook:https://…`). */
export function contact(value: string, previous: ContactArg[] = []): ContactArg[] {
  const at = value.indexOf(':');
  const protocol = at > 0 ? value.slice(0, at) : '';
  if (!isProtocol(protocol)) {
    throw new InvalidArgumentError(`"${value}" must be protocol:address with a protocol of ${PROTOCOLS.join(', ')} (e.g. email:ada@example.com).`);
  }
  return [...previous, { protocol, address: value.slice(at + 1) }];
}

/**
 * `--data`: inline JSON, `@file.json`, or `@-` for standard input. Bad JSON is bad input (exit 1) naming the
 * option and where the parser stopped.
 */
export async function readData(value: string | undefined, cwd: string, stdin: NodeJS.ReadableStream): Promise<unknown> {
  if (value === undefined) return {};
  let text = value;
  let source = '--data';
  if (value.startsWith('@')) {
    const path = value.slice(1);
    source = path === '-' ? '--data @- (standard input)' : `--data @${path}`;
    try {
      text = path === '-' ? await readAll(stdin) : readFileSync(resolve(cwd, path), 'utf8');
    } catch (error) {
      throw new ValidationError(`${source}: cannot read the file: ${(error as Error).message}`, [{ path: 'data', message: 'unreadable file' }]);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`${source} is not valid JSON: ${(error as Error).message}`, [{ path: 'data', message: 'malformed JSON' }]);
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
