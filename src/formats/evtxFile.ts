/**
 * EVTX files as a source of WinEvents: a thin adapter of src/evtx (whose 'events' blocks read each record's fields
 * through the walker's field sink, with the literal prefilter and keepEvents) to the normalised model.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { DecodeError, DecodeItem, EventOrigin, WinEvent } from '../model/event.js';
import type { DecodeOptions } from './index.js';
import { addFallbackCounts, compileLiterals, fieldsFromTree, runBlocks, type EventsBlock, type EventsWork, type EvtxError, type EvtxRecord, type XmlNode } from '../evtx/index.js';

const HEADER_BYTES = 4096;
/**
 * 1 MiB blocks: a decoded block is small next to rendered text (most records are skipped or become compact
 * events), so larger blocks than the renderer's cost no memory to speak of and save per-block round trips.
 */
const DECODE_CHUNKS_PER_BLOCK = 16;
const CHUNK_BYTES = 65536;

export interface EvtxDecodeOptions extends DecodeOptions {
  /**
   * Worker threads decoding chunk ranges (events stay in file order). Default (or PROCWATCH_EVTX_THREADS):
   * up to 2 on files of 512 MiB or more when the literal prefilter skips records without keepEvents (few events
   * then cross threads), else 1 (see PARALLEL_MIN_BYTES).
   */
  threads?: number;
  /**
   * Build every WinEvent from the record's rendered element tree (the reference path) instead of reading it
   * straight from the template and values (src/evtx/fields.ts). Same events and errors; slower. For tests.
   */
  tree?: boolean;
}

export async function* decodeEvtxFile(path: string, options: EvtxDecodeOptions = {}): AsyncIterable<DecodeItem> {
  try {
    const threads = options.threads ?? threadsFromEnv() ?? (await defaultThreads(path, options));
    yield* decodeBlocks(path, options, threads);
  } catch (err) {
    // The file could not be opened or read (or a worker thread was lost): an error item, never a crash.
    const e = err as NodeJS.ErrnoException;
    yield { error: { file: path, reason: e.code === 'ENOENT' ? 'no such file or directory' : e.message } };
  }
}

/**
 * Files at least this large are decoded on two threads when the prefilter skips records without context
 * (`scan --fast`). Measured on the 2-core dev box: each worker pays ~0.15 s of start-up and JIT warm-up, so
 * 256 MiB decoded 5-10% slower on two threads and 1 GiB 5-15% faster. With keepEvents (the default scan) tens
 * of thousands of events cross threads by structured clone: no faster at 1 GiB and 60% more memory (342 MB
 * peak, over the 300 MB budget), so one thread.
 */
const PARALLEL_MIN_BYTES = 512 * 1024 * 1024;

async function defaultThreads(path: string, options: EvtxDecodeOptions): Promise<number> {
  if (!options.prefilterLiterals || compileLiterals(options.prefilterLiterals) === null) return 1;
  if (options.keepEvents && options.keepEvents.length > 0) return 1;
  const { size } = await stat(path);
  return size >= PARALLEL_MIN_BYTES ? Math.max(1, Math.min(2, availableParallelism())) : 1;
}

/** PROCWATCH_EVTX_THREADS overrides the default (1 disables worker threads). */
export function threadsFromEnv(): number | undefined {
  const v = Number(process.env.PROCWATCH_EVTX_THREADS);
  return Number.isInteger(v) && v >= 1 && v <= 16 ? v : undefined;
}

/**
 * Blocks of chunks decoded on worker threads, or on this thread when `threads` is 1 (then synchronously, block
 * by block: one await per block instead of one per record, measured cheaper than the streaming record parser).
 */
async function* decodeBlocks(path: string, options: EvtxDecodeOptions, threads: number): AsyncIterable<DecodeItem> {
  const literals = options.prefilterLiterals && options.prefilterLiterals.length > 0 ? options.prefilterLiterals : null;
  const work: EventsWork = { kind: 'events', literals, keepEvents: options.keepEvents ?? null, tree: options.tree === true };
  let base = 0;
  if (options.onBytes) options.onBytes(HEADER_BYTES);
  for await (const out of runBlocks(path, { threads, work, chunksPerBlock: DECODE_CHUNKS_PER_BLOCK })) {
    if (out.kind === 'header') {
      for (const e of out.errors) yield { error: toDecodeError(e) };
      continue;
    }
    const block = out.result as EventsBlock;
    // On one thread the blocks ran here and were counted here already.
    if (threads > 1) addFallbackCounts(block.fallbacks);
    for (const item of block.items) {
      if ('fields' in item) {
        const origin: EventOrigin = { file: path, chunk: item.chunkIndex, offset: item.offset, dialect: 'evtx', index: item.index + base };
        yield { event: { system: item.fields.system, data: item.fields.data, origin } };
      } else if ('recordError' in item) {
        const e = item.recordError;
        yield { error: { file: path, chunk: e.chunkIndex, offset: e.offset, recordId: e.recordId, index: e.index + base, reason: e.reason } };
      } else yield { error: toDecodeError(item.error) };
    }
    base += block.records;
    if (options.onBytes) options.onBytes(out.bytes);
  }
}

function toDecodeError(e: EvtxError): DecodeError {
  const out: DecodeError = { file: e.file, reason: e.reason };
  if (e.chunkIndex !== undefined) out.chunk = e.chunkIndex;
  if (e.offset !== undefined) out.offset = e.offset;
  if (e.recordId !== undefined) out.recordId = e.recordId;
  return out;
}

/** The rendered `<Event>` tree → WinEvent (the reference path). Throws when the tree has no System/EventID. */
export function recordToWinEvent(record: EvtxRecord, root: XmlNode, origin: EventOrigin): WinEvent {
  const fields = fieldsFromTree(record, root);
  return { system: fields.system, data: fields.data, origin };
}
