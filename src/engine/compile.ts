/**
 * Sigma model → matcher closures, one per (rule, route). Also derives, from the condition tree,
 *  - the literals one of which must occur in a field for the rule to match (anchors, for the shared prefilter);
 *  - the event ids the rule can match (to route it more narrowly than its log source).
 */
import type { ConditionNode, DetectionItem, SearchIdentifier, SigmaRule, SigmaValue } from '../rules/model.js';
import { wrapWildcards } from '../rules/values.js';
import type { Route } from '../rules/pipeline.js';
import { ALL_FIELDS, accessorFor, scalarText, type EventContext, type SlotTable } from './fields.js';
import { compileValue, matchesMissing, type ValueTest } from './valueTests.js';

export type Matcher = (ctx: EventContext) => boolean;

/** A literal (lowercase) that must occur in the lowercase text of a field slot. */
export interface Anchor {
  slot: number;
  literal: string;
  /** The field is verbatim record text (usable to prefilter raw records). */
  verbatim: boolean;
}

/** One of these anchors must hold for a match; null: no such set is known; []: can never match. */
export type AnchorSet = Anchor[] | null;

export interface CompiledInstance {
  ruleIndex: number;
  route: Route;
  /** Event ids this instance can match (undefined: any). */
  eventIds?: number[];
  match: Matcher;
  anchors: AnchorSet;
}

interface Compiled {
  match: Matcher;
  anchors: AnchorSet;
  eventIds: Set<number> | null;
  /** Constant result, when known at compile time. */
  constant?: boolean;
}

const ALWAYS: Compiled = { match: () => true, anchors: null, eventIds: null, constant: true };
const NEVER: Compiled = { match: () => false, anchors: [], eventIds: new Set(), constant: false };

/** Compiles a rule for each of its routes. */
export function compileRule(rule: SigmaRule, ruleIndex: number, routes: Route[], slots: SlotTable): CompiledInstance[] {
  const out: CompiledInstance[] = [];
  for (const route of routes) {
    const cache = new Map<string, Compiled>();
    const ident = (name: string): Compiled => {
      let c = cache.get(name);
      if (!c) {
        c = compileIdentifier(rule.detections.get(name)!, route, slots);
        cache.set(name, c);
      }
      return c;
    };
    const compiled = compileCondition(rule.condition, ident);
    if (compiled.constant === false) continue;
    let eventIds = route.eventIds;
    if (compiled.eventIds) {
      const narrowed = [...compiled.eventIds].filter((id) => !eventIds || eventIds.includes(id));
      if (narrowed.length === 0) continue;
      eventIds = narrowed.sort((a, b) => a - b);
    }
    const inst: CompiledInstance = { ruleIndex, route, match: compiled.match, anchors: compiled.anchors };
    if (eventIds) inst.eventIds = eventIds;
    out.push(inst);
  }
  return out;
}

// ---- conditions -----------------------------------------------------------------------------------------

function compileCondition(node: ConditionNode, ident: (name: string) => Compiled): Compiled {
  switch (node.op) {
    case 'ref':
      return ident(node.name);
    case 'const':
      return node.value ? ALWAYS : NEVER;
    case 'not': {
      const inner = compileCondition(node.arg, ident);
      if (inner.constant !== undefined) return inner.constant ? NEVER : ALWAYS;
      const m = inner.match;
      return { match: (ctx) => !m(ctx), anchors: null, eventIds: null };
    }
    case 'and':
      return andOf(node.args.map((a) => compileCondition(a, ident)));
    case 'or':
      return orOf(node.args.map((a) => compileCondition(a, ident)));
    case 'atleast': {
      const parts = node.args.map((a) => compileCondition(a, ident));
      const n = node.n;
      const ms = parts.map((p) => p.match);
      const loose = orOf(parts); // at least one must hold: its anchors and event ids are sound here too
      return {
        match: (ctx) => {
          let hits = 0;
          for (const m of ms) if (m(ctx) && ++hits >= n) return true;
          return false;
        },
        anchors: loose.anchors,
        eventIds: loose.eventIds,
      };
    }
  }
}

function andOf(parts: Compiled[]): Compiled {
  if (parts.some((p) => p.constant === false)) return NEVER;
  const live = parts.filter((p) => p.constant !== true);
  if (live.length === 0) return ALWAYS;
  if (live.length === 1) return live[0]!;
  const ms = live.map((p) => p.match);
  const match: Matcher =
    ms.length === 2
      ? ((a, b) => (ctx: EventContext) => a(ctx) && b(ctx))(ms[0]!, ms[1]!)
      : (ctx) => {
          for (const m of ms) if (!m(ctx)) return false;
          return true;
        };
  let eventIds = null as Set<number> | null;
  for (const p of live) {
    const ids = p.eventIds;
    if (!ids || ids === eventIds) continue;
    eventIds = eventIds ? new Set([...eventIds].filter((id) => ids.has(id))) : ids;
  }
  return { match, anchors: bestAnchors(live.map((p) => p.anchors)), eventIds };
}

function orOf(parts: Compiled[]): Compiled {
  if (parts.some((p) => p.constant === true)) return ALWAYS;
  const live = parts.filter((p) => p.constant !== false);
  if (live.length === 0) return NEVER;
  if (live.length === 1) return live[0]!;
  const ms = live.map((p) => p.match);
  const match: Matcher = (ctx) => {
    for (const m of ms) if (m(ctx)) return true;
    return false;
  };
  return { match, anchors: unionAnchors(live), eventIds: unionEventIds(live) };
}

/**
 * Anchors of an OR: every part's anchors (null as soon as one part has none), each (slot, literal) once.
 * Built in one pass: a long `or` chain (thousands of terms) must compile in linear time.
 */
function unionAnchors(parts: Compiled[]): AnchorSet {
  const seen = new Set<string>();
  const out: Anchor[] = [];
  for (const p of parts) {
    if (p.anchors === null) return null;
    for (const a of p.anchors) {
      const key = `${a.slot}\u0000${a.literal}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(a);
    }
  }
  return out;
}

/** Event ids of an OR: the union, or null (any id) as soon as one part can match any id. */
function unionEventIds(parts: Compiled[]): Set<number> | null {
  const out = new Set<number>();
  for (const p of parts) {
    if (p.eventIds === null) return null;
    for (const id of p.eventIds) out.add(id);
  }
  return out;
}

/** Of several anchor sets that must all hold, the most selective one: longest shortest literal, then fewest. */
function bestAnchors(sets: AnchorSet[]): AnchorSet {
  let best: AnchorSet = null;
  let bestScore = -1;
  for (const s of sets) {
    if (!s) continue;
    if (s.length === 0) return s;
    let minLen = Infinity; // a loop, not Math.min(...): a set can hold more literals than a call has arguments
    for (const a of s) if (a.literal.length < minLen) minLen = a.literal.length;
    const score = Math.min(minLen, 12) * 10000 - s.length;
    if (score > bestScore) {
      best = s;
      bestScore = score;
    }
  }
  return best;
}

// ---- search identifiers and items -----------------------------------------------------------------------

function compileIdentifier(ident: SearchIdentifier, route: Route, slots: SlotTable): Compiled {
  return orOf(ident.groups.map((group) => andOf(group.map((item) => compileItem(item, route, slots)))));
}

type ScalarTest = ValueTest;

function combine(tests: ScalarTest[], all: boolean): ScalarTest {
  if (tests.length === 1) return tests[0]!;
  if (all)
    return (t, l, v, ctx) => {
      for (const test of tests) if (!test(t, l, v, ctx)) return false;
      return true;
    };
  return (t, l, v, ctx) => {
    for (const test of tests) if (test(t, l, v, ctx)) return true;
    return false;
  };
}

function compileItem(item: DetectionItem, route: Route, slots: SlotTable): Compiled {
  if (item.field === null) return compileKeywords(item, slots);
  const acc = accessorFor(item.field, route.fields);
  const slot = slots.slot(acc);
  return compileValues(item, slot, acc.verbatim, (f: string): number => slots.slot(accessorFor(f, route.fields)));
}

function compileValues(item: DetectionItem, slot: number, verbatim: boolean, slotOf: (field: string) => number): Compiled {
  // `all` ANDs the written values; the expansions of one written value (windash, ...) stay ORed.
  const tests: ScalarTest[] = item.all
    ? item.groups.map((g) => combine(g.map((v) => compileValue(v, slotOf)), false))
    : item.values.map((v) => compileValue(v, slotOf));
  const missing = item.neq ? false : item.all ? item.groups.every((g) => g.some(matchesMissing)) : item.values.some(matchesMissing);
  const neq = item.neq;
  const perScalar = combine(tests, false);
  // With `all` on a multi-valued field each value may match a different element.
  const allTests = item.all && tests.length > 1;
  const match: Matcher = (ctx) => {
    const v = ctx.get(slot);
    if (v === undefined) return missing;
    let hit: boolean;
    if (!Array.isArray(v)) {
      const text = scalarText(v);
      const low = ctx.lower(slot) as string;
      hit = allTests ? tests.every((t) => t(text, low, v, ctx)) : perScalar(text, low, v, ctx);
    } else {
      const lows = ctx.lower(slot) as string[];
      const anyElem = (t: ScalarTest): boolean => v.some((x, i) => t(scalarText(x), lows[i]!, x, ctx));
      hit = allTests ? tests.every(anyElem) : anyElem(perScalar);
    }
    return neq ? !hit : hit;
  };
  return { match, anchors: neq ? null : itemAnchors(item, slot, verbatim), eventIds: itemEventIds(item) };
}

/** Keywords: the values (as `contains` patterns) against every value of the event, System header included. */
function compileKeywords(item: DetectionItem, slots: SlotTable): Compiled {
  const wrap = (v: SigmaValue): SigmaValue => (v.kind === 'string' ? { ...v, parts: wrapWildcards(v.parts, true, true) } : v);
  const slot = slots.slot(ALL_FIELDS);
  return compileValues({ ...item, values: item.values.map(wrap), groups: item.groups.map((g) => g.map(wrap)) }, slot, true, () => slot);
}

/**
 * Anchors of an item: for ORed values, one literal per value (one of them must be present); for `all`, the
 * group (a written value and its expansions) whose literals are the most selective.
 */
function itemAnchors(item: DetectionItem, slot: number, verbatim: boolean): AnchorSet {
  const literalsOf = (values: SigmaValue[]): string[] | null => {
    const lits = values.map(requiredLiteral);
    if (lits.some((l) => l === null || l === '')) return null;
    return [...new Set(lits as string[])];
  };
  const toAnchors = (lits: string[]): Anchor[] => lits.map((literal) => ({ slot, literal, verbatim }));
  if (!item.all) {
    const lits = literalsOf(item.values);
    return lits ? toAnchors(lits) : null;
  }
  return bestAnchors(item.groups.map((g) => {
    const lits = literalsOf(g);
    return lits ? toAnchors(lits) : null;
  }));
}

/**
 * The longest run of a string pattern's lowercase literal text that the field's lowercase text must contain
 * when the value matches. Runs are split at the only characters where `toLowerCase` of a whole string differs
 * from lowercasing code unit by code unit (the combining dot of İ's lowercase, and σ/ς which depend on
 * context), so the per-unit folding of the literal scanner never misses a match.
 */
export function requiredLiteral(v: SigmaValue): string | null {
  if (v.kind !== 'string') return null;
  let best = '';
  for (const p of v.parts) {
    if (typeof p !== 'string') continue;
    for (const run of p.toLowerCase().split(/[\u0307\u03c3\u03c2]+/)) if (run.length > best.length) best = run;
  }
  return best;
}

/** `EventID: 4688` / `EventID: [1, 5]` → the ids; anything else → null. */
function itemEventIds(item: DetectionItem): Set<number> | null {
  if (item.field !== 'EventID' || item.neq || (item.all && item.values.length > 1)) return null;
  const ids = new Set<number>();
  for (const v of item.values) {
    if (v.kind === 'number' && Number.isInteger(v.value)) ids.add(v.value);
    else if (v.kind === 'string' && v.parts.length === 1 && typeof v.parts[0] === 'string' && /^\d+$/.test(v.parts[0])) ids.add(Number(v.parts[0]));
    else return null;
  }
  return ids;
}

/** Fields an item reads (for unknown-field warnings). */
export function itemFields(item: DetectionItem): string[] {
  const out: string[] = [];
  if (item.field !== null) out.push(item.field);
  for (const v of item.values) if (v.kind === 'fieldref') out.push(v.field);
  return out;
}

