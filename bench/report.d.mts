/** Types of bench/report.mjs (plain JavaScript: `npm run bench` runs it without a TypeScript loader). */
export interface BenchResult {
  /** Benchmark file name, e.g. `scan.bench.ts`. */
  name: string;
  /** What it printed on stdout. */
  output: string;
  status: number | null;
  date: Date;
  machine: string;
}
export const BEGIN: string;
export const END: string;
export function machineLine(): string;
export function renderSection(result: BenchResult): string;
export function updateBenchmarksDoc(doc: string, results: BenchResult[]): string;
