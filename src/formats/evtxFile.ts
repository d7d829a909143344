/**
 * EVTX files as a source of WinEvents: adapts the binary parser (src/evtx) to the normalised model.
 *
 * The System header and EventData/UserData fields are read straight off the rendered element tree. With
 * `prefilterLiterals`, records are parsed lazily and a record whose bytes and templates cannot contain any
 * literal (see src/evtx/prefilter.ts — sound: it never drops a record that could match) is skipped unrendered,
 * unless its provider and EventID are in `keepEvents` (read from the template's System header, see
 * src/evtx/systemKey.ts): context events the correlator needs whatever their content.
 */
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type { DecodeError, DecodeItem, EventOrigin, EventSystem, FieldValue, Scalar, WinEvent } from '../model/event.js';
import type { DecodeOptions, KeepEvent } from './index.js';
import {
  attribute,
  childElement,
  compileLiterals,
  parseBlock,
  recordMayContain,
  recordSystemKey,
  runBlocks,
  textOf,
  type BlockJob,
  type EvtxError,
  type EvtxRecord,
  type LiteralSet,
  type XmlElement,
  type XmlNode,
} from '../evtx/index.js';
import { addField, intText, normaliseTime, readWinEventDirect, type DirectEvent } from './evtxDirect.js';

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
   * straight from the template and values (evtxDirect.ts). Same events and errors; slower. For tests.
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

/** What the prefilter skips: records without any literal, unless kept by provider and EventID. */
interface RecordFilter {
  literals: LiteralSet;
  /** Events kept whatever their content; null: none. */
  keep: KeptEvents | null;
}

function recordFilter(literalList: readonly string[] | null | undefined, keepEvents: readonly KeepEvent[] | null | undefined): RecordFilter | null {
  const literals = literalList ? compileLiterals(literalList) : null;
  if (!literals) return null; // no literals, or none the prefilter can look for soundly: nothing is skipped
  return { literals, keep: keepEvents && keepEvents.length > 0 ? new KeptEvents(keepEvents) : null };
}

/**
 * Provider (case-insensitive) and EventID pairs kept by the prefilter, each with the data fields read from it
 * when it holds no literal (null: every field).
 */
class KeptEvents {
  private readonly byLowerProvider = new Map<string, Map<number, ReadonlySet<string> | null>>();
  /** Providers are few and repeat on every record: each spelling is lower-cased and looked up once. */
  private readonly bySpelling = new Map<string, Map<number, ReadonlySet<string> | null> | null>();

  constructor(keepEvents: readonly KeepEvent[]) {
    for (const k of keepEvents) {
      const key = k.provider.toLowerCase();
      const ids = this.byLowerProvider.get(key) ?? new Map<number, ReadonlySet<string> | null>();
      const fields = k.fields ? new Set(k.fields) : null;
      for (const id of k.eventIds) {
        // Two entries for one event: the union of their fields (any entry without a list: every field).
        const prev = ids.get(id);
        ids.set(id, prev === undefined ? fields : prev === null || fields === null ? null : new Set([...prev, ...fields]));
      }
      this.byLowerProvider.set(key, ids);
    }
  }

  /** undefined: not kept; null: kept, every field; a set: kept, and these fields are enough without a literal. */
  fieldsOf(provider: string, eventId: number | undefined): ReadonlySet<string> | null | undefined {
    if (eventId === undefined) return undefined;
    let ids = this.bySpelling.get(provider);
    if (ids === undefined) {
      ids = this.byLowerProvider.get(provider.toLowerCase()) ?? null;
      if (this.bySpelling.size >= 1024) this.bySpelling.clear(); // bounded, whatever a damaged file holds
      this.bySpelling.set(provider, ids);
    }
    return ids === null ? undefined : ids.get(eventId);
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
 * One record → its WinEvent, an error, or null when the prefilter shows it cannot match and it is not kept.
 * Kept events are looked up first (from the System header, without rendering): cheaper than the literal search.
 */
function decodeRecord(record: EvtxRecord, path: string, index: number, filter: RecordFilter | null, proof: Proof | null): DecodeItem | null {
  const origin: EventOrigin = { file: path, chunk: record.chunkIndex, offset: record.offset, dialect: 'evtx', index };
  try {
    if (filter) {
      let kept: ReadonlySet<string> | null | undefined;
      if (filter.keep) {
        const key = recordSystemKey(record);
        if (key === null) {
          // The header cannot be read without rendering: render, and decide on the event itself.
          const event = toWinEvent(record, origin, proof, null);
          if (filter.keep.fieldsOf(event.system.provider, event.system.eventId) !== undefined || recordMayContain(record, filter.literals)) return { event };
          return null;
        }
        kept = filter.keep.fieldsOf(key.provider, intText(key.eventIdText));
      }
      if (kept === undefined && !recordMayContain(record, filter.literals)) return null;
      // Kept for its provider/EventID with a field list, and no literal in it (no rule can match it): only
      // the listed fields are decoded (lazy value decoding).
      if (kept && !recordMayContain(record, filter.literals)) return { event: toWinEvent(record, origin, proof, kept) };
    }
    return { event: toWinEvent(record, origin, proof, null) };
  } catch (err) {
    return { error: { file: path, chunk: record.chunkIndex, offset: record.offset, recordId: record.recordId, index, reason: err instanceof Error ? err.message : String(err) } };
  }
}

/**
 * The record's WinEvent: read straight from its template and values (evtxDirect.ts) when that covers it, else
 * from the rendered tree. `proof` is null for the tree path only. `fields`: the data fields wanted (the others
 * may be left out); null: all.
 */
function toWinEvent(record: EvtxRecord, origin: EventOrigin, proof: Proof | null, fields: ReadonlySet<string> | null): WinEvent {
  if (proof) {
    const taken = proof.take(record);
    const direct = taken === undefined ? readWinEventDirect(record, fields) : taken;
    if (direct) return { system: direct.system, data: direct.data, origin };
  }
  return recordToWinEvent(record, record.root(), origin);
}

/**
 * The parser's eager check of each record (ParserSettings.prove): the direct reading, which decodes what
 * rendering decodes; only when it gives up is the tree rendered (and its error reported). The event it read is
 * kept for the record that is yielded next, so the record is read once.
 */
class Proof {
  private record: EvtxRecord | null = null;
  private event: DirectEvent | null = null;
  readonly prove = (record: EvtxRecord): void => {
    const event = readWinEventDirect(record);
    this.record = record;
    this.event = event;
    if (!event) record.root();
  };
  /** The event read while proving the record; null: the direct reading gave up; undefined: not proven. */
  take(record: EvtxRecord): DirectEvent | null | undefined {
    if (this.record !== record) return undefined;
    const e = this.event;
    this.record = null;
    this.event = null;
    return e;
  }
}

interface DecodedBlock {
  items: DecodeItem[];
  /** Records in the block (skipped ones included), to number records across blocks. */
  records: number;
}

/**
 * Runs on a worker thread (through the EVTX block runner): decodes one block of chunks. Record indexes are
 * relative to the block; decodeParallel makes them file-wide.
 */
export function decodeEvtxBlock(job: BlockJob, arg: unknown): DecodedBlock {
  const a = (arg ?? {}) as { literals?: unknown; keepEvents?: unknown; tree?: unknown };
  const literalList = Array.isArray(a.literals) ? a.literals.filter((x): x is string => typeof x === 'string') : null;
  const filter = recordFilter(literalList, Array.isArray(a.keepEvents) ? (a.keepEvents as KeepEvent[]) : null);
  const items: DecodeItem[] = [];
  let records = 0;
  const proof = a.tree === true ? null : new Proof();
  for (const item of parseBlock(job.bytes, job, { ...job.settings, lazy: filter !== null, prove: proof?.prove })) {
    if ('error' in item) {
      items.push({ error: toDecodeError(item.error) });
      continue;
    }
    const decoded = decodeRecord(item.record, job.file, records++, filter, proof);
    if (decoded) items.push(decoded);
  }
  return { items, records };
}

/**
 * Blocks of chunks decoded on worker threads, or on this thread when `threads` is 1 (then synchronously, block
 * by block: one await per block instead of one per record, measured cheaper than the streaming record parser).
 */
async function* decodeBlocks(path: string, options: EvtxDecodeOptions, threads: number): AsyncIterable<DecodeItem> {
  const literals = options.prefilterLiterals && options.prefilterLiterals.length > 0 ? options.prefilterLiterals : null;
  const work = { kind: 'module' as const, url: import.meta.url, exportName: 'decodeEvtxBlock', arg: { literals, keepEvents: options.keepEvents ?? null, tree: options.tree === true } };
  let base = 0;
  if (options.onBytes) options.onBytes(HEADER_BYTES);
  for await (const out of runBlocks(path, { threads, work, chunksPerBlock: DECODE_CHUNKS_PER_BLOCK })) {
    if (out.kind === 'header') {
      for (const e of out.errors) yield { error: toDecodeError(e) };
      continue;
    }
    const block = out.result as DecodedBlock;
    for (const item of block.items) {
      if ('event' in item) {
        if (item.event.origin.index !== undefined) item.event.origin.index += base;
      } else if (item.error.index !== undefined) item.error.index += base;
      yield item;
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

/** The rendered `<Event>` tree → WinEvent. Throws when the tree has no System/EventID (not an event). */
export function recordToWinEvent(record: EvtxRecord, root: XmlNode, origin: EventOrigin): WinEvent {
  if (root.kind !== 'element') throw new Error('record is not an element');
  const system = childElement(root, 'System');
  if (!system) throw new Error(`record ${record.recordId}: no System element`);
  return { system: readSystem(system, record), data: readData(root), origin };
}

function intOf(el: XmlElement | undefined): number | undefined {
  if (!el) return undefined;
  return intText(textOf(el));
}


/** One pass over System's children (the first element of each name counts, as a lookup by name would). */
function readSystem(sys: XmlElement, record: EvtxRecord): EventSystem {
  let provider: XmlElement | undefined;
  let eventId: XmlElement | undefined;
  let version: XmlElement | undefined;
  let level: XmlElement | undefined;
  let task: XmlElement | undefined;
  let opcode: XmlElement | undefined;
  let keywords: XmlElement | undefined;
  let time: XmlElement | undefined;
  let recordIdEl: XmlElement | undefined;
  let correlation: XmlElement | undefined;
  let execution: XmlElement | undefined;
  let channel: XmlElement | undefined;
  let computer: XmlElement | undefined;
  let security: XmlElement | undefined;
  for (const c of sys.children) {
    if (c.kind !== 'element') continue;
    switch (c.name) {
      case 'Provider': provider ??= c; break;
      case 'EventID': eventId ??= c; break;
      case 'Version': version ??= c; break;
      case 'Level': level ??= c; break;
      case 'Task': task ??= c; break;
      case 'Opcode': opcode ??= c; break;
      case 'Keywords': keywords ??= c; break;
      case 'TimeCreated': time ??= c; break;
      case 'EventRecordID': recordIdEl ??= c; break;
      case 'Correlation': correlation ??= c; break;
      case 'Execution': execution ??= c; break;
      case 'Channel': channel ??= c; break;
      case 'Computer': computer ??= c; break;
      case 'Security': security ??= c; break;
    }
  }
  const id = intOf(eventId);
  if (id === undefined) throw new Error(`record ${record.recordId}: no EventID`);
  const out: EventSystem = {
    provider: (provider && (attribute(provider, 'Name') ?? attribute(provider, 'EventSourceName'))) ?? '',
    eventId: id,
    timeCreated: normaliseTime((time && attribute(time, 'SystemTime')) || record.timestamp),
    recordId: intOf(recordIdEl) ?? record.recordId,
    channel: channel ? textOf(channel) : '',
    computer: computer ? textOf(computer) : '',
  };
  const guid = provider && attribute(provider, 'Guid');
  if (guid) out.providerGuid = guid;
  const v = intOf(version);
  if (v !== undefined) out.version = v;
  const l = intOf(level);
  if (l !== undefined) out.level = l;
  const t = intOf(task);
  if (t !== undefined) out.task = t;
  const o = intOf(opcode);
  if (o !== undefined) out.opcode = o;
  if (keywords) out.keywords = textOf(keywords);
  const activity = correlation && attribute(correlation, 'ActivityID');
  if (activity) out.activityId = activity;
  const related = correlation && attribute(correlation, 'RelatedActivityID');
  if (related) out.relatedActivityId = related;
  const pid = execution && intText(attribute(execution, 'ProcessID'));
  if (pid !== undefined) out.processId = pid;
  const tid = execution && intText(attribute(execution, 'ThreadID'));
  if (tid !== undefined) out.threadId = tid;
  const sid = security && attribute(security, 'UserID');
  if (sid) out.userSid = sid;
  return out;
}



/** EventData `<Data Name="X">` → data.X; unnamed Data → data.Data (array); UserData → its leaf elements by name. */
function readData(root: XmlElement): Record<string, FieldValue> {
  const data: Record<string, FieldValue> = {};
  const eventData = childElement(root, 'EventData');
  if (eventData) {
    const unnamed: Scalar[] = [];
    for (const c of eventData.children) {
      if (c.kind !== 'element') continue;
      const name = c.name === 'Data' ? attribute(c, 'Name') : c.name;
      if (name === undefined) unnamed.push(textOf(c));
      else addField(data, name, textOf(c));
    }
    if (unnamed.length > 0) data.Data = unnamed;
  }
  const userData = childElement(root, 'UserData');
  if (userData) collectLeaves(userData, data, 0);
  return data;
}

function collectLeaves(el: XmlElement, data: Record<string, FieldValue>, depth: number): void {
  if (depth > 64) return;
  for (const c of el.children) {
    if (c.kind !== 'element') continue;
    if (c.children.some((g) => g.kind === 'element')) collectLeaves(c, data, depth + 1);
    else addField(data, c.name, textOf(c));
  }
}
