// parse-prometheus-text-format checks the exposition format line by line (it throws on a malformed line) and
// reads gauges, but merges a histogram's labelled series into one; the samples themselves are read here.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]) });
  }
  return out;
}

/** One histogram series (by its labels other than `le`): cumulative buckets, sum and count. */
export function histogram(all: readonly Sample[], name: string, labels: Record<string, string>) {
  const match = (s: Sample) => Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  const buckets = all.filter((s) => s.name === `${name}_bucket` && match(s)).map((s) => ({ le: s.labels.le!, count: s.value }));
  const sum = all.find((s) => s.name === `${name}_sum` && match(s))?.value;
  const count = all.find((s) => s.name === `${name}_count` && match(s))?.value;
  return { buckets, sum, count };
}
