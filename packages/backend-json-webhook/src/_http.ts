import type { JsonValue } from '@herald/core';
import type { Dispatcher } from 'undici';

/** Parse `Retry-After` (delta-seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const seconds = Number(text);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Read at most `limit` bytes of an answer (the rest is dropped with the connection) as JSON or text. */
export async function readAnswer(res: Dispatcher.ResponseData, limit: number): Promise<JsonValue> {
  const length = res.headers['content-length'];
  const declared = length === undefined ? Number.NaN : Number(length);
  if (declared === 0 || res.statusCode === 204 || res.statusCode === 304) {
    await res.body.dump();
    return '';
  }
  let text: string;
  if (declared <= limit) {
    text = await res.body.text();
  } else {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) {
        res.body.destroy();
        break;
      }
    }
    text = Buffer.concat(chunks).subarray(0, limit).toString('utf8');
  }
  const type = String(res.headers['content-type'] ?? '');
  if (text && type.includes('json')) {
    try {
      return JSON.parse(text) as JsonValue;
    } catch {
      // not JSON after all: keep the text
    }
  }
  return text;
}

/** Find an error of `type` in an error's `cause` chain (undici wraps connect errors). */
export function findCause<T extends Error>(error: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof type) return e;
  }
  return undefined;
}
