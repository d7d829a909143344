/**
 * The WinEvent of an EVTX record read straight from its BinXml intermediate tree and substitution values,
 * without building the element tree (the hot path of `scan` over .evtx files).
 *
 * It walks the record as template instantiation would render it (same order, same node budget, same nesting
 * limits, every present value decoded as rendering decodes it, so damage fails here exactly when the tree path
 * fails), but keeps only what the WinEvent takes: System's fields, EventData's Data by Name, unnamed Data,
 * UserData leaves. What is the same for every record is worked out once per template element and cached on it
 * (literal attributes, by templates.ts; the field key of a `<Data Name>`). Anything outside what this covers (records of several nodes, a root
 * that repeats or is left out, no System or EventID, any damage) makes it give up (null): the caller then
 * renders the tree (recordToWinEvent), which stays the definition of the result and reports the damage.
 * Proven equal to the tree path on every record of the corpus (test/evtx/direct-winevent.test.ts).
 *
 * Records of the usual shape do not even walk: the plan compiled once per template structure (evtxPlan.ts)
 * reads them, and hands anything it does not cover, damage included, to the walk (test/evtx/plan.test.ts).
 */
import type { EventSystem, FieldValue, Scalar } from '../model/event.js';
import type { EvtxRecord } from '../evtx/index.js';
import { ChunkRecord } from '../evtx/record.js';
import { MAX_RECORD_NODES, elementAttributes } from '../evtx/binxml/templates.js';
import { MAX_NESTING, parseFragment, type BinXmlContext, type BxNode, type ElementNode, type ValueRef } from '../evtx/binxml/tokens.js';
import { decodeValue, VT, type DecodedValue } from '../evtx/binxml/values.js';
import type { XmlAttribute } from '../evtx/xmlTree.js';
import { readWinEventPlanned } from './evtxPlan.js';
import { addField, flatText, GIVE_UP, intText, SystemParts, systemResult } from './evtxPlanParts.js';

// Shared with the plans (evtxPlanParts.ts); exported from here as before.
export { addField, intText, normaliseTime } from './evtxPlanParts.js';

export interface DirectEvent {
  system: EventSystem;
  data: Record<string, FieldValue>;
}

/** Per-record walk state. */
interface Walk {
  ctx: BinXmlContext;
  budget: number;
}

function spend(w: Walk, n: number): void {
  w.budget -= n;
  if (w.budget < 0) throw GIVE_UP; // the tree path reports it
}

/** What an element's rendered content gives a level: elements (with how to read them) and text. */
interface Level {
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void;
  text(s: string): void;
}

/** A level that keeps nothing: what is rendered there is only decoded (so damage is found as the tree finds it). */
const IGNORE: Level = {
  element(w, el, values, nesting, _attrs, item) {
    if (item === null) walkNodes(w, el.children, values, nesting, IGNORE);
  },
  text() {},
};

/**
 * Renders `nodes` at one level as templates.ts instantiate() does, handing elements and text to `level`.
 * Mirrors instantiate/instantiateElement/substitute: keep the two in step.
 */
function walkNodes(w: Walk, nodes: BxNode[], values: ValueRef[] | null, nesting: number, level: Level): void {
  if (nesting > MAX_NESTING) throw GIVE_UP;
  spend(w, nodes.length);
  for (const node of nodes) {
    switch (node.kind) {
      case 'element':
        walkElement(w, node, values, nesting, level);
        break;
      case 'text':
      case 'cdata':
        level.text(node.text);
        break;
      case 'pi':
        break;
      case 'template':
        walkNodes(w, node.def.nodes, node.values, nesting + 1, level);
        break;
      case 'sub': {
        const ref = values?.[node.index];
        if (!ref || ref.type === VT.Null || ref.size === 0) break;
        if ((ref.type & 0x7f) === VT.BinXml) {
          if (ref.off + ref.size > w.ctx.buf.length) throw GIVE_UP;
          const inner = parseFragment(w.ctx, ref.off, ref.off + ref.size, false, nesting + 1);
          walkNodes(w, inner, null, nesting + 1, level);
          break;
        }
        const t = flatText(w.ctx, ref);
        if (t !== '') level.text(t);
        break;
      }
    }
  }
}

function walkElement(w: Walk, node: ElementNode, values: ValueRef[] | null, nesting: number, level: Level): void {
  const attrs = elementAttributes(w.ctx, node, values) as XmlAttribute[];
  const kids = node.children;
  const only = kids.length === 1 ? kids[0]! : undefined;
  if (only && only.kind === 'sub' && values) {
    const ref = values[only.index];
    if (ref && ref.type & VT.ArrayFlag && (ref.type & 0x7f) !== VT.BinXml) {
      // A lone array substitution repeats the element once per item (none: once, empty).
      const items = decodeValue(w.ctx.buf, w.ctx.view, ref.type, ref.off, ref.size) as DecodedValue[];
      spend(w, items.length);
      for (const item of items) level.element(w, node, values, nesting, attrs, item);
      if (items.length === 0) level.element(w, node, values, nesting, attrs, EMPTY_ITEM);
      return;
    }
  }
  if (kids.length > 0 && allAbsentOptional(kids, values)) return;
  level.element(w, node, values, nesting, attrs, null);
}

const EMPTY_ITEM: DecodedValue = { kind: 'text', text: '', json: null };

function allAbsentOptional(children: BxNode[], values: ValueRef[] | null): boolean {
  for (const c of children) if (c.kind !== 'sub' || !c.optional || !isAbsent(values?.[c.index])) return false;
  return true;
}

function isAbsent(ref: ValueRef | undefined): boolean {
  return !ref || ref.type === VT.Null;
}

/** Collects an element's direct text (textOf of the rendered element); its element children are only decoded. */
class TextLevel implements Level {
  s = '';
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    IGNORE.element(w, el, values, nesting, attrs, item);
  }
  text(t: string): void {
    this.s += t;
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

function attribute(attrs: XmlAttribute[], name: string): string | undefined {
  for (const a of attrs) if (a.name === name) return a.value;
  return undefined;
}

// --- System -----------------------------------------------------------------------------------------------

const enum Field {
  Other,
  Provider,
  EventID,
  Version,
  Level,
  Task,
  Opcode,
  Keywords,
  TimeCreated,
  EventRecordID,
  Correlation,
  Execution,
  Channel,
  Computer,
  Security,
}

const FIELDS = new Map<string, Field>([
  ['Provider', Field.Provider],
  ['EventID', Field.EventID],
  ['Version', Field.Version],
  ['Level', Field.Level],
  ['Task', Field.Task],
  ['Opcode', Field.Opcode],
  ['Keywords', Field.Keywords],
  ['TimeCreated', Field.TimeCreated],
  ['EventRecordID', Field.EventRecordID],
  ['Correlation', Field.Correlation],
  ['Execution', Field.Execution],
  ['Channel', Field.Channel],
  ['Computer', Field.Computer],
  ['Security', Field.Security],
]);

/** What System's first element of each name gives: text for value elements, attributes for the others. */
class SystemLevel implements Level {
  seen = 0; // bit per Field
  provider: XmlAttribute[] | undefined;
  eventId: string | undefined;
  version: string | undefined;
  level: string | undefined;
  task: string | undefined;
  opcode: string | undefined;
  keywords: string | undefined;
  time: XmlAttribute[] | undefined;
  recordId: string | undefined;
  correlation: XmlAttribute[] | undefined;
  execution: XmlAttribute[] | undefined;
  channel: string | undefined;
  computer: string | undefined;
  security: XmlAttribute[] | undefined;

  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    const f = FIELDS.get(el.name) ?? Field.Other;
    const first = f !== Field.Other && (this.seen & (1 << f)) === 0;
    if (!first) {
      IGNORE.element(w, el, values, nesting, attrs, item);
      return;
    }
    this.seen |= 1 << f;
    switch (f) {
      case Field.Provider:
      case Field.TimeCreated:
      case Field.Correlation:
      case Field.Execution:
      case Field.Security:
        IGNORE.element(w, el, values, nesting, attrs, item);
        if (f === Field.Provider) this.provider = attrs;
        else if (f === Field.TimeCreated) this.time = attrs;
        else if (f === Field.Correlation) this.correlation = attrs;
        else if (f === Field.Execution) this.execution = attrs;
        else this.security = attrs;
        return;
    }
    const text = elementText(w, el, values, nesting, item);
    switch (f) {
      case Field.EventID: this.eventId = text; break;
      case Field.Version: this.version = text; break;
      case Field.Level: this.level = text; break;
      case Field.Task: this.task = text; break;
      case Field.Opcode: this.opcode = text; break;
      case Field.Keywords: this.keywords = text; break;
      case Field.EventRecordID: this.recordId = text; break;
      case Field.Channel: this.channel = text; break;
      case Field.Computer: this.computer = text; break;
    }
  }
  text(): void {}

  /** As evtxFile.ts readSystem (systemResult); null when there is no EventID (the tree path then reports it). */
  result(record: EvtxRecord): EventSystem | null {
    const parts = new SystemParts();
    parts.eventId = intText(this.eventId);
    parts.version = intText(this.version);
    parts.level = intText(this.level);
    parts.task = intText(this.task);
    parts.opcode = intText(this.opcode);
    parts.keywords = this.keywords;
    parts.recordId = intText(this.recordId);
    parts.channel = this.channel;
    parts.computer = this.computer;
    const p = this.provider;
    if (p) {
      parts.providerName = attribute(p, 'Name');
      parts.eventSourceName = attribute(p, 'EventSourceName');
      parts.providerGuid = attribute(p, 'Guid');
    }
    if (this.time) parts.systemTime = attribute(this.time, 'SystemTime');
    const c = this.correlation;
    if (c) {
      parts.activityId = attribute(c, 'ActivityID');
      parts.relatedActivityId = attribute(c, 'RelatedActivityID');
    }
    const e = this.execution;
    if (e) {
      parts.processId = intText(attribute(e, 'ProcessID'));
      parts.threadId = intText(attribute(e, 'ThreadID'));
    }
    if (this.security) parts.userId = attribute(this.security, 'UserID');
    return systemResult(parts, record);
  }
}

// --- EventData, UserData -----------------------------------------------------------------------------------

/** EventData's children: `<Data Name="X">` → data.X, unnamed Data → data.Data, other elements by name. */
class EventDataLevel implements Level {
  unnamed: Scalar[] | null = null;
  constructor(readonly data: Record<string, FieldValue>) {}
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    const name = fieldKey(el, attrs);
    const text = elementText(w, el, values, nesting, item);
    if (name === undefined) (this.unnamed ??= []).push(text);
    else addField(this.data, name, text);
  }
  text(): void {}
}

/**
 * The key an EventData child goes under: its Data Name (else none: unnamed), or its element name. When the
 * attributes are literal (the same for every record) it is worked out once per template element.
 */
function fieldKey(el: ElementNode, attrs: XmlAttribute[]): string | undefined {
  const cached = el.fieldKey;
  if (cached !== undefined) return cached ?? undefined;
  const key = el.name === 'Data' ? attribute(attrs, 'Name') : el.name;
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
class SplitLevel implements Level {
  s = '';
  elements: Pending[] = [];
  element(_w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void {
    this.elements.push({ el, values, nesting, attrs, item });
  }
  text(t: string): void {
    this.s += t;
  }
}

/** As evtxFile.ts collectLeaves: leaf elements by name, elements with element children recursed into. */
function collectLeaves(w: Walk, children: Pending[], data: Record<string, FieldValue>, depth: number): void {
  for (const c of children) {
    const split = new SplitLevel();
    if (c.item !== null) {
      if (c.item.text !== '') split.text(c.item.text);
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
class RootLevel implements Level {
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
  text(): void {}
}

/**
 * The record's WinEvent parts read without the element tree, or null when not covered or damaged (render the
 * tree then: it gives the same event, or the error).
 */
export function readWinEventDirect(record: EvtxRecord, fields: ReadonlySet<string> | null = null): DirectEvent | null {
  if (!(record instanceof ChunkRecord)) return null;
  // The compiled plan of the record's template (evtxPlan.ts) when it covers the record; else, and on anything
  // it meets that is unusual or damaged, the walk below, which decides (and gives up where the tree fails).
  // `fields`: the plan leaves other EventData fields out; the walk reads them all.
  try {
    const planned = readWinEventPlanned(record, fields);
    if (planned !== undefined) return planned;
  } catch {
    // fall through to the walk
  }
  return walkWinEvent(record);
}

/** The walk: the record rendered level by level as the tree path would, keeping only what the WinEvent takes. */
function walkWinEvent(record: ChunkRecord): DirectEvent | null {
  try {
    const nodes = record.tokens();
    if (nodes.length !== 1) return null;
    const w: Walk = { ctx: record.raw().ctx, budget: MAX_RECORD_NODES };
    spend(w, 1);
    let root: ElementNode;
    let values: ValueRef[] | null = null;
    let nesting = 0;
    const first = nodes[0]!;
    if (first.kind === 'element') root = first;
    else if (first.kind === 'template') {
      nesting = 1;
      spend(w, first.def.nodes.length);
      if (first.def.nodes.length !== 1) return null;
      const inner = first.def.nodes[0]!;
      if (inner.kind !== 'element') return null;
      root = inner;
      values = first.values;
    } else return null;
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
    if (level.userData) {
      const u = level.userData;
      if (u.item !== null) {
        // Repeated-array UserData: its only content is text, no leaves.
      } else {
        const split = new SplitLevel();
        walkNodes(w, u.el.children, u.values, u.nesting, split);
        collectLeaves(w, split.elements, level.data, 0);
      }
    }
    return { system, data: level.data };
  } catch {
    return null;
  }
}
