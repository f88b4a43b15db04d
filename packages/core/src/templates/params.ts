/**
 * Parse django-vox's key-value template source: one `key: value` per line, split at the first colon, both sides
 * trimmed, blank keys and lines without a colon skipped. Parsed before rendering, so data cannot inject keys.
 */
export function parseParamsLines(source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of source.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const key = line.slice(0, i).trim();
    if (!key) continue;
    out[key] = line.slice(i + 1).trim();
  }
  return out;
}
