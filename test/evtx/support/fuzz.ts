/**
 * Mutation fuzzing of the EVTX parser: deterministic mutations (seeded) of corpus and fixture files, and a
 * harness that runs the parser over each mutant in a worker thread under a watchdog, so that a hang is
 * caught and named instead of freezing the test run.
 *
 * A case is reproducible from (seed, index): `node --import tsx scripts/fuzz-evtx.ts --seed S --case I --out f.evtx`.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import { rng } from '../../helpers/rng.js';

export const FILE_HEADER = 4096;
export const CHUNK = 65536;

/** Seeded mutation driver (mulberry32 underneath): same seed → same sequence everywhere. */
export class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

export interface Seedfile {
  name: string;
  bytes: Uint8Array;
}

export function loadSeedfiles(paths: string[]): Seedfile[] {
  return paths.map((p) => ({ name: basename(p), bytes: new Uint8Array(readFileSync(p)) }));
}

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_U8 = [0x00, 0x01, 0x02, 0x04, 0x05, 0x0c, 0x0d, 0x0e, 0x0f, 0x21, 0x41, 0x7f, 0x80, 0x81, 0xff];

export type MutationKind = 'bitflips' | 'interesting' | 'truncate' | 'spliceChunk' | 'spliceBytes' | 'duplicateChunk' | 'headerFields';
const KINDS: MutationKind[] = ['bitflips', 'interesting', 'truncate', 'spliceChunk', 'spliceBytes', 'duplicateChunk', 'headerFields'];

export interface Mutant {
  index: number;
  base: string;
  kind: MutationKind;
  detail: string;
  bytes: Uint8Array;
}

/** Offsets worth hitting: the BinXml of the first records of a random chunk, where decoding goes deepest. */
function hotOffset(rng: Rng, len: number): number {
  const chunks = Math.max(1, Math.floor((len - FILE_HEADER) / CHUNK));
  const chunkStart = FILE_HEADER + rng.int(chunks) * CHUNK;
  const r = rng.next();
  if (r < 0.15) return rng.int(Math.min(len, 128)); // file header
  if (r < 0.35) return Math.min(len - 1, chunkStart + rng.int(512)); // chunk header + tables
  if (r < 0.8) return Math.min(len - 1, chunkStart + 512 + rng.int(8192)); // first records
  return rng.int(len);
}

/** Mutant number `index` of the run with `seed` (independent of other cases: each has its own RNG stream). */
export function makeMutant(seed: number, index: number, seeds: Seedfile[]): Mutant {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const base = rng.pick(seeds);
  const kind = rng.pick(KINDS);
  let bytes = base.bytes.slice();
  let detail = '';
  const len = bytes.length;
  const view = (): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (kind) {
    case 'bitflips': {
      const n = 1 + rng.int(rng.next() < 0.5 ? 8 : 256);
      for (let i = 0; i < n; i++) {
        const at = hotOffset(rng, len);
        bytes[at]! ^= 1 << rng.int(8);
      }
      detail = `${n} bit flips`;
      break;
    }
    case 'interesting': {
      const n = 1 + rng.int(16);
      for (let i = 0; i < n; i++) {
        const at = hotOffset(rng, len);
        if (rng.next() < 0.5 && at + 4 <= len) view().setUint32(at, rng.pick(INTERESTING_U32), true);
        else bytes[at] = rng.pick(INTERESTING_U8);
      }
      detail = `${n} interesting values`;
      break;
    }
    case 'truncate': {
      const at = rng.next() < 0.3 ? FILE_HEADER + rng.int(Math.max(1, len - FILE_HEADER)) : rng.int(len);
      bytes = bytes.slice(0, at);
      detail = `truncated to ${at}`;
      break;
    }
    case 'spliceChunk': {
      const donor = rng.pick(seeds);
      const donorChunks = Math.floor((donor.bytes.length - FILE_HEADER) / CHUNK);
      const baseChunks = Math.floor((len - FILE_HEADER) / CHUNK);
      if (donorChunks < 1 || baseChunks < 1) {
        detail = 'splice skipped (no chunk)';
        break;
      }
      const from = rng.int(donorChunks);
      const to = rng.int(baseChunks);
      const shift = rng.next() < 0.3 ? rng.int(512) : 0; // a misaligned splice lands mid-structure
      const src = donor.bytes.subarray(FILE_HEADER + from * CHUNK + shift, FILE_HEADER + (from + 1) * CHUNK);
      bytes.set(src.subarray(0, Math.min(src.length, len - (FILE_HEADER + to * CHUNK))), FILE_HEADER + to * CHUNK);
      detail = `chunk ${from}(+${shift}) of ${donor.name} over chunk ${to}`;
      break;
    }
    case 'spliceBytes': {
      const donor = rng.pick(seeds);
      const n = 1 + rng.int(4096);
      const from = rng.int(Math.max(1, donor.bytes.length - n));
      const to = hotOffset(rng, len);
      const src = donor.bytes.subarray(from, from + n);
      bytes.set(src.subarray(0, Math.min(src.length, len - to)), to);
      detail = `${n} bytes of ${donor.name}@${from} at ${to}`;
      break;
    }
    case 'duplicateChunk': {
      const chunks = Math.floor((len - FILE_HEADER) / CHUNK);
      if (chunks < 1) {
        detail = 'duplicate skipped (no chunk)';
        break;
      }
      const c = rng.int(chunks);
      const copies = 1 + rng.int(3);
      const out = new Uint8Array(len + copies * CHUNK);
      out.set(bytes, 0);
      for (let i = 0; i < copies; i++) out.set(bytes.subarray(FILE_HEADER + c * CHUNK, FILE_HEADER + (c + 1) * CHUNK), len + i * CHUNK);
      bytes = out;
      detail = `chunk ${c} appended ${copies}x`;
      break;
    }
    case 'headerFields': {
      // Header counts and chunk offsets are what readers trust to size loops and allocations.
      const fields = [16, 24, 32, 40, 42, 120];
      const f = rng.pick(fields);
      if (f === 40 || f === 42) view().setUint16(f, rng.pick([0, 1, 0x7fff, 0xffff]), true);
      else view().setUint32(f, rng.pick(INTERESTING_U32), true);
      const chunks = Math.floor((len - FILE_HEADER) / CHUNK);
      if (chunks > 0) {
        const c = FILE_HEADER + rng.int(chunks) * CHUNK;
        const cf = rng.pick([8, 16, 24, 32, 40, 44, 48]);
        view().setUint32(c + cf, rng.pick(INTERESTING_U32), true);
        detail = `file header @${f}, chunk @${c}+${cf}`;
      } else detail = `file header @${f}`;
      break;
    }
  }
  return { index, base: base.name, kind, detail, bytes };
}

// --- harness -----------------------------------------------------------------------------------------------

export interface FuzzOptions {
  seed: number;
  cases: number;
  seedPaths: string[];
  /** Per-mutant wall-clock bound; a mutant over it is a failure (and a hang is killed at this bound). */
  caseTimeoutMs: number;
  /** Bound on heap growth while one mutant is parsed (bytes). */
  maxHeapGrowth: number;
  /** Also parse the fixture-writer outputs built in the worker (covers nested BinXml, arrays, every type). */
  includeFixtures: boolean;
}

export interface CaseResult {
  index: number;
  base: string;
  kind: MutationKind;
  detail: string;
  size: number;
  ms: number;
  records: number;
  errors: number;
  heapGrowth: number;
  /** A thrown exception escaping iteration or root()/rendering: message + stack. */
  exception?: string;
}

export type WorkerMessage = { type: 'start'; index: number; describe: string } | { type: 'done'; result: CaseResult } | { type: 'finished' };

export interface FuzzReport {
  results: CaseResult[];
  failures: string[];
  /** The case running when the watchdog fired, if it did. */
  hung?: string;
}

/** Runs the fuzz cases in a worker under a watchdog. Resolves with every result and a list of failures. */
export function runFuzz(options: FuzzOptions, onResult?: (r: CaseResult) => void): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./fuzzWorkerBoot.mjs', import.meta.url), {
      workerData: options,
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    const report: FuzzReport = { results: [], failures: [] };
    let current = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (ms: number): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        report.hung = current || 'worker start-up';
        report.failures.push(`hang: no progress within ${ms} ms on ${report.hung}`);
        void worker.terminate();
      }, ms);
    };
    arm(Math.max(60_000, options.caseTimeoutMs * 2)); // loading the worker (tsx, seeds) takes a while
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'start') {
        current = m.describe;
        arm(options.caseTimeoutMs * 2);
      } else if (m.type === 'finished') {
        if (timer) clearTimeout(timer);
      } else if (m.type === 'done') {
        const r = m.result;
        report.results.push(r);
        onResult?.(r);
        const where = `case ${r.index} (${r.base}, ${r.kind}: ${r.detail}, seed ${options.seed})`;
        if (r.exception) report.failures.push(`exception escaped on ${where}: ${r.exception}`);
        if (r.ms > options.caseTimeoutMs) report.failures.push(`too slow on ${where}: ${r.ms.toFixed(0)} ms for ${r.size} bytes`);
        if (r.heapGrowth > options.maxHeapGrowth) report.failures.push(`heap grew ${(r.heapGrowth / 1048576).toFixed(0)} MB on ${where}`);
        // A record takes at least 28 bytes; more items than that means something is invented or repeated.
        const bound = Math.ceil(r.size / 28) + 64;
        if (r.records + r.errors > bound) report.failures.push(`${r.records} records + ${r.errors} errors from ${r.size} bytes on ${where}`);
      }
    });
    worker.on('error', (e) => {
      report.failures.push(`worker crashed during ${current}: ${e.stack ?? e.message}`);
    });
    worker.on('exit', () => {
      if (timer) clearTimeout(timer);
      resolve(report);
    });
    worker.on('messageerror', reject);
  });
}
