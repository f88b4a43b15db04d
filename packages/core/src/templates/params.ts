/**
 * Parse django-vox's key-value template source: one `key: value` per line, split at the first colon, both sides
 * trimmed, blank keys and lines without a colon skipped. Parsed before rendering, so data cannot inject keys.
 */
export function parseParamsLines(source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of paramsLines(source)) out[key] = value;
  return out;
}

/** {@link parseParamsLines} with each entry's 1-based line number (for error messages). */
export function paramsLines(source: string): { key: string; value: string; line: number }[] {
  const out: { key: string; value: string; line: number }[] = [];
  source.split(/\r?\n/).forEach((text, i) => {
    const colon = text.indexOf(':');
    if (colon < 0) return;
    const key = text.slice(0, colon).trim();
    if (!key) return;
    out.push({ key, value: text.slice(colon + 1).trim(), line: i + 1 });
  });
  return out;
}
