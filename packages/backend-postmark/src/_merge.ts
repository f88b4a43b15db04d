type Plain = Record<string, unknown>;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep-merge `extra` into `base` (anymail's esp_extra): objects merge key by key, anything else replaces. */
export function deepMerge(base: Plain, extra: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlain(current) && isPlain(value) ? deepMerge(current, value) : value;
  }
  return out;
}
