/**
 * Property test: the compiled engine (routing, literal prefilter, specialised matchers, condition parser)
 * agrees with a plain reference interpreter of the Sigma spec written here, on random rules and random
 * events (seeded, so failures reproduce). Also checks that prefilter literal sets are sound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { compileEngine } from '../../src/engine/index.js';
import type { WinEvent } from '../../src/model/event.js';
import { loadInline } from './support/rules.js';
import { sysmon } from './support/events.js';
import { rng } from '../helpers/rng.js';


const SEED = Number(process.env.PROPERTY_SEED ?? 20241129);
const random = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

const FIELDS = ['CommandLine', 'Image', 'ParentImage', 'User', 'OriginalFileName', 'ProcessId'];
const EVENT_CHARS = ['a', 'b', 'c', 'A', 'B', '-', '/', '\\', '*', '?', ' ', 'é', 'É', 'İ', 'k', 'K'];
const VALUE_CHARS = [...EVENT_CHARS, '*', '?', '\\*', '\\?', '\\\\'];
const MODIFIERS: string[][] = [[], ['contains'], ['startswith'], ['endswith'], ['contains', 'all'], ['cased'], ['contains', 'cased'], ['endswith', 'cased'], ['exists'], ['neq']];

type Value = string | number | boolean | null;
interface Item {
  field: string | null;
  mods: string[];
  values: Value[];
}
type Ident = { kind: 'map'; items: Item[] } | { kind: 'list'; maps: Item[][] } | { kind: 'keywords'; words: string[] };
type Cond = { op: 'and' | 'or'; a: Cond; b: Cond } | { op: 'not'; a: Cond } | { op: 'ref'; name: string } | { op: 'of'; q: '1' | 'all'; pattern: string };

const randString = (chars: readonly string[], max: number): string => Array.from({ length: int(0, max) }, () => pick(chars)).join('');

const REGEX_ATOMS = ['a', 'b', 'c', 'A', 'k', '.', '[ab]', '[-/]', '\\\\', 'é'];

function randRegex(): string {
  let src = random() < 0.3 ? '^' : '';
  for (let i = int(1, 3); i > 0; i--) src += pick(REGEX_ATOMS) + (random() < 0.4 ? pick(['*', '+', '?']) : '');
  return src + (random() < 0.3 ? '$' : '');
}

function randItem(): Item {
  const r = random();
  if (r < 0.12) {
    // Numbers on ProcessId: equality or a comparison.
    const mods = pick([[], ['gt'], ['gte'], ['lt'], ['lte']]);
    return { field: 'ProcessId', mods, values: [int(0, 20)] };
  }
  if (r < 0.22) return { field: pick(FIELDS.filter((f) => f !== 'ProcessId')), mods: pick([['re'], ['re', 'i']]), values: [randRegex()] };
  const mods = pick(MODIFIERS);
  if (mods[0] === 'exists') return { field: pick(FIELDS), mods, values: [random() < 0.5] };
  const n = mods.includes('all') ? int(2, 3) : int(1, 3);
  const values: Value[] = Array.from({ length: n }, () => (mods.length === 0 && random() < 0.08 ? null : randString(VALUE_CHARS, 3)));
  return { field: pick(FIELDS.filter((f) => f !== 'ProcessId')), mods, values };
}

function randIdent(): Ident {
  const r = random();
  const map = (): Item[] => {
    const items = Array.from({ length: int(1, 3) }, randItem);
    // One item per field within a map (YAML keys are unique).
    const seen = new Set<string>();
    return items.filter((i) => {
      const key = `${i.field}|${i.mods.join('|')}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  };
  if (r < 0.6) return { kind: 'map', items: map() };
  if (r < 0.85) return { kind: 'list', maps: [map(), map()] };
  return { kind: 'keywords', words: Array.from({ length: int(1, 2) }, () => randString(EVENT_CHARS.filter((c) => c !== '*' && c !== '?' && c !== '\\'), 2) || 'a') };
}

function randCond(names: string[], depth: number): Cond {
  const r = random();
  if (depth <= 0 || r < 0.3) return { op: 'ref', name: pick(names) };
  if (r < 0.4) return { op: 'of', q: pick(['1', 'all'] as const), pattern: pick(['sel*', 'sel_*', 'them', 'filter*']) };
  if (r < 0.55) return { op: 'not', a: randCond(names, depth - 1) };
  return { op: pick(['and', 'or'] as const), a: randCond(names, depth - 1), b: randCond(names, depth - 1) };
}

function render(c: Cond): string {
  switch (c.op) {
    case 'ref':
      return c.name;
    case 'of':
      return `${c.q} of ${c.pattern}`;
    case 'not':
      return `not (${render(c.a)})`;
    default:
      return `(${render(c.a)} ${c.op} ${render(c.b)})`;
  }
}

// ---- the reference interpreter ---------------------------------------------------------------------------

/** Sigma string → anchored RegExp over lowercase (or cased) text; escapes per the spec. */
const regexCache = new Map<string, RegExp>();

function toRegExp(value: string, mode: 'eq' | 'contains' | 'startswith' | 'endswith', cased: boolean): RegExp {
  const key = `${mode}\u0000${cased}\u0000${value}`;
  let re = regexCache.get(key);
  if (!re) regexCache.set(key, (re = buildRegExp(value, mode, cased)));
  return re;
}

function buildRegExp(value: string, mode: 'eq' | 'contains' | 'startswith' | 'endswith', cased: boolean): RegExp {
  let src = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length && '*?\\'.includes(value[i + 1]!)) src += escapeRe(value[++i]!);
    else if (c === '*') src += '[\\s\\S]*';
    else if (c === '?') src += '[\\s\\S]';
    else src += escapeRe(cased ? c : c.toLowerCase());
  }
  if (mode === 'contains' || mode === 'endswith') src = `[\\s\\S]*${src}`;
  if (mode === 'contains' || mode === 'startswith') src = `${src}[\\s\\S]*`;
  return new RegExp(`^${src}$`, 'u');
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Decimal or 0x-hex text as a number. */
function numberOf(v: string | number | null): number | undefined {
  if (typeof v === 'number') return v;
  if (v === null || v.trim() === '') return undefined;
  if (/^0x[0-9a-f]+$/i.test(v.trim())) return parseInt(v.trim(), 16);
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function refItem(item: Item, data: Record<string, string | number | null>): boolean {
  const v = data[item.field!];
  if (item.mods[0] === 're') {
    if (v === undefined) return false;
    const flags = item.mods.includes('i') ? 'iu' : 'u';
    const key = `re\u0000${flags}\u0000${String(item.values[0])}`;
    let re = regexCache.get(key);
    if (!re) regexCache.set(key, (re = new RegExp(String(item.values[0]), flags)));
    return re.test(v === null ? '' : String(v));
  }
  if (item.field === 'ProcessId' && typeof item.values[0] === 'number') {
    const n = item.values[0];
    if (v === undefined || v === null) return false;
    const x = numberOf(v);
    switch (item.mods[0]) {
      case 'gt':
        return x !== undefined && x > n;
      case 'gte':
        return x !== undefined && x >= n;
      case 'lt':
        return x !== undefined && x < n;
      case 'lte':
        return x !== undefined && x <= n;
      default:
        return typeof v === 'number' ? v === n : v === String(n) || x === n;
    }
  }
  if (item.mods[0] === 'exists') return (v !== undefined) === item.values[0];
  if (item.mods[0] === 'neq') {
    if (v === undefined) return false;
    return !item.values.some((x) => refValue(x, v, [], false));
  }
  const mode = (item.mods.find((m) => m === 'contains' || m === 'startswith' || m === 'endswith') ?? 'eq') as 'eq' | 'contains';
  const cased = item.mods.includes('cased');
  const test = (x: Value): boolean => {
    if (x === null) return v === undefined || v === null || v === '';
    if (v === undefined) return false;
    return refValue(x, v, [mode], cased);
  };
  return item.mods.includes('all') ? item.values.every(test) : item.values.some(test);
}

function refValue(x: Value, v: string | number | null, mods: string[], cased: boolean): boolean {
  if (x === null) return v === null || v === '';
  const text = v === null ? '' : String(v);
  const re = toRegExp(String(x), (mods[0] ?? 'eq') as 'eq', cased);
  return re.test(cased ? text : text.toLowerCase());
}

/** Every value of the event as keywords see it (Sigma: the whole event): EventData, then the System header. */
function eventValues(ev: WinEvent, data: Record<string, string | number | null>): string[] {
  const system = Object.values(ev.system).filter((v) => v !== undefined);
  return [...Object.values(data), ...system].map((v) => (v === null ? '' : String(v)).toLowerCase());
}

function refIdent(ident: Ident, data: Record<string, string | number | null>, all: string[]): boolean {
  if (ident.kind === 'map') return ident.items.every((i) => refItem(i, data));
  if (ident.kind === 'list') return ident.maps.some((m) => m.every((i) => refItem(i, data)));
  return ident.words.some((w) => all.some((v) => v.includes(w.toLowerCase())));
}

function refCond(c: Cond, idents: Map<string, Ident>, data: Record<string, string | number | null>, all: string[]): boolean {
  switch (c.op) {
    case 'ref':
      return refIdent(idents.get(c.name)!, data, all);
    case 'not':
      return !refCond(c.a, idents, data, all);
    case 'and':
      return refCond(c.a, idents, data, all) && refCond(c.b, idents, data, all);
    case 'or':
      return refCond(c.a, idents, data, all) || refCond(c.b, idents, data, all);
    case 'of': {
      const re = c.pattern === 'them' ? /.*/ : new RegExp(`^${c.pattern.replace('*', '.*')}$`);
      const names = [...idents.keys()].filter((n) => re.test(n));
      return c.q === 'all' ? names.every((n) => refIdent(idents.get(n)!, data, all)) : names.some((n) => refIdent(idents.get(n)!, data, all));
    }
  }
}

// ---- rules as YAML ---------------------------------------------------------------------------------------

function itemsToYaml(items: Item[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const i of items) out[[i.field, ...i.mods].join('|')] = i.values.length === 1 ? i.values[0] : i.values;
  return out;
}

interface RandomRule {
  id: string;
  yaml: string;
  idents: Map<string, Ident>;
  cond: Cond;
}

function randRule(index: number): RandomRule {
  const names = ['sel_a', 'sel_b', 'filter_x', 'filter', 'sel1'].slice(0, int(1, 5));
  if (!names.includes('sel_a')) names.push('sel_a');
  const idents = new Map(names.map((n) => [n, randIdent()]));
  let cond = randCond(names, 3);
  // Patterns must match at least one identifier (a load error otherwise).
  const fix = (c: Cond): Cond => {
    if (c.op === 'of') {
      const re = c.pattern === 'them' ? /.*/ : new RegExp(`^${c.pattern.replace('*', '.*')}$`);
      return names.some((n) => re.test(n)) ? c : { op: 'ref', name: names[0]! };
    }
    if (c.op === 'not') return { op: 'not', a: fix(c.a) };
    if (c.op === 'and' || c.op === 'or') return { op: c.op, a: fix(c.a), b: fix(c.b) };
    return c;
  };
  cond = fix(cond);
  const detection: Record<string, unknown> = {};
  for (const [n, ident] of idents) {
    if (ident.kind === 'map') detection[n] = itemsToYaml(ident.items);
    else if (ident.kind === 'list') detection[n] = ident.maps.map(itemsToYaml);
    else detection[n] = ident.words;
  }
  detection.condition = render(cond);
  const id = `prop-${index}`;
  const yaml = stringify({ title: `Random ${index}`, id, logsource: { product: 'windows', category: 'process_creation' }, detection });
  return { id, yaml, idents, cond };
}

function randEvent(): { ev: WinEvent; data: Record<string, string | number | null> } {
  const data: Record<string, string | number | null> = {};
  for (const f of FIELDS) {
    const r = random();
    if (r < 0.2) continue;
    if (f === 'ProcessId') {
      const n = int(0, 20);
      data[f] = r < 0.25 ? null : r < 0.5 ? n : r < 0.7 ? String(n) : r < 0.9 ? `0x${n.toString(16)}` : randString(EVENT_CHARS, 3);
      continue;
    }
    data[f] = r < 0.25 ? null : randString(EVENT_CHARS, 6);
  }
  return { ev: sysmon(1, data), data };
}

test(`compiled engine = reference interpreter on random rules and events (seed ${SEED})`, () => {
  const rules = Array.from({ length: 400 }, (_, i) => randRule(i));
  const loaded = rules.flatMap((r) => loadInline(r.yaml));
  assert.equal(loaded.length, rules.length);
  const together = compileEngine(loaded);
  const literals = loaded.map((r) => compileEngine([r]).prefilterLiterals());
  let positives = 0;
  let checked = 0;
  for (let e = 0; e < 1500; e++) {
    const { ev, data } = randEvent();
    const all = eventValues(ev, data);
    const want = rules.filter((r) => refCond(r.cond, r.idents, data, all)).map((r) => r.id);
    const got = together.match(ev).map((d) => d.rule.id);
    assert.deepEqual(got, want, `event ${JSON.stringify(data)}`);
    positives += want.length;
    checked += rules.length;
    // Each rule alone: its prefilter literals (when it has a set) must occur in every event it matches.
    for (const [i, lits] of literals.entries()) {
      if (!want.includes(rules[i]!.id)) continue;
      if (lits === null) continue;
      const text = all.join('\u0000');
      assert.ok(lits.some((l) => text.includes(l)), `prefilter of ${rules[i]!.id} is sound:\n${rules[i]!.yaml}\n${JSON.stringify(data)}`);
    }
  }
  // The property is only meaningful if both outcomes occur often.
  assert.ok(positives > checked * 0.05 && positives < checked * 0.95, `positives ${positives}/${checked}`);
});
