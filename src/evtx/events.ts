/**
 * Blocks of chunks → event fields: the EVTX side of decoding records into events, run on the calling thread or on
 * the block runner's worker threads (BlockWork kind 'events').
 *
 * Every record is read by the event-fields sink of the walker (fields.ts), or by its rendered tree when that gives
 * up (fieldsFromTree: the reference, which also reports damage). With `literals`, records are parsed lazily and a
 * record whose bytes and templates cannot contain any literal (prefilter.ts — sound: it never drops a record that
 * could match) is skipped unrendered, unless its provider and EventID are in `keepEvents` (read from the
 * template's System header, systemKey.ts): context events a consumer needs whatever their content.
 */
import type { BlockJob } from './render/blocks.js';
import { parseBlock } from './block.js';
import { FALLBACK_REASONS, fallbackCounts, type FallbackReason } from './fallback.js';
import { readEventFields } from './fields.js';
import { addField, intText, isSystemTextElement, setSystemAttributes, setSystemText, SystemParts, systemResult, type EventFields, type FieldValue, type Scalar } from './fieldsParts.js';
import { compileLiterals, recordMayContain, type LiteralSet } from './prefilter.js';
import type { EvtxRecord } from './record.js';
import { recordSystemKey } from './systemKey.js';
import type { EvtxError } from './types.js';
import { attribute, childElement, textOf, type XmlElement, type XmlNode } from './xmlTree.js';

/** Events kept by the prefilter whatever their content (e.g. the process events correlation needs). */
export interface KeepEvent {
  provider: string;
  eventIds: number[];
  /** The EventData fields read from such an event when it holds none of the literals; omitted: every field. */
  fields?: readonly string[];
}

/** What an 'events' block does: which records it skips, and how it reads the others. */
export interface EventsWork {
  kind: 'events';
  /** Case-insensitive literals of the prefilter; null: every record is read. */
  literals: string[] | null;
  keepEvents: KeepEvent[] | null;
  /** Read every record from its rendered tree (the reference path) instead of the walker's field sink. */
  tree: boolean;
}

/** One record's outcome; `index` counts the block's records (skipped ones included). */
export type EventItem =
  | { fields: EventFields; chunkIndex: number; offset: number; index: number }
  | { recordError: { chunkIndex: number; offset: number; recordId: number; index: number; reason: string } }
  | { error: EvtxError };

export interface EventsBlock {
  items: EventItem[];
  /** Records in the block (skipped ones included), to number records across blocks. */
  records: number;
  /** Fast-path fallbacks counted while decoding the block (for the main thread's counts when run on a worker). */
  fallbacks: Partial<Record<FallbackReason, number>>;
}

/** What the prefilter skips: records without any literal, unless kept by provider and EventID. */
interface RecordFilter {
  literals: LiteralSet;
  /** Events kept whatever their content; null: none. */
  keep: KeptEvents | null;
}

function recordFilter(literalList: readonly string[] | null, keepEvents: readonly KeepEvent[] | null): RecordFilter | null {
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

/** Decodes one block of chunks to event fields (the structured-cloneable result crosses threads as it is). */
export function decodeEventsBlock(job: BlockJob, work: EventsWork): EventsBlock {
  const filter = recordFilter(work.literals, work.keepEvents);
  const direct = !work.tree;
  const items: EventItem[] = [];
  let records = 0;
  const before = fallbackCounts();
  for (const item of parseBlock(job.bytes, job, { ...job.settings, lazy: filter !== null, proveBy: direct ? 'fields' : 'tree' })) {
    if ('error' in item) {
      items.push(item);
      continue;
    }
    const decoded = decodeRecord(item.record, records++, filter, direct);
    if (decoded) items.push(decoded);
  }
  const after = fallbackCounts();
  const fallbacks: Partial<Record<FallbackReason, number>> = {};
  for (const r of FALLBACK_REASONS) if (after[r] !== before[r]) fallbacks[r] = after[r] - before[r];
  return { items, records, fallbacks };
}

/**
 * One record → its fields, an error, or null when the prefilter shows it cannot match and it is not kept.
 * Kept events are looked up first (from the System header, without rendering): cheaper than the literal search.
 */
function decodeRecord(record: EvtxRecord, index: number, filter: RecordFilter | null, direct: boolean): EventItem | null {
  const at = { chunkIndex: record.chunkIndex, offset: record.offset, index };
  try {
    if (filter) {
      let kept: ReadonlySet<string> | null | undefined;
      if (filter.keep) {
        const key = recordSystemKey(record);
        if (key === null) {
          // The header cannot be read without rendering: render, and decide on the event itself.
          const fields = eventFields(record, direct, null);
          if (filter.keep.fieldsOf(fields.system.provider, fields.system.eventId) !== undefined || recordMayContain(record, filter.literals)) return { fields, ...at };
          return null;
        }
        kept = filter.keep.fieldsOf(key.provider, intText(key.eventIdText));
      }
      if (kept === undefined && !recordMayContain(record, filter.literals)) return null;
      // Kept for its provider/EventID with a field list, and no literal in it (no rule can match it): only
      // the listed fields are decoded (lazy value decoding).
      if (kept && !recordMayContain(record, filter.literals)) return { fields: eventFields(record, direct, kept), ...at };
    }
    return { fields: eventFields(record, direct, null), ...at };
  } catch (err) {
    return { recordError: { chunkIndex: record.chunkIndex, offset: record.offset, recordId: record.recordId, index, reason: err instanceof Error ? err.message : String(err) } };
  }
}

/**
 * The record's fields: from the walker's field sink when it covers the record (`direct`), else from the rendered
 * tree. `wanted`: the data fields wanted (the others may be left out); null: all.
 */
function eventFields(record: EvtxRecord, direct: boolean, wanted: ReadonlySet<string> | null): EventFields {
  if (direct) {
    const read = readEventFields(record, wanted);
    if (read) return read;
  }
  return fieldsFromTree(record, record.root());
}

/** The rendered `<Event>` tree → event fields. Throws when the tree has no System/EventID (not an event). */
export function fieldsFromTree(record: EvtxRecord, root: XmlNode): EventFields {
  if (root.kind !== 'element') throw new Error('record is not an element');
  const sys = childElement(root, 'System');
  if (!sys) throw new Error(`record ${record.recordId}: no System element`);
  const system = systemResult(systemParts(sys), record);
  if (system === null) throw new Error(`record ${record.recordId}: no EventID`);
  return { system, data: readData(root) };
}

/** System's fields from the tree: the first element of each name counts, as a lookup by name would. */
function systemParts(sys: XmlElement): SystemParts {
  const p = new SystemParts();
  const seen = new Set<string>();
  for (const c of sys.children) {
    if (c.kind !== 'element' || seen.has(c.name)) continue;
    seen.add(c.name);
    if (isSystemTextElement(c.name)) setSystemText(p, c.name, textOf(c));
    else setSystemAttributes(p, c.name, c.attributes);
  }
  return p;
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
