/**
 * The event-fields sink of the walker: a record's System header and EventData/UserData fields, read from its
 * template and values without building the element tree (the hot path of `scan` over .evtx files).
 *
 * The walker (binxml/walker.ts) renders the record as the tree path would (same order, same node budget, same
 * nesting limits, every present value decoded, so damage fails here exactly when the tree fails); the sinks below
 * keep only what the event takes: System's fields, EventData's Data by Name, unnamed Data, UserData leaves. What is
 * the same for every record is worked out once per template element and cached on it (literal attributes, by the
 * walker; the field key of a `<Data Name>`). A record outside what this covers (several nodes, a root that
 * repeats or is left out, no System or EventID) or damaged gives up, counted by reason (fallback.ts): the caller
 * then renders the tree, which stays the definition of the result and reports the damage.
 *
 * Records of the usual shape do not even walk: the plan compiled once per template structure (fieldsPlan.ts)
 * reads them, and hands anything it does not cover, damage included, to the walk.
 */
import { ChunkRecord } from './record.js';
import type { EvtxRecord } from './record.js';
import type { ElementNode, TextNode, CDataNode, PINode, ValueRef } from './binxml/tokens.js';
import type { DecodedValue } from './binxml/values.js';
import { allAbsentOptional, elementAttributes, IGNORE, newWalk, recordRoot, spend, walkNodes, type Walk, type WalkSink } from './binxml/walker.js';
import { VT } from './binxml/values.js';
import type { XmlAttribute } from './xmlTree.js';
import { countFallback, giveUpKind } from './fallback.js';
import { readFieldsPlanned } from './fieldsPlan.js';
import { addField, attributeOf, flatText, isSystemTextElement, setSystemAttributes, setSystemText, SystemParts, systemResult, type EventFields, type EventHeader, type FieldValue, type Scalar } from './fieldsParts.js';

/** Sinks that keep no text still decode every value (so damage is found as rendering finds it). */
function decodeOnly(w: Walk, ref: ValueRef): void {
  flatText(w.ctx, ref);
}

/** Collects an element's direct text (textOf of the rendered element); its element children are only decoded. */
class TextLevel implements WalkSink {
  s = '';
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    IGNORE.element(w, el, values, nesting, attrs, item);
  }
  literal(node: TextNode | CDataNode | PINode): void {
    if (node.kind !== 'pi') this.s += node.text;
  }
  value(w: Walk, ref: ValueRef): void {
    this.s += flatText(w.ctx, ref);
  }
}

/** The rendered text of an element (item: the repeated-array item it holds). */
function elementText(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, item: DecodedValue | null): string {
  if (item !== null) return item.text;
  const kids = el.children;
  // The common leaf: one literal text or one scalar substitution.
  if (kids.length === 1) {
    const k = kids[0]!;
    if (k.kind === 'text' || k.kind === 'cdata') {
      spend(w, 1);
      return k.text;
    }
    if (k.kind === 'sub') {
      const ref = values?.[k.index];
      if (!ref || ref.type === VT.Null || ref.size === 0 || (ref.type & 0x7f) !== VT.BinXml) {
        spend(w, 1);
        return !ref || ref.type === VT.Null || ref.size === 0 ? '' : flatText(w.ctx, ref);
      }
    }
  }
  const t = new TextLevel();
  walkNodes(w, kids, values, nesting, t);
  return t.s;
}

// --- System -----------------------------------------------------------------------------------------------

/** One bit per System element read: only the first of each name counts, as a lookup by name would. */
const SYSTEM_BITS = new Map<string, number>(
  ['Provider', 'EventID', 'Version', 'Level', 'Task', 'Opcode', 'Keywords', 'TimeCreated', 'EventRecordID', 'Correlation', 'Execution', 'Channel', 'Computer', 'Security'].map((n, i) => [n, 1 << i]),
);

/** What System's first element of each name gives: text for value elements, attributes for the others. */
class SystemLevel implements WalkSink {
  private seen = 0;
  private readonly parts = new SystemParts();

  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    const bit = SYSTEM_BITS.get(el.name) ?? 0;
    if (bit === 0 || (this.seen & bit) !== 0) {
      IGNORE.element(w, el, values, nesting, attrs, item);
      return;
    }
    this.seen |= bit;
    if (isSystemTextElement(el.name)) setSystemText(this.parts, el.name, elementText(w, el, values, nesting, item));
    else {
      IGNORE.element(w, el, values, nesting, attrs, item);
      setSystemAttributes(this.parts, el.name, attrs);
    }
  }
  literal(): void {}
  value(w: Walk, ref: ValueRef): void {
    decodeOnly(w, ref);
  }

  /** As fieldsFromTree (events.ts) reads the tree (systemResult); null when there is no EventID (the tree path then reports it). */
  result(record: EvtxRecord): EventHeader | null {
    return systemResult(this.parts, record);
  }
}

// --- EventData, UserData -----------------------------------------------------------------------------------

/** EventData's children: `<Data Name="X">` → data.X, unnamed Data → data.Data, other elements by name. */
class EventDataLevel implements WalkSink {
  unnamed: Scalar[] | null = null;
  constructor(readonly data: Record<string, FieldValue>) {}
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    const name = fieldKey(el, attrs);
    const text = elementText(w, el, values, nesting, item);
    if (name === undefined) (this.unnamed ??= []).push(text);
    else addField(this.data, name, text);
  }
  literal(): void {}
  value(w: Walk, ref: ValueRef): void {
    decodeOnly(w, ref);
  }
}

/**
 * The key an EventData child goes under: its Data Name (else none: unnamed), or its element name. When the
 * attributes are literal (the same for every record) it is worked out once per template element.
 */
function fieldKey(el: ElementNode, attrs: XmlAttribute[]): string | undefined {
  const cached = el.fieldKey;
  if (cached !== undefined) return cached ?? undefined;
  const key = el.name === 'Data' ? attributeOf(attrs, 'Name') : el.name;
  if (el.literalAttributes === attrs) el.fieldKey = key ?? null;
  return key;
}

/** One rendered child of a UserData element: its text, and its element children (deferred, in order). */
interface Pending {
  el: ElementNode;
  values: ValueRef[] | null;
  nesting: number;
  attrs: XmlAttribute[];
  item: DecodedValue | null;
}

/** Splits an element's rendered content into text and element children (for collectLeaves' choice). */
class SplitLevel implements WalkSink {
  s = '';
  elements: Pending[] = [];
  element(_w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    this.elements.push({ el, values, nesting, attrs, item });
  }
  literal(node: TextNode | CDataNode | PINode): void {
    if (node.kind !== 'pi') this.s += node.text;
  }
  value(w: Walk, ref: ValueRef): void {
    this.s += flatText(w.ctx, ref);
  }
}

/** As events.ts collectLeaves: leaf elements by name, elements with element children recursed into. */
function collectLeaves(w: Walk, children: Pending[], data: Record<string, FieldValue>, depth: number): void {
  for (const c of children) {
    const split = new SplitLevel();
    if (c.item !== null) {
      split.s += c.item.text;
    } else walkNodes(w, c.el.children, c.values, c.nesting, split);
    if (split.elements.length > 0) {
      if (depth + 1 > 64) {
        for (const g of split.elements) IGNORE.element(w, g.el, g.values, g.nesting, g.attrs, g.item);
      } else collectLeaves(w, split.elements, data, depth + 1);
    } else addField(data, c.el.name, split.s);
  }
}

// --- the root ------------------------------------------------------------------------------------------------

/** The root `<Event>`'s children: the first System, EventData and UserData are read, the rest only decoded. */
class RootLevel implements WalkSink {
  system: SystemLevel | null = null;
  eventData: EventDataLevel | null = null;
  userData: Pending | null = null;
  data: Record<string, FieldValue> = {};
  /** The tree path adds EventData's fields before UserData's: UserData is read after the walk. */
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    if (item === null) {
      if (el.name === 'System' && !this.system) {
        this.system = new SystemLevel();
        walkNodes(w, el.children, values, nesting, this.system);
        return;
      }
      if (el.name === 'EventData' && !this.eventData) {
        this.eventData = new EventDataLevel(this.data);
        walkNodes(w, el.children, values, nesting, this.eventData);
        if (this.eventData.unnamed) this.data.Data = this.eventData.unnamed;
        return;
      }
      if (el.name === 'UserData' && !this.userData) {
        this.userData = { el, values, nesting, attrs, item };
        return;
      }
    } else if (!this.system && el.name === 'System') this.system = new SystemLevel(); // an empty System
    else if (!this.eventData && el.name === 'EventData') this.eventData = new EventDataLevel(this.data);
    else if (!this.userData && el.name === 'UserData') this.userData = { el, values, nesting, attrs, item };
    IGNORE.element(w, el, values, nesting, attrs, item);
  }
  literal(): void {}
  value(w: Walk, ref: ValueRef): void {
    decodeOnly(w, ref);
  }
}

/**
 * The record's event fields read without the element tree, or null when not covered or damaged (counted by
 * reason): render the tree then, which gives the same event, or the error. `fields`: the EventData fields wanted
 * (the plan may leave the others out); null: all.
 */
export function readEventFields(record: EvtxRecord, fields: ReadonlySet<string> | null = null): EventFields | null {
  if (!(record instanceof ChunkRecord)) {
    countFallback('fields.shape');
    return null;
  }
  const proven = record.provenFields;
  if (proven !== undefined) {
    // Read (all fields) while the parser proved the record: read once, handed over once.
    record.provenFields = undefined;
    return proven;
  }
  return readFresh(record, fields);
}

/** The parser's eager proof of a record by its fields (ParserSettings.proveBy 'fields'); the tree only when they give up. */
export function proveFields(record: ChunkRecord): void {
  const read = readFresh(record, null);
  record.provenFields = read;
  if (read === null) record.root();
}

function readFresh(record: ChunkRecord, fields: ReadonlySet<string> | null): EventFields | null {
  // The compiled plan of the record's template (fieldsPlan.ts) when it covers the record; else, and on anything
  // it meets that is unusual or damaged, the walk below, which decides (and gives up where the tree fails).
  try {
    return readFieldsPlanned(record, fields);
  } catch (err) {
    const kind = giveUpKind(err);
    countFallback(kind === 'none' ? 'plan.none' : kind === 'shape' ? 'plan.shape' : 'plan.damaged');
  }
  try {
    const event = walkEventFields(record);
    if (event === null) countFallback('fields.shape');
    return event;
  } catch (err) {
    if (giveUpKind(err) === 'damaged') countFallback('fields.damaged');
    else countFallback('fields.shape');
    return null;
  }
}

/** The walk: the record rendered level by level as the tree path would, keeping only what the event takes. */
function walkEventFields(record: ChunkRecord): EventFields | null {
  const w = newWalk(record.raw().ctx);
  const at = recordRoot(w, record.tokens());
  if (!at) return null;
  const { root, values, nesting } = at;
  // The root renders as one element: not repeated (lone array) and not left out (all optional values absent).
  elementAttributes(w.ctx, root, values);
  const kids = root.children;
  if (kids.length === 1 && kids[0]!.kind === 'sub' && values) {
    const ref = values[kids[0]!.index];
    if (ref && ref.type & VT.ArrayFlag && (ref.type & 0x7f) !== VT.BinXml) return null;
  }
  if (kids.length > 0 && allAbsentOptional(kids, values)) return null;
  const level = new RootLevel();
  walkNodes(w, kids, values, nesting, level);
  if (!level.system) return null;
  const system = level.system.result(record);
  if (!system) return null;
  const u = level.userData;
  // A repeated-array UserData holds only text: no leaves.
  if (u && u.item === null) {
    const split = new SplitLevel();
    walkNodes(w, u.el.children, u.values, u.nesting, split);
    collectLeaves(w, split.elements, level.data, 0);
  }
  return { system, data: level.data };
}
