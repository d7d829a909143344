/**
 * Block runner: the main thread reads an EVTX file in blocks of 4 chunks (256 KiB) and hands them round-robin to
 * worker threads (chunks are independent: each has its own string and template tables); results come back
 * out of order and are yielded in file order. At most one block per worker is in flight, so memory stays
 * bounded whatever the file size. With one thread, jobs run on the calling thread.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { CHUNK_SIZE, FILE_HEADER_BLOCK_SIZE, fileHeaderInfo } from '../fileHeader.js';
import type { EvtxError, ParserSettings } from '../types.js';
import { runBlockJob, type BlockJob, type BlockWork, type RenderedBlock, type TextFormat } from './blocks.js';

/**
 * Small blocks keep each worker's results short-lived: with 16-chunk blocks the rendered text of a block
 * outlived the young generation and the parallel dump spent more CPU in GC than it saved (measured).
 */
export const CHUNKS_PER_BLOCK = 4;
const IN_FLIGHT_PER_WORKER = 2;

export interface BlockRunOptions {
  /** Worker threads; 1 runs on the calling thread. */
  threads: number;
  settings?: ParserSettings;
  work: BlockWork;
  /**
   * Chunks per block (default CHUNKS_PER_BLOCK). Work whose results are small (a prefiltered decode) takes
   * larger blocks: fewer messages and promise hops per MiB.
   */
  chunksPerBlock?: number;
}

/** File header problems first (if any), then each block's result in file order. */
export type BlockOutput = { kind: 'header'; errors: EvtxError[] } | { kind: 'block'; firstChunkIndex: number; bytes: number; result: unknown };

type Reply = { seq: number; result: unknown } | { seq: number; failure: string };

const RUNNING_AS_TS = import.meta.url.endsWith('.ts');

function startWorker(): Worker {
  // A roomier young generation than Node's worker default: a block's garbage dies young instead of being promoted.
  const limits = { resourceLimits: { maxYoungGenerationSizeMb: 32 } };
  if (!RUNNING_AS_TS) return new Worker(new URL('./worker.js', import.meta.url), limits);
  // Under tsx (tests, benches) the module is .ts, and Node 20 does not pass loader hooks to workers:
  // the worker registers tsx itself before loading the TypeScript entry.
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...limits, eval: true });
}

export async function* runBlocks(path: string, opts: BlockRunOptions): AsyncIterable<BlockOutput> {
  const settings: ParserSettings = { validateChecksums: opts.settings?.validateChecksums !== false, lazy: opts.settings?.lazy === true };
  const chunksPerBlock = Math.max(1, Math.floor(opts.chunksPerBlock ?? CHUNKS_PER_BLOCK));
  const BLOCK_SIZE = CHUNK_SIZE * chunksPerBlock;
  const handle = await open(path, 'r');
  const workers: Worker[] = [];
  let finishing = false;
  try {
    const head = Buffer.alloc(FILE_HEADER_BLOCK_SIZE);
    const { bytesRead } = await handle.read(head, 0, FILE_HEADER_BLOCK_SIZE, 0);
    if (bytesRead < 128) {
      yield { kind: 'header', errors: [{ file: path, offset: 0, reason: `too short for an EVTX file (${bytesRead} bytes)` }] };
      return;
    }
    const info = fileHeaderInfo(head);
    const headerErrors: EvtxError[] = [];
    if (!info.magicOk) headerErrors.push({ file: path, offset: 0, reason: 'bad file signature (not ElfFile); trying chunks anyway' });
    else if (settings.validateChecksums !== false && !info.checksumOk) headerErrors.push({ file: path, offset: 0, reason: 'file header checksum mismatch; data used anyway' });
    if (headerErrors.length > 0) yield { kind: 'header', errors: headerErrors };
    const reportBadMagicBelow = info.magicOk ? info.chunkCount : 0;
    const jobFor = (bytes: Buffer, seq: number): BlockJob => ({
      file: path,
      bytes,
      firstChunkIndex: seq * chunksPerBlock,
      fileOffset: FILE_HEADER_BLOCK_SIZE + seq * BLOCK_SIZE,
      reportBadMagicBelow,
      settings,
      work: opts.work,
    });
    const output = (seq: number, bytes: number, result: unknown): BlockOutput => ({ kind: 'block', firstChunkIndex: seq * chunksPerBlock, bytes, result });

    if (opts.threads <= 1) {
      // Read ahead: the next block arrives while this one is worked on. Two buffers take turns (a job keeps no
      // reference to its bytes once it has returned, see runBlockJob): fresh 1 MiB buffers per block cost a
      // page fault per 4 KiB touched, measured at a fifth of the CPU time of a prefiltered scan.
      const buffers = [Buffer.allocUnsafeSlow(BLOCK_SIZE), Buffer.allocUnsafeSlow(BLOCK_SIZE)];
      let next: Promise<Buffer> | null = readAt(handle, BLOCK_SIZE, FILE_HEADER_BLOCK_SIZE, buffers[0]);
      try {
        for (let seq = 0; next; seq++) {
          const bytes: Buffer = await next;
          next = null;
          if (bytes.length === 0) break;
          if (bytes.length === BLOCK_SIZE) next = readAt(handle, BLOCK_SIZE, FILE_HEADER_BLOCK_SIZE + (seq + 1) * BLOCK_SIZE, buffers[(seq + 1) % 2]);
          yield output(seq, bytes.length, await runBlockJob(jobFor(bytes, seq)));
        }
      } finally {
        // A consumer that stops early leaves a read in flight: let it finish before the file is closed.
        if (next) await next.catch(() => undefined);
      }
      return;
    }

    const waiting = new Map<number, (r: Reply) => void>();
    let failure: Error | null = null;
    const fail = (err: Error): void => {
      failure ??= err;
      for (const resolve of waiting.values()) resolve({ seq: -1, failure: err.message });
    };
    for (let i = 0; i < opts.threads; i++) {
      const w = startWorker();
      w.on('message', (r: Reply) => waiting.get(r.seq)?.(r));
      w.on('error', fail);
      // A worker that ends without being told to would leave its block unanswered: fail instead of waiting forever.
      w.on('exit', (code) => {
        if (!finishing) fail(new Error(`EVTX worker thread exited (code ${code})`));
      });
      workers.push(w);
    }
    const inFlight: { seq: number; bytes: number; reply: Promise<Reply> }[] = [];
    let nextSeq = 0;
    let eof = false;
    const submit = async (): Promise<void> => {
      const seq = nextSeq;
      const bytes = await readAt(handle, BLOCK_SIZE, FILE_HEADER_BLOCK_SIZE + seq * BLOCK_SIZE);
      if (bytes.length === 0) {
        eof = true;
        return;
      }
      if (bytes.length < BLOCK_SIZE) eof = true;
      nextSeq++;
      inFlight.push({ seq, bytes: bytes.length, reply: new Promise<Reply>((resolve) => waiting.set(seq, resolve)) });
      // The block's memory moves to the worker instead of being copied.
      workers[seq % workers.length]!.postMessage({ seq, job: jobFor(bytes, seq) }, [bytes.buffer as ArrayBuffer]);
    };
    while (!eof && inFlight.length < workers.length * IN_FLIGHT_PER_WORKER) await submit();
    while (inFlight.length > 0) {
      const next = inFlight.shift()!;
      const reply = await next.reply;
      waiting.delete(next.seq);
      if (failure) throw failure;
      if ('failure' in reply) throw new Error(`chunks ${next.seq * chunksPerBlock}-${next.seq * chunksPerBlock + chunksPerBlock - 1}: ${reply.failure}`);
      if (!eof) await submit();
      yield output(next.seq, next.bytes, reply.result);
    }
  } finally {
    finishing = true;
    await Promise.all(workers.map((w) => w.terminate()));
    await handle.close();
  }
}

export interface RenderOptions {
  format: TextFormat;
  /** Worker threads; 1 renders on the calling thread. */
  threads: number;
  settings?: ParserSettings;
}

/** Rendered records and errors of a file, block by block in file order (header problems come as a block without records). */
export async function* renderEvtxFile(path: string, opts: RenderOptions): AsyncIterable<RenderedBlock> {
  const run = runBlocks(path, { threads: opts.threads, ...(opts.settings ? { settings: opts.settings } : {}), work: { kind: 'render', format: opts.format } });
  for await (const out of run) {
    if (out.kind === 'header') yield { text: '', count: 0, errors: out.errors };
    else yield out.result as RenderedBlock;
  }
}

/**
 * `size` bytes at `position`, into `into` or else a fresh, exactly owned buffer (blocks sent to a worker are
 * transferred, so they must not share a pool).
 */
async function readAt(handle: FileHandle, size: number, position: number, into?: Buffer): Promise<Buffer> {
  const buf = into ?? Buffer.allocUnsafeSlow(size);
  let got = 0;
  while (got < size) {
    const { bytesRead } = await handle.read(buf, got, size - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === size ? buf : buf.subarray(0, got);
}
