/**
 * A record's provider name and EventID text read without rendering the record: from its template's System
 * element (located once per template and chunk) and at most a few substitution values.
 *
 * The answer is exactly what the rendered tree gives (the first System element of the root, its first Provider's
 * first present Name — else EventSourceName — attribute, its first EventID element's text), or null when the
 * template's shape leaves any doubt (values that could add or remove elements before them, nested markup,
 * multi-part values, arrays): the caller then renders the record.
 */
import { fail } from './bytes.js';
import type { AttributeNode, BinXmlContext, BxNode, ElementNode, TemplateDef, ValueRef } from './binxml/tokens.js';
import { decodeValue, VT, type DecodedValue } from './binxml/values.js';
import { instanceAt, valueAt } from './binxml/instance.js';
import { countFallback } from './fallback.js';
import { isAbsent } from './binxml/walker.js';
import { ChunkRecord } from './record.js';
import type { EvtxRecord } from './record.js';

export interface SystemKey {
  /** Provider Name (or EventSourceName); '' when the record has none. */
  provider: string;
  /** Text of the EventID element; undefined when there is none. */
  eventIdText: string | undefined;
}

interface Locator {
  provider: ElementNode | undefined;
  eventId: ElementNode | undefined;
}

/** Per template definition (so per chunk): where System's Provider and EventID are, or null when not static. */
const locators = new WeakMap<TemplateDef, Locator | null>();

/** The first element named `name` among `nodes`, when nothing before it could put another one in front. */
function firstStatic(nodes: BxNode[], name: string): { found: ElementNode | undefined } | null {
  for (const n of nodes) {
    if (n.kind === 'element') {
      if (n.name === name) return { found: n };
    } else if (n.kind === 'sub' || n.kind === 'template') return null;
  }
  return { found: undefined };
}

function locate(def: TemplateDef): Locator | null {
  if (def.nodes.length !== 1) return null;
  const root = def.nodes[0]!;
  if (root.kind !== 'element') return null;
  const sys = firstStatic(root.children, 'System');
  // System must be there and never left out or repeated: it has an element child.
  if (!sys || !sys.found || !sys.found.children.some((c) => c.kind === 'element')) return null;
  const provider = firstStatic(sys.found.children, 'Provider');
  const eventId = firstStatic(sys.found.children, 'EventID');
  if (!provider || !eventId) return null;
  // A Provider with content could be left out (absent optional values) or repeated (arrays).
  if (provider.found && provider.found.children.length > 0) return null;
  return { provider: provider.found, eventId: eventId.found };
}

/**
 * Provider and EventID text of a record, or null when they cannot be read without rendering it.
 * Throws EvtxFormatError when a value it reads is damaged (as rendering would).
 */
export function recordSystemKey(record: EvtxRecord): SystemKey | null {
  const key = readKey(record);
  // The caller renders the record instead: counted, so that a template shape this misses shows up.
  if (key === null) countFallback('key.shape');
  return key;
}

function readKey(record: EvtxRecord): SystemKey | null {
  if (!(record instanceof ChunkRecord)) return null;
  const { ctx, start, end } = record.raw();
  // The common record straight off its bytes (no token tree); other shapes through the parsed tokens.
  const inst = instanceAt(ctx, start, end, 0);
  if (inst) return keyOf(ctx, inst.def, (i) => valueAt(ctx, inst, i));
  const nodes = record.tokens();
  if (nodes.length !== 1) return null;
  const top = nodes[0]!;
  if (top.kind !== 'template') return null;
  return keyOf(ctx, top.def, (i) => top.values[i]);
}

/** A substitution value by index (undefined: none). */
type Values = (index: number) => ValueRef | undefined;

function keyOf(ctx: BinXmlContext, def: TemplateDef, values: Values): SystemKey | null {
  let loc = locators.get(def);
  if (loc === undefined) {
    loc = locate(def);
    locators.set(def, loc);
  }
  if (!loc) return null;
  const provider = loc.provider ? providerName(ctx, loc.provider, values) : '';
  if (provider === null) return null;
  const eventIdText = loc.eventId ? elementText(ctx, loc.eventId, values) : undefined;
  if (eventIdText === null) return null;
  return { provider, eventIdText };
}

function providerName(ctx: BinXmlContext, el: ElementNode, values: Values): string | null {
  for (const name of ['Name', 'EventSourceName']) {
    for (const a of el.attributes) {
      if (a.name !== name) continue;
      const v = attributeText(ctx, a, values);
      if (v === null) return null;
      if (v !== undefined) return v;
    }
  }
  return '';
}

/** Rendered attribute text; undefined when the attribute is dropped (absent value), null when not simple. */
function attributeText(ctx: BinXmlContext, a: AttributeNode, values: Values): string | undefined | null {
  if (a.parts.length === 0) return '';
  if (a.parts.length > 1) return null;
  const p = a.parts[0]!;
  if (p.kind === 'text') return p.text;
  if (p.kind !== 'sub') return null;
  const ref = values(p.index);
  if (!ref || ref.type === VT.Null) return undefined;
  return flatText(ctx, ref);
}

/** A value as one text: arrays joined with ',', nested markup as '' (as attribute values render). */
function flatText(ctx: BinXmlContext, ref: ValueRef): string {
  if ((ref.type & 0x7f) === VT.BinXml) return '';
  const d = decodeValue(ctx.buf, ctx.view, ref.type, ref.off, ref.size);
  return Array.isArray(d) ? d.map((x) => x.text).join(',') : (d as DecodedValue).text;
}

/**
 * Text content of an element as textOf() of the rendered tree gives it; null when the element could be left
 * out or repeated, or its content holds markup or template instances.
 */
function elementText(ctx: BinXmlContext, el: ElementNode, values: Values): string | null {
  const kids = el.children;
  if (kids.length > 0 && kids.every((c) => c.kind === 'sub' && c.optional && isAbsent(values(c.index)))) return null;
  let text = '';
  for (const c of kids) {
    if (c.kind === 'text' || c.kind === 'cdata') text += c.text;
    else if (c.kind === 'sub') {
      const ref = values(c.index);
      if (!ref || ref.type === VT.Null || ref.size === 0) continue;
      if (ref.type & VT.ArrayFlag) return null; // a lone array repeats the element
      if ((ref.type & 0x7f) === VT.BinXml) return null;
      if (ref.off + ref.size > ctx.buf.length) fail('value overruns the chunk', ref.off);
      text += flatText(ctx, ref);
    } else if (c.kind === 'template') return null;
  }
  return text;
}

