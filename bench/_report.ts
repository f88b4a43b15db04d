/** Shared bench output: progress lines, then the result as ONE JSON object on the last line. */
export interface BenchCore {
  bench: string;
  unit: string;
  herald: number;
  baseline: number;
}

export type BenchResult = BenchCore & { ratio: number; peakRssMb: number } & Record<string, unknown>;

export function peakRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

export function report(result: BenchCore & { ratio?: number; peakRssMb?: number } & Record<string, unknown>): void {
  const ratio = result.ratio ?? Math.round((result.herald / result.baseline) * 1000) / 1000;
  const out: BenchResult = { ...result, ratio, peakRssMb: result.peakRssMb ?? peakRssMb() };
  console.log(JSON.stringify(out));
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
