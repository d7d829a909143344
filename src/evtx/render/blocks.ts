/**
 * Blocks of consecutive chunks: the unit of work the parallel paths hand to worker threads. Chunks are
 * independent (each has its own string and template tables), so a block parses on its own.
 */
import { describe, parseChunk } from '../chunk.js';
import { ChunkRecord } from '../record.js';
import { CHUNK_SIZE } from '../fileHeader.js';
import type { EvtxError, EvtxItem, ParserSettings } from '../types.js';
import type { XmlNode } from '../xmlTree.js';
import { recordToJson, recordToJsonString } from './json.js';
import { ByteSink, writeRecordJson } from './jsonDirect.js';
import { recordToXml } from './xml.js';

export type TextFormat = 'jsonl' | 'json' | 'xml';

/** Where a block lies in its file. */
export interface BlockLocation {
  file: string;
  firstChunkIndex: number;
  /** File offset of the first chunk. */
  fileOffset: number;
  /** Chunks with an index below this report a bad signature; later ones are preallocated space. */
  reportBadMagicBelow: number;
}

/** What to do with a block: render its records to text, or call `exportName` of the module at `url` on it. */
export type BlockWork = { kind: 'render'; format: TextFormat } | { kind: 'module'; url: string; exportName: string; arg: unknown };

export interface BlockJob extends BlockLocation {
  /** Bytes of consecutive chunks (the last one may be short). */
  bytes: Uint8Array;
  settings: ParserSettings;
  work: BlockWork;
}

/**
 * A module function run on blocks: gets the block and the caller's argument, returns structured-cloneable data
 * that keeps no reference to `job.bytes` (on one thread the runner reads the next blocks into the same buffers).
 */
export type BlockFunction = (job: BlockJob, arg: unknown) => unknown;

export interface RenderedBlock {
  /**
   * The block's records rendered in file order, as one string (one string crosses threads far cheaper than
   * many): JSONL lines each ending in a newline, XML events back to back, or pretty JSON objects joined by ",\n".
   */
  text: string;
  /**
   * JSONL only: the block's lines as UTF-8 bytes instead of `text` (which is then empty). Bytes cross
   * threads by transfer, with no copy and no encoding on the writing thread.
   */
  bytes?: Uint8Array;
  /** Number of records in `text` (or `bytes`). */
  count: number;
  errors: EvtxError[];
}

/** Records and errors of every chunk of the block, in file order. */
export function* parseBlock(bytes: Uint8Array, loc: BlockLocation, settings: ParserSettings): Generator<EvtxItem> {
  for (let off = 0, chunkIndex = loc.firstChunkIndex; off < bytes.length; off += CHUNK_SIZE, chunkIndex++) {
    const at = { file: loc.file, chunkIndex, fileOffset: loc.fileOffset + off, reportBadMagic: chunkIndex < loc.reportBadMagicBelow };
    yield* parseChunk(bytes.subarray(off, Math.min(off + CHUNK_SIZE, bytes.length)), at, settings);
  }
}

export function renderBlock(job: BlockJob, format: TextFormat): RenderedBlock {
  if (format === 'jsonl') return renderBlockJsonl(job);
  const records: string[] = [];
  const errors: EvtxError[] = [];
  for (const item of parseBlock(job.bytes, job, { ...job.settings, lazy: false })) {
    if ('error' in item) {
      errors.push(item.error);
      continue;
    }
    const r = item.record;
    try {
      records.push(renderRecord(r.root(), format));
    } catch (err) {
      errors.push({ file: job.file, chunkIndex: r.chunkIndex, offset: r.offset, recordId: r.recordId, reason: (err as Error).message });
    }
  }
  return { text: joinRecords(records, format), count: records.length, errors };
}

/**
 * JSONL of a block into one byte buffer: records are read lazily and written by the direct JSON writer,
 * falling back to the element tree for what it does not cover. A record whose BinXml is damaged is reported
 * exactly as the eager parser reports it (same place in the order, same reason).
 */
function renderBlockJsonl(job: BlockJob): RenderedBlock {
  const out = new ByteSink(job.bytes.length * 3);
  const errors: EvtxError[] = [];
  let count = 0;
  for (const item of parseBlock(job.bytes, job, { ...job.settings, lazy: true })) {
    if ('error' in item) {
      errors.push(item.error);
      continue;
    }
    const r = item.record;
    if (!(r instanceof ChunkRecord) || !writeRecordJson(r, out)) {
      let line: string;
      try {
        line = recordToJsonString(r.root());
      } catch (err) {
        errors.push({ file: job.file, chunkIndex: r.chunkIndex, offset: r.offset, recordId: r.recordId, reason: describe(err) });
        continue;
      }
      out.string(line);
    }
    out.byte(0x0a);
    count++;
  }
  return { text: '', bytes: out.view(), count, errors };
}

/** Rendered records of one block as one string (see RenderedBlock.text). */
export function joinRecords(records: string[], format: TextFormat): string {
  if (format === 'jsonl') return records.length > 0 ? records.join('\n') + '\n' : '';
  return records.join(format === 'json' ? ',\n' : '');
}

export function renderRecord(root: XmlNode, format: TextFormat): string {
  if (format === 'xml') return recordToXml(root);
  if (format === 'json') return JSON.stringify(recordToJson(root), null, 2);
  return recordToJsonString(root);
}

/** Runs a job on the current thread. */
export async function runBlockJob(job: BlockJob): Promise<unknown> {
  if (job.work.kind === 'render') return renderBlock(job, job.work.format);
  const mod = (await import(job.work.url)) as Record<string, unknown>;
  const fn = mod[job.work.exportName];
  if (typeof fn !== 'function') throw new Error(`${job.work.url} has no function ${job.work.exportName}`);
  return (fn as BlockFunction)(job, job.work.arg);
}
