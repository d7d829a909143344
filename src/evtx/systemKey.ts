/**
 * A record's provider name and EventID text read without rendering the record: a key sink of the walker.
 *
 * Where System's Provider and EventID are in a template is worked out once per template and chunk (the locator,
 * a cache); their content is then rendered by the walker itself (binxml/walker.ts: renderAttribute for the
 * Provider's Name, walkElement with a text sink for EventID), so the key is the rendered tree's by construction
 * (the first System element of the root, its first Provider's first present Name — else EventSourceName —
 * attribute, its first EventID element's text). When the template's shape leaves any doubt (values that could add
 * or remove elements before them, an EventID left out, repeated or holding markup) or the walk meets damage, the
 * key gives up, counted ('key.shape', 'key.damaged'), and the caller renders the record, which reports the damage.
 */
import type { BinXmlContext, BxNode, CDataNode, ElementNode, PINode, TemplateDef, TextNode, ValueRef } from './binxml/tokens.js';
import { instanceAt, valuesOf } from './binxml/instance.js';
import { countFallback, giveUpKind, NOT_COVERED } from './fallback.js';
import { decodeFlat, newWalk, renderAttribute, walkElement, walkNodes, type Walk, type WalkSink } from './binxml/walker.js';
import type { DecodedValue } from './binxml/values.js';
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

/** Provider and EventID text of a record, or null (counted) when they cannot be read without rendering it. */
export function recordSystemKey(record: EvtxRecord): SystemKey | null {
  try {
    const key = readKey(record);
    // The caller renders the record instead: counted, so that a template shape this misses shows up.
    if (key === null) countFallback('key.shape');
    return key;
  } catch (err) {
    countFallback(giveUpKind(err) === 'damaged' ? 'key.damaged' : 'key.shape');
    return null;
  }
}

function readKey(record: EvtxRecord): SystemKey | null {
  if (!(record instanceof ChunkRecord)) return null;
  const { ctx, start, end } = record.raw();
  // The common record straight off its bytes (no token tree); other shapes through the parsed tokens.
  const inst = instanceAt(ctx, start, end, 0);
  if (inst) return keyOf(ctx, inst.def, valuesOf(ctx, inst));
  const nodes = record.tokens();
  if (nodes.length !== 1) return null;
  const top = nodes[0]!;
  if (top.kind !== 'template') return null;
  return keyOf(ctx, top.def, top.values);
}

function keyOf(ctx: BinXmlContext, def: TemplateDef, values: ValueRef[]): SystemKey | null {
  let loc = locators.get(def);
  if (loc === undefined) {
    loc = locate(def);
    locators.set(def, loc);
  }
  if (!loc) return null;
  const provider = loc.provider ? providerName(ctx, loc.provider, values) : '';
  // The template's nodes are one level in (the record is an instance of it), as the walk of the record has them.
  const eventIdText = loc.eventId ? elementText(newWalk(ctx), loc.eventId, values, 1) : undefined;
  if (eventIdText === null) return null;
  return { provider, eventIdText };
}

/** The Provider's first present Name attribute, else EventSourceName, as the walker renders attributes. */
function providerName(ctx: BinXmlContext, el: ElementNode, values: ValueRef[]): string {
  for (const name of ['Name', 'EventSourceName']) {
    for (const a of el.attributes) {
      if (a.name !== name) continue;
      const rendered = renderAttribute(ctx, a.name, a.parts, values);
      if (rendered) return rendered.value;
    }
  }
  return '';
}

/** Collects an element's direct text as textOf() of the rendered tree reads it; markup inside: not covered. */
class TextSink implements WalkSink {
  text = '';
  element(): void {
    throw NOT_COVERED;
  }
  literal(node: TextNode | CDataNode | PINode): void {
    if (node.kind !== 'pi') this.text += node.text;
  }
  value(w: Walk, ref: ValueRef): void {
    this.text += decodeFlat(w.ctx, ref).text;
  }
}

/** Takes the one rendering of an element and walks its content into a TextSink; repeated: not covered. */
class ElementTextSink implements WalkSink {
  text: string | null = null;
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, _attrs: unknown, item: DecodedValue | null): void {
    if (item !== null || this.text !== null) throw NOT_COVERED; // the element repeats (a lone array)
    const sink = new TextSink();
    walkNodes(w, el.children, values, nesting, sink);
    this.text = sink.text;
  }
  literal(): void {
    throw NOT_COVERED;
  }
  value(): void {
    throw NOT_COVERED;
  }
}

/** The text of an element as the walker renders it; null when it is left out (then the record is rendered). */
function elementText(w: Walk, el: ElementNode, values: ValueRef[], nesting: number): string | null {
  const sink = new ElementTextSink();
  walkElement(w, el, values, nesting, sink);
  return sink.text;
}
