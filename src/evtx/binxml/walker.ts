/**
 * The one EVTX template walker: a template's intermediate tree (parsed once per chunk) plus one record's
 * substitution values, expanded in document order as Windows renders them, handing what it renders to a sink.
 *
 * Rendering rules live here and nowhere else: templates instantiated in place, substitutions decoded (through
 * values.ts, the one value renderer), nested BinXml parsed and expanded, an element whose lone content is an
 * array repeated once per item, an element whose content is only absent optional values left out, attributes
 * made only of absent values dropped, and the limits (node budget, nesting). Sinks decide what to keep: the
 * element tree (templates.ts), an event's fields (fields.ts), ... A sink walks an element's children itself
 * (`walkNodes`) when it wants them, with itself or another sink; a sink that keeps nothing still walks them
 * (IGNORE), so damage is found wherever rendering would find it.
 */
import { fail } from '../bytes.js';
import type { XmlAttribute } from '../xmlTree.js';
import { MAX_NESTING, parseFragment, type BinXmlContext, type BxNode, type CDataNode, type ElementNode, type PINode, type TextNode, type ValueRef } from './tokens.js';
import { decodeValue, VT, type DecodedValue } from './values.js';

/**
 * Most nodes one record may expand to. Templates can instantiate other templates, so a crafted chunk could
 * otherwise expand exponentially; real events have a few hundred nodes at most.
 */
export const MAX_RECORD_NODES = 50_000;

/** One record's walk: its chunk and the nodes it may still expand to. */
export interface Walk {
  ctx: BinXmlContext;
  budget: number;
}

export function newWalk(ctx: BinXmlContext): Walk {
  return { ctx, budget: MAX_RECORD_NODES };
}

/** What a walk hands over at one level of the rendered document. */
export interface WalkSink {
  /**
   * An element as rendered, with its attributes. `item`: the array item a repeated element holds (its whole
   * content); null: its content is `el.children` with `values`, walked by the sink if it wants them.
   */
  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attrs: XmlAttribute[], item: DecodedValue | null): void;
  /** A literal node of the template (shared by every record: read-only). */
  literal(node: TextNode | CDataNode | PINode): void;
  /** A present substitution value in text position (not NULL, not empty, not BinXml): the sink decodes it. */
  value(w: Walk, ref: ValueRef): void;
  /**
   * The sink reads elements' attributes itself, straight from the template and values (the JSON byte writer):
   * the walker hands it NO_ATTRIBUTES instead of rendering them. An element left out still has its attributes
   * rendered (decoded), as the tree's rendering decodes them, so damage there is found all the same.
   */
  readonly readsAttributes?: true;
}

/** What a sink that reads attributes itself is handed in place of the rendered ones. */
export const NO_ATTRIBUTES: XmlAttribute[] = Object.freeze([]) as unknown as XmlAttribute[];

/** Counts `n` nodes against the record's budget. */
export function spend(w: Walk, n: number, offset = 0): void {
  w.budget -= n;
  if (w.budget < 0) fail(`record expands to more than ${MAX_RECORD_NODES} nodes`, offset);
}

/** Renders `nodes` (with `values` filling their substitutions) at one level, handing each to `sink`. */
export function walkNodes(w: Walk, nodes: BxNode[], values: ValueRef[] | null, nesting: number, sink: WalkSink): void {
  if (nesting > MAX_NESTING) fail('templates nested too deeply', 0);
  spend(w, nodes.length);
  for (const node of nodes) {
    switch (node.kind) {
      case 'element':
        walkElement(w, node, values, nesting, sink);
        break;
      case 'text':
      case 'cdata':
      case 'pi':
        sink.literal(node);
        break;
      case 'template':
        walkNodes(w, node.def.nodes, node.values, nesting + 1, sink);
        break;
      case 'sub': {
        const ref = values?.[node.index];
        // A missing value renders as nothing, as Windows does for short value lists; so do NULL and empty ones.
        if (!ref || ref.type === VT.Null || ref.size === 0) break;
        if ((ref.type & 0x7f) === VT.BinXml) {
          if (ref.off + ref.size > w.ctx.buf.length) fail('nested BinXml value overruns the chunk', ref.off);
          const inner = parseFragment(w.ctx, ref.off, ref.off + ref.size, false, nesting + 1);
          walkNodes(w, inner, null, nesting + 1, sink);
          break;
        }
        sink.value(w, ref);
        break;
      }
    }
  }
}

/** One element: repeated per array item, left out, or handed over once. */
export function walkElement(w: Walk, node: ElementNode, values: ValueRef[] | null, nesting: number, sink: WalkSink): void {
  const attrs = sink.readsAttributes ? NO_ATTRIBUTES : elementAttributes(w.ctx, node, values);
  const kids = node.children;
  // An element whose whole content is one array substitution is repeated once per item (as Windows renders it).
  if (kids.length === 1 && values) {
    const only = kids[0]!;
    const ref = only.kind === 'sub' ? values[only.index] : undefined;
    if (ref && ref.type & VT.ArrayFlag && (ref.type & 0x7f) !== VT.BinXml) {
      const items = decodeValue(w.ctx.buf, w.ctx.view, ref.type, ref.off, ref.size) as DecodedValue[];
      spend(w, items.length, ref.off);
      for (const item of items) sink.element(w, node, values, nesting, attrs, item);
      if (items.length === 0) sink.element(w, node, values, nesting, attrs, EMPTY_ITEM);
      return;
    }
  }
  // An element whose content is only optional substitutions that are all absent is left out, as Windows
  // and evtxexport render it (e.g. <Binary> of an event without binary data).
  if (kids.length > 0 && allAbsentOptional(kids, values)) {
    if (attrs === NO_ATTRIBUTES) elementAttributes(w.ctx, node, values); // decoded as rendering decodes them
    return;
  }
  sink.element(w, node, values, nesting, attrs, null);
}

/** Where a record's one root element is: its template's values and nesting. */
export interface RecordRoot {
  root: ElementNode;
  values: ValueRef[] | null;
  nesting: number;
}

/**
 * The root element of a record that is exactly one element, or one template instance of one element (what
 * Windows writes), with the nodes spent as the walk spends them; null for any other shape.
 */
export function recordRoot(w: Walk, nodes: BxNode[]): RecordRoot | null {
  if (nodes.length !== 1) return null;
  spend(w, 1);
  const first = nodes[0]!;
  if (first.kind === 'element') return { root: first, values: null, nesting: 0 };
  if (first.kind !== 'template') return null;
  spend(w, first.def.nodes.length);
  const inner = first.def.nodes.length === 1 ? first.def.nodes[0]! : undefined;
  return inner?.kind === 'element' ? { root: inner, values: first.values, nesting: 1 } : null;
}

/** The item of an empty array: the element once, empty. */
export const EMPTY_ITEM: DecodedValue = Object.freeze({ kind: 'text', text: '', json: null });

export function allAbsentOptional(children: BxNode[], values: ValueRef[] | null): boolean {
  for (const c of children) if (c.kind !== 'sub' || !c.optional || !isAbsent(values?.[c.index])) return false;
  return true;
}

/** NULL (type 0) marks an optional value that is not there; an empty string is a value. */
export function isAbsent(ref: ValueRef | undefined): boolean {
  return !ref || ref.type === VT.Null;
}

/** A sink that keeps nothing: what is rendered there is only decoded (so damage is found as rendering finds it). */
export const IGNORE: WalkSink = {
  element(w, el, values, nesting, _attrs, item) {
    if (item === null) walkNodes(w, el.children, values, nesting, IGNORE);
  },
  literal() {},
  value(w, ref) {
    decodeFlat(w.ctx, ref);
  },
};

/**
 * An element's rendered attributes. When every attribute is one literal text (xmlns, `<Data Name="X">`, or no
 * attributes at all) the rendering is the same for every record: made once per template and shared.
 */
export function elementAttributes(ctx: BinXmlContext, node: ElementNode, values: ValueRef[] | null): XmlAttribute[] {
  const cached = node.literalAttributes as XmlAttribute[] | null | undefined;
  if (cached) return cached;
  if (cached === undefined) {
    if (node.attributes.every((a) => a.parts.length === 1 && a.parts[0]!.kind === 'text')) {
      const fixed = node.attributes.map((a) => renderAttribute(ctx, a.name, a.parts, null)!);
      node.literalAttributes = fixed;
      return fixed;
    }
    node.literalAttributes = null;
  }
  const attributes: XmlAttribute[] = [];
  for (const a of node.attributes) {
    const rendered = renderAttribute(ctx, a.name, a.parts, values);
    if (rendered) attributes.push(rendered);
  }
  return attributes;
}

/** An attribute's value; null when it is made only of substitutions that are absent (Null): Windows drops those. */
export function renderAttribute(ctx: BinXmlContext, name: string, parts: BxNode[], values: ValueRef[] | null): XmlAttribute | null {
  if (parts.length === 1) {
    const p = parts[0]!;
    if (p.kind === 'text') return p.json === undefined ? { name, value: p.text } : { name, value: p.text, json: p.json };
    if (p.kind === 'sub') {
      const ref = values?.[p.index];
      if (!ref || isAbsent(ref)) return null;
      const d = decodeFlat(ctx, ref);
      return { name, value: d.text, json: d.json };
    }
  }
  let value = '';
  let present = parts.length === 0;
  for (const p of parts) {
    if (p.kind === 'text' || p.kind === 'cdata') {
      value += p.text;
      present = true;
    } else if (p.kind === 'sub') {
      const ref = values?.[p.index];
      if (!ref || isAbsent(ref)) continue;
      value += decodeFlat(ctx, ref).text;
      present = true;
    }
  }
  return present ? { name, value } : null;
}

/** A value as one scalar: arrays outside a lone-element position are joined with commas; nested BinXml is ''. */
export function decodeFlat(ctx: BinXmlContext, ref: ValueRef): DecodedValue {
  if ((ref.type & 0x7f) === VT.BinXml) return { kind: 'text', text: '', json: null };
  const d = decodeValue(ctx.buf, ctx.view, ref.type, ref.off, ref.size);
  if (!Array.isArray(d)) return d;
  const text = d.map((x) => x.text).join(',');
  return { kind: 'text', text, json: text };
}
