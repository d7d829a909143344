/**
 * Compiled template plans: the fast path of readEventFields (fields.ts) for records of the usual shape.
 *
 * Almost every record is a template instance whose template is `<Event>` with a `<System>` of literal or
 * singly-substituted fields, then EventData of `<Data Name="literal">{sub}</Data>` children, either in place or
 * inside a nested BinXml value that is itself one template instance (Sysmon, Security). For such a template
 * the work the walk redoes per record (which element is which System field, which Data key a value goes
 * under, which attributes matter) is worked out once per template structure (as the Rust `evtx` crate caches
 * templates); a record then only decodes the values the plan names, and checks the others for the damage
 * rendering would find (checkValue).
 *
 * A plan answers only when the walk (and so the tree path) would give that same event. Whatever it does not
 * cover, statically (odd template shapes: no plan) or per record (a value of an unexpected type, an array
 * that would repeat an element, an absent EventID, a second System, damage, budget or nesting limits), makes
 * it give up (a GiveUp, counted by the caller): the caller then runs the walk, which stays the definition and fails where it fails.
 */
import type { ChunkRecord } from './record.js';
import { MAX_RECORD_NODES } from './binxml/walker.js';
import { instanceAt, valuesOf } from './binxml/instance.js';
import { MAX_NESTING, type AttributeNode, type BinXmlContext, type BxNode, type ElementNode, type TemplateDef, type ValueRef } from './binxml/tokens.js';
import { decodeValue, VT, type DecodedValue } from './binxml/values.js';
import { DAMAGED, NO_PLAN_HERE, NOT_COVERED } from './fallback.js';
import { addField, checkValue, flatInt, flatText, intText, SystemParts, systemResult, TextMemo, type EventFields, type FieldValue } from './fieldsParts.js';

// --- plans ----------------------------------------------------------------------------------------------------

/** Where a System value goes: a SystemParts field, of text or a number (values nobody reads are only checked). */
type TextSlot = 'keywords' | 'channel' | 'computer' | 'providerName' | 'eventSourceName' | 'providerGuid' | 'systemTime' | 'activityId' | 'relatedActivityId' | 'userId';
type NumberSlot = 'eventId' | 'version' | 'level' | 'task' | 'opcode' | 'recordId' | 'processId' | 'threadId';

/** One System value: a literal (set as it is) or a substitution; `element`: in element text (else an attribute). */
interface SystemOp {
  slot: TextSlot | NumberSlot;
  numeric: boolean;
  literal: string | number | undefined;
  /** -1 for a literal. */
  index: number;
  element: boolean;
  /** The element is left out when this (its only child, optional) is absent. */
  optional: boolean;
  /** Text substitutions that repeat (all but SystemTime): their last text. */
  memo: TextMemo | null;
}

interface SystemPlan {
  ops: SystemOp[];
  /** Attribute substitutions nobody reads: rendering decodes them, so they are checked. */
  checks: number[];
}

/** One EventData child: its key (undefined: unnamed Data) and its text (a literal, or substitution `index`). */
interface DataItem {
  key: string | undefined;
  literal: string | null;
  index: number;
  optional: boolean;
}

interface DataPlan {
  items: DataItem[];
}

type ContentOp = { kind: 'system'; plan: SystemPlan } | { kind: 'eventData'; plan: DataPlan } | { kind: 'nested'; index: number };

/** A list of nodes rendered at the root `<Event>`'s level: what each does, and the most nodes it spends. */
interface ContentPlan {
  ops: ContentOp[];
  /** Attribute substitutions of System/EventData themselves, checked. */
  checks: number[];
  cost: number;
}

/** A record's template: `<Event>` (its attribute substitutions checked) and its content. */
interface RecordPlan {
  checks: number[];
  content: ContentPlan;
}

// --- compiling ---------------------------------------------------------------------------------------------------

/** Thrown while compiling: the template is not of the covered shape (no plan: every record is walked). */
class NoPlan extends Error {}
const NO_PLAN = new NoPlan('template not covered');

/** Per definition (a chunk's own parse of a template): the plan, or null (not covered). */
const recordPlans = new WeakMap<TemplateDef, RecordPlan | null>();
const contentPlans = new WeakMap<TemplateDef, ContentPlan | null>();

/**
 * Plans shared between definitions of the same structure: every chunk parses its own copy of the same few
 * templates, a few dozen records each, so compiling per definition would cost about as much as it saves. A
 * plan holds only indexes and strings, nothing of the chunk, so it serves every definition whose tree is the
 * same (compared node by node with the one it was compiled from; the GUID only narrows the search).
 */
interface SharedPlan<T> {
  nodes: BxNode[];
  plan: T | null;
}
const sharedRecordPlans = new Map<string, SharedPlan<RecordPlan>[]>();
const sharedContentPlans = new Map<string, SharedPlan<ContentPlan>[]>();
/** Real logs have a few hundred templates; a crafted file could make any number: bounded. */
const MAX_SHARED_GUIDS = 4096;
const MAX_SHARED_PER_GUID = 8;

function recordPlan(def: TemplateDef): RecordPlan | null {
  let plan = recordPlans.get(def);
  if (plan === undefined) {
    plan = shared(sharedRecordPlans, def, () => compileRecord(def));
    recordPlans.set(def, plan);
  }
  return plan;
}

function contentPlan(def: TemplateDef): ContentPlan | null {
  let plan = contentPlans.get(def);
  if (plan === undefined) {
    plan = shared(sharedContentPlans, def, () => compileContent(def.nodes));
    contentPlans.set(def, plan);
  }
  return plan;
}

function shared<T>(byGuid: Map<string, SharedPlan<T>[]>, def: TemplateDef, compile: () => T): T | null {
  let list = byGuid.get(def.guid);
  if (list) for (const s of list) if (sameNodes(s.nodes, def.nodes)) return s.plan;
  const plan = compileOr(compile);
  if (!list) {
    if (byGuid.size >= MAX_SHARED_GUIDS) byGuid.clear();
    list = [];
    byGuid.set(def.guid, list);
  }
  if (list.length < MAX_SHARED_PER_GUID) list.push({ nodes: def.nodes, plan });
  return plan;
}

/**
 * Whether two template trees are the same for a plan: kinds, names, literal texts, substitution indexes and
 * optionality. Never for template instances (their definitions are the chunk's): those compile per definition.
 */
function sameNodes(a: BxNode[], b: BxNode[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameNode(a[i]!, b[i]!)) return false;
  return true;
}

function sameNode(x: BxNode, y: BxNode): boolean {
  switch (x.kind) {
    case 'element': {
      if (y.kind !== 'element' || x.name !== y.name || x.attributes.length !== y.attributes.length) return false;
      for (let i = 0; i < x.attributes.length; i++) {
        const p = x.attributes[i]!;
        const q = y.attributes[i]!;
        if (p.name !== q.name || !sameNodes(p.parts, q.parts)) return false;
      }
      return sameNodes(x.children, y.children);
    }
    case 'text':
    case 'cdata':
      return y.kind === x.kind && x.text === y.text;
    case 'pi':
      return y.kind === 'pi' && x.target === y.target && x.data === y.data;
    case 'sub':
      return y.kind === 'sub' && x.index === y.index && x.optional === y.optional;
    case 'template':
      return false;
  }
}

function compileOr<T>(compile: () => T): T | null {
  try {
    return compile();
  } catch (err) {
    if (err instanceof NoPlan) return null;
    throw err;
  }
}

function compileRecord(def: TemplateDef): RecordPlan {
  if (def.nodes.length !== 1) throw NO_PLAN;
  const root = def.nodes[0]!;
  if (root.kind !== 'element') throw NO_PLAN;
  // The root must render once, as it is: no substitution among its children (none can repeat or drop it).
  if (root.children.some((c) => c.kind === 'sub') && root.children.every((c) => c.kind === 'sub')) throw NO_PLAN;
  const content = compileContent(root.children);
  if (!content.ops.some((op) => op.kind === 'system')) throw NO_PLAN;
  return { checks: attributeChecks(root.attributes), content };
}

function compileContent(nodes: BxNode[]): ContentPlan {
  const ops: ContentOp[] = [];
  const checks: number[] = [];
  let cost = nodes.length;
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
      case 'cdata':
      case 'pi':
        break; // text at the root's level is not kept
      case 'sub':
        ops.push({ kind: 'nested', index: node.index });
        break;
      case 'element': {
        if (node.children.some((c) => c.kind === 'sub' || c.kind === 'template')) throw NO_PLAN;
        checks.push(...attributeChecks(node.attributes));
        cost += childCost(node);
        if (node.name === 'System') ops.push({ kind: 'system', plan: compileSystem(node) });
        else if (node.name === 'EventData') ops.push({ kind: 'eventData', plan: compileData(node) });
        else throw NO_PLAN; // UserData, RenderingInfo, ...: the walk
        break;
      }
      default:
        throw NO_PLAN;
    }
  }
  return { ops, checks, cost };
}

/** Nodes the walk spends below an element of System or EventData: its children and theirs (an upper bound). */
function childCost(el: ElementNode): number {
  let n = el.children.length;
  for (const c of el.children) if (c.kind === 'element') n += c.children.length;
  return n;
}

/** The substitutions of attributes made of one substitution each; other than one literal or one sub: no plan. */
function attributeChecks(attributes: AttributeNode[]): number[] {
  const out: number[] = [];
  for (const a of attributes) {
    if (a.parts.length !== 1) throw NO_PLAN;
    const p = a.parts[0]!;
    if (p.kind === 'sub') out.push(p.index);
    else if (p.kind !== 'text') throw NO_PLAN;
  }
  return out;
}

const VALUE_SLOTS: Record<string, { slot: TextSlot | NumberSlot; numeric: boolean }> = {
  EventID: { slot: 'eventId', numeric: true },
  Version: { slot: 'version', numeric: true },
  Level: { slot: 'level', numeric: true },
  Task: { slot: 'task', numeric: true },
  Opcode: { slot: 'opcode', numeric: true },
  Keywords: { slot: 'keywords', numeric: false },
  EventRecordID: { slot: 'recordId', numeric: true },
  Channel: { slot: 'channel', numeric: false },
  Computer: { slot: 'computer', numeric: false },
};

/** The attributes each attribute element of System gives (as SystemParts fields). */
const ATTRIBUTE_SLOTS: Record<string, Record<string, { slot: TextSlot | NumberSlot; numeric: boolean }>> = {
  Provider: { Name: { slot: 'providerName', numeric: false }, EventSourceName: { slot: 'eventSourceName', numeric: false }, Guid: { slot: 'providerGuid', numeric: false } },
  TimeCreated: { SystemTime: { slot: 'systemTime', numeric: false } },
  Correlation: { ActivityID: { slot: 'activityId', numeric: false }, RelatedActivityID: { slot: 'relatedActivityId', numeric: false } },
  Execution: { ProcessID: { slot: 'processId', numeric: true }, ThreadID: { slot: 'threadId', numeric: true } },
  Security: { UserID: { slot: 'userId', numeric: false } },
};

const SYSTEM_NAMES = new Set([...Object.keys(VALUE_SLOTS), ...Object.keys(ATTRIBUTE_SLOTS)]);

/**
 * System's children: each known field at most once (so "the first of its name" is the one there, rendered or
 * left out), attributes of one part each, value elements of at most one child, attribute elements empty.
 */
function compileSystem(sys: ElementNode): SystemPlan {
  const ops: SystemOp[] = [];
  const checks: number[] = [];
  const seen = new Set<string>();
  for (const el of sys.children) {
    if (el.kind !== 'element') {
      if (el.kind === 'text' || el.kind === 'cdata' || el.kind === 'pi') continue;
      throw NO_PLAN;
    }
    if (SYSTEM_NAMES.has(el.name)) {
      if (seen.has(el.name)) throw NO_PLAN;
      seen.add(el.name);
    }
    const attrSlots = Object.hasOwn(ATTRIBUTE_SLOTS, el.name) ? ATTRIBUTE_SLOTS[el.name] : undefined;
    const valueSlot = Object.hasOwn(VALUE_SLOTS, el.name) ? VALUE_SLOTS[el.name] : undefined;
    compileSystemAttributes(el, attrSlots, ops, checks);
    if (valueSlot) ops.push(valueOp(el, valueSlot.slot, valueSlot.numeric));
    else if (el.children.some((c) => c.kind !== 'text' && c.kind !== 'cdata' && c.kind !== 'pi')) throw NO_PLAN; // only literals to decode
    else if (attrSlots && el.children.length > 0) throw NO_PLAN; // keep attribute elements never left out
  }
  return { ops, checks };
}

function compileSystemAttributes(el: ElementNode, slots: Record<string, { slot: TextSlot | NumberSlot; numeric: boolean }> | undefined, ops: SystemOp[], checks: number[]): void {
  const names = new Set<string>();
  for (const a of el.attributes) {
    if (a.parts.length !== 1 || names.has(a.name)) throw NO_PLAN; // the first of a name would depend on absence
    names.add(a.name);
    const p = a.parts[0]!;
    const s = slots && Object.hasOwn(slots, a.name) ? slots[a.name] : undefined;
    if (p.kind === 'sub') {
      if (s) ops.push({ slot: s.slot, numeric: s.numeric, literal: undefined, index: p.index, element: false, optional: false, memo: memoFor(s.slot) });
      else checks.push(p.index);
    } else if (p.kind === 'text') {
      if (s) ops.push({ slot: s.slot, numeric: s.numeric, literal: s.numeric ? intText(p.text) : p.text, index: -1, element: false, optional: false, memo: null });
    } else throw NO_PLAN;
  }
}

/** Text values but SystemTime (new with every record) mostly repeat: they are remembered (numbers are cheap). */
function memoFor(slot: TextSlot | NumberSlot): TextMemo | null {
  switch (slot) {
    case 'keywords':
    case 'channel':
    case 'computer':
    case 'providerName':
    case 'eventSourceName':
    case 'providerGuid':
    case 'activityId':
    case 'relatedActivityId':
    case 'userId':
      return new TextMemo();
    default:
      return null;
  }
}

/** A value element's text: none (''), one literal, or one substitution. */
function valueOp(el: ElementNode, slot: TextSlot | NumberSlot, numeric: boolean): SystemOp {
  const kids = el.children;
  if (kids.length > 1) throw NO_PLAN;
  const k = kids[0];
  if (k === undefined || k.kind === 'pi') return { slot, numeric, literal: numeric ? undefined : '', index: -1, element: true, optional: false, memo: null };
  if (k.kind === 'text' || k.kind === 'cdata') return { slot, numeric, literal: numeric ? intText(k.text) : k.text, index: -1, element: true, optional: false, memo: null };
  if (k.kind === 'sub') return { slot, numeric, literal: undefined, index: k.index, element: true, optional: k.optional, memo: memoFor(slot) };
  throw NO_PLAN;
}

/** EventData's children: elements with literal attributes and at most one child (literal or substitution). */
function compileData(ed: ElementNode): DataPlan {
  const items: DataItem[] = [];
  for (const el of ed.children) {
    if (el.kind === 'text' || el.kind === 'cdata' || el.kind === 'pi') continue;
    if (el.kind !== 'element') throw NO_PLAN;
    if (el.attributes.length > 0 && attributeChecks(el.attributes).length > 0) throw NO_PLAN;
    const key = el.name === 'Data' ? literalAttribute(el, 'Name') : el.name;
    const kids = el.children;
    if (kids.length > 1) throw NO_PLAN;
    const k = kids[0];
    if (k === undefined || k.kind === 'pi') items.push({ key, literal: '', index: -1, optional: false });
    else if (k.kind === 'text' || k.kind === 'cdata') items.push({ key, literal: k.text, index: -1, optional: false });
    else if (k.kind === 'sub') items.push({ key, literal: null, index: k.index, optional: k.optional });
    else throw NO_PLAN;
  }
  return { items };
}

/** The first attribute of the name, all attributes being one literal text (checked by the caller). */
function literalAttribute(el: ElementNode, name: string): string | undefined {
  for (const a of el.attributes) {
    const p = a.parts[0];
    if (a.name === name && p && p.kind === 'text') return p.text;
  }
  return undefined;
}

// --- running -----------------------------------------------------------------------------------------------------

interface Run {
  ctx: BinXmlContext;
  budget: number;
  system: SystemParts | null;
  data: Record<string, FieldValue> | null;
  /** The data fields wanted; null: all. */
  fields: ReadonlySet<string> | null;
}

function spend(r: Run, n: number): void {
  r.budget -= n;
  if (r.budget < 0) throw DAMAGED;
}

/** Present (as rendering counts it): there, and not NULL. */
function present(ref: ValueRef | undefined): ref is ValueRef {
  return ref !== undefined && ref.type !== VT.Null;
}

function check(ctx: BinXmlContext, values: ValueRef[], indexes: number[]): void {
  for (const i of indexes) {
    const ref = values[i];
    if (present(ref)) checkValue(ctx, ref);
  }
}

/**
 * The record's event fields by its template's plan. Throws GiveUp when the plan does not answer: NO_PLAN_HERE (the
 * record is not one plain template instance, or its template has no plan), NOT_COVERED (this record's values
 * change the shape), DAMAGED (or an EvtxFormatError: damage or a limit). The field walk then decides.
 */
export function readFieldsPlanned(record: ChunkRecord, fields: ReadonlySet<string> | null = null): EventFields {
  // The record's one template instance, read off its bytes (what record.tokens() would give, without the tree).
  const { ctx, start, end } = record.raw();
  const inst = instanceAt(ctx, start, end, 0);
  if (inst === null) throw NO_PLAN_HERE;
  const plan = recordPlan(inst.def);
  if (plan === null) throw NO_PLAN_HERE;
  const values = valuesOf(ctx, inst);
  // As the walk: the record node, the template's one node, then the root's content at nesting 1.
  const r: Run = { ctx, budget: MAX_RECORD_NODES - 2, system: null, data: null, fields };
  check(r.ctx, values, plan.checks);
  runContent(r, plan.content, values, 1);
  if (r.system === null) throw NOT_COVERED;
  const system = systemResult(r.system, record);
  if (system === null) throw NOT_COVERED;
  return { system, data: r.data ?? {} };
}

function runContent(r: Run, plan: ContentPlan, values: ValueRef[], nesting: number): void {
  if (nesting > MAX_NESTING) throw DAMAGED;
  spend(r, plan.cost);
  check(r.ctx, values, plan.checks);
  for (const op of plan.ops) {
    if (op.kind === 'system') {
      if (r.system !== null) throw NOT_COVERED; // a second System: only decoded by the walk
      r.system = runSystem(r.ctx, op.plan, values);
    } else if (op.kind === 'eventData') {
      if (r.data !== null) throw NOT_COVERED;
      r.data = runData(r, op.plan, values);
    } else runNested(r, values[op.index], nesting);
  }
}

/** A substitution at the root's level: nested BinXml of one template instance is read by that template's plan. */
function runNested(r: Run, ref: ValueRef | undefined, nesting: number): void {
  if (!present(ref) || ref.size === 0) return;
  if ((ref.type & 0x7f) !== VT.BinXml) {
    checkValue(r.ctx, ref); // text at the root's level: decoded, not kept
    return;
  }
  if (ref.off + ref.size > r.ctx.buf.length) throw DAMAGED;
  // One template instance and nothing else (as parseFragment would read it at nesting + 1), else the walk's.
  const inst = instanceAt(r.ctx, ref.off, ref.off + ref.size, nesting + 1);
  if (inst === null || nesting + 1 > MAX_NESTING) throw NOT_COVERED;
  const plan = contentPlan(inst.def);
  if (plan === null) throw NOT_COVERED;
  spend(r, 1);
  runContent(r, plan, valuesOf(r.ctx, inst), nesting + 2);
}

function runSystem(ctx: BinXmlContext, plan: SystemPlan, values: ValueRef[]): SystemParts {
  check(ctx, values, plan.checks);
  const parts = new SystemParts();
  for (const op of plan.ops) {
    if (op.index < 0) {
      setSlot(parts, op, op.literal);
      continue;
    }
    const ref = values[op.index];
    if (!present(ref)) {
      // An absent attribute is not rendered; an absent optional value leaves its element out; else: ''.
      if (op.element && !op.optional) setSlot(parts, op, op.numeric ? undefined : '');
      continue;
    }
    if (op.element) {
      // Arrays repeat the element and nested BinXml renders markup: the walk's business.
      if (ref.type & VT.ArrayFlag || (ref.type & 0x7f) === VT.BinXml) throw NOT_COVERED;
      if (ref.size === 0) {
        setSlot(parts, op, op.numeric ? undefined : '');
        continue;
      }
    }
    setSlot(parts, op, op.numeric ? flatInt(ctx, ref) : op.memo !== null ? op.memo.text(ctx, ref) : flatText(ctx, ref));
  }
  return parts;
}

/** A switch of plain stores: a store by computed name would be a slow megamorphic lookup on every record. */
function setSlot(parts: SystemParts, op: SystemOp, value: string | number | undefined): void {
  const n = value as number | undefined;
  const t = value as string | undefined;
  switch (op.slot) {
    case 'eventId': parts.eventId = n; break;
    case 'version': parts.version = n; break;
    case 'level': parts.level = n; break;
    case 'task': parts.task = n; break;
    case 'opcode': parts.opcode = n; break;
    case 'recordId': parts.recordId = n; break;
    case 'processId': parts.processId = n; break;
    case 'threadId': parts.threadId = n; break;
    case 'keywords': parts.keywords = t; break;
    case 'channel': parts.channel = t; break;
    case 'computer': parts.computer = t; break;
    case 'providerName': parts.providerName = t; break;
    case 'eventSourceName': parts.eventSourceName = t; break;
    case 'providerGuid': parts.providerGuid = t; break;
    case 'systemTime': parts.systemTime = t; break;
    case 'activityId': parts.activityId = t; break;
    case 'relatedActivityId': parts.relatedActivityId = t; break;
    case 'userId': parts.userId = t; break;
  }
}

/**
 * One record's EventData, as the walk's EventData level builds it: named items by addField, unnamed ones in
 * order under Data. An item left out (absent optional value) adds nothing; an array value repeats its element
 * once per item (once, empty, for an empty array), as rendered.
 */
function runData(r: Run, plan: DataPlan, values: ValueRef[]): Record<string, FieldValue> {
  const data: Record<string, FieldValue> = {};
  let unnamed: string[] | null = null;
  for (const item of plan.items) {
    if (r.fields !== null && item.key !== undefined && !r.fields.has(item.key)) {
      skipItem(r, item, values);
      continue;
    }
    const t = itemText(r, item, values);
    if (t === undefined) continue;
    if (typeof t === 'string') {
      if (item.key === undefined) (unnamed ??= []).push(t);
      else addField(data, item.key, t);
      continue;
    }
    for (const s of t) {
      if (item.key === undefined) (unnamed ??= []).push(s);
      else addField(data, item.key, s);
    }
  }
  if (unnamed) data.Data = unnamed;
  return data;
}

/**
 * A field the caller does not want (lazy value decoding): not decoded, only checked as decoding would check it,
 * so the plan still gives up exactly where it would have (damage, markup, the node budget of an array).
 */
function skipItem(r: Run, item: DataItem, values: ValueRef[]): void {
  if (item.literal !== null) return;
  const ref = values[item.index];
  if (!present(ref)) return;
  if ((ref.type & 0x7f) === VT.BinXml) throw NOT_COVERED;
  if (ref.type & VT.ArrayFlag) arrayTexts(r, ref);
  else checkValue(r.ctx, ref);
}

function itemText(r: Run, item: DataItem, values: ValueRef[]): string | string[] | undefined {
  if (item.literal !== null) return item.literal;
  const ref = values[item.index];
  if (!present(ref)) return item.optional ? undefined : '';
  if ((ref.type & 0x7f) === VT.BinXml) throw NOT_COVERED; // markup in a Data: the walk's business
  if (ref.type & VT.ArrayFlag) return arrayTexts(r, ref);
  return ref.size === 0 ? '' : flatText(r.ctx, ref);
}

/** An array value alone in its element: the element once per item (spent against the budget, as the walk does). */
function arrayTexts(r: Run, ref: ValueRef): string[] {
  const items = decodeValue(r.ctx.buf, r.ctx.view, ref.type, ref.off, ref.size) as DecodedValue[];
  spend(r, items.length);
  return items.length === 0 ? [''] : items.map((d) => d.text);
}
