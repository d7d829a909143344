/**
 * A block's work (block.ts: consecutive chunks, parsed on their own): its records rendered to text (dump), or
 * decoded to event fields (events.ts). Runs on the calling thread or on a worker thread of the runner.
 */
import { describe } from '../chunk.js';
import { ChunkRecord } from '../record.js';
import { parseBlock, type BlockLocation } from '../block.js';
import { decodeEventsBlock, type EventsBlock, type EventsWork } from '../events.js';
import type { EvtxError, ParserSettings } from '../types.js';
import type { XmlNode } from '../xmlTree.js';
import { recordToJson, recordToJsonString } from './json.js';
import { ByteSink, writeRecordJson } from './jsonDirect.js';
import { recordToXml } from './xml.js';

export type TextFormat = 'jsonl' | 'json' | 'xml';

/** What to do with a block: render its records to text, or decode them to event fields (events.ts). */
export type BlockWork = { kind: 'render'; format: TextFormat } | EventsWork;

export interface BlockJob extends BlockLocation {
  /** Bytes of consecutive chunks (the last one may be short). */
  bytes: Uint8Array;
  settings: ParserSettings;
  work: BlockWork;
}

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

/**
 * Runs a job on the current thread. Results are structured-cloneable and keep no reference to `job.bytes` (on one
 * thread the runner reads the next blocks into the same buffers).
 */
export function runBlockJob(job: BlockJob): RenderedBlock | EventsBlock {
  if (job.work.kind === 'render') return renderBlock(job, job.work.format);
  return decodeEventsBlock(job, job.work);
}
