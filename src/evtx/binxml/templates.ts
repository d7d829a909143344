/**
 * Template instantiation: the intermediate tree of a template definition (parsed once per chunk) plus one
 * record's substitution values → the rendered element tree. Values are decoded here, on demand.
 */
import { fail } from '../bytes.js';
import type { XmlAttribute, XmlNode } from '../xmlTree.js';
import { MAX_NESTING, parseFragment, type BinXmlContext, type BxNode, type ValueRef } from './tokens.js';
import { decodeValue, VT, type DecodedValue } from './values.js';

/**
 * Most nodes one record may expand to. Templates can instantiate other templates, so a crafted chunk could
 * otherwise expand exponentially; real events have a few hundred nodes at most.
 */
export const MAX_RECORD_NODES = 50_000;

/** Counts the nodes of one record's rendering against MAX_RECORD_NODES. */
export interface Budget {
  left: number;
}

export function newBudget(): Budget {
  return { left: MAX_RECORD_NODES };
}

/** Renders `nodes` (with `values` filling their substitutions) and appends the result to `out`. */
export function instantiate(ctx: BinXmlContext, nodes: BxNode[], values: ValueRef[] | null, nesting: number, out: XmlNode[], budget: Budget): void {
  if (nesting > MAX_NESTING) fail('templates nested too deeply', 0);
  budget.left -= nodes.length;
  if (budget.left < 0) fail(`record expands to more than ${MAX_RECORD_NODES} nodes`, 0);
  for (const node of nodes) {
    switch (node.kind) {
      case 'element':
        instantiateElement(ctx, node, values, nesting, out, budget);
        break;
      // Literal nodes of a template are shared by every record that renders it (trees are read-only).
      case 'text':
      case 'cdata':
      case 'pi':
        out.push(node);
        break;
      case 'template':
        instantiate(ctx, node.def.nodes, node.values, nesting + 1, out, budget);
        break;
      case 'sub': {
        const ref = values?.[node.index];
        if (!ref) break; // a missing value renders as nothing, as Windows does for short value lists
        substitute(ctx, ref, nesting, out, budget);
        break;
      }
    }
  }
}

function instantiateElement(
  ctx: BinXmlContext,
  node: Extract<BxNode, { kind: 'element' }>,
  values: ValueRef[] | null,
  nesting: number,
  out: XmlNode[],
  budget: Budget,
): void {
  const attributes = elementAttributes(ctx, node, values);
  // An element whose whole content is one array substitution is repeated once per item (as Windows renders it).
  const only = node.children.length === 1 ? node.children[0]! : undefined;
  if (only && only.kind === 'sub' && values) {
    const ref = values[only.index];
    if (ref && ref.type & VT.ArrayFlag && (ref.type & 0x7f) !== VT.BinXml) {
      const items = decodeValue(ctx.buf, ctx.view, ref.type, ref.off, ref.size) as DecodedValue[];
      budget.left -= items.length;
      if (budget.left < 0) fail(`record expands to more than ${MAX_RECORD_NODES} nodes`, ref.off);
      for (const item of items) {
        out.push({ kind: 'element', name: node.name, attributes, children: item.text === '' ? [] : [item] });
      }
      if (items.length === 0) out.push({ kind: 'element', name: node.name, attributes, children: [] });
      return;
    }
  }
  // An element whose content is only optional substitutions that are all absent is left out, as Windows
  // and evtxexport render it (e.g. <Binary> of an event without binary data).
  if (node.children.length > 0 && allAbsentOptional(node.children, values)) return;
  const children: XmlNode[] = [];
  instantiate(ctx, node.children, values, nesting, children, budget);
  out.push({ kind: 'element', name: node.name, attributes, children });
}

/**
 * An element's rendered attributes. When every attribute is one literal text (xmlns, `<Data Name="X">`, or no
 * attributes at all) the rendering is the same for every record: made once per template and shared.
 */
export function elementAttributes(ctx: BinXmlContext, node: Extract<BxNode, { kind: 'element' }>, values: ValueRef[] | null): XmlAttribute[] {
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

function allAbsentOptional(children: BxNode[], values: ValueRef[] | null): boolean {
  for (const c of children) if (c.kind !== 'sub' || !c.optional || !isAbsent(values?.[c.index])) return false;
  return true;
}

/** NULL (type 0) marks an optional value that is not there; an empty string is a value. */
function isAbsent(ref: ValueRef | undefined): boolean {
  return !ref || ref.type === VT.Null;
}

/** An attribute's value; null when it is made only of substitutions that are absent (Null): Windows drops those. */
function renderAttribute(ctx: BinXmlContext, name: string, parts: BxNode[], values: ValueRef[] | null): XmlAttribute | null {
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

/** A substitution value in text position; nested BinXml (0x21) is parsed and instantiated in place. */
function substitute(ctx: BinXmlContext, ref: ValueRef, nesting: number, out: XmlNode[], budget: Budget): void {
  if (ref.type === VT.Null || ref.size === 0) return;
  if ((ref.type & 0x7f) === VT.BinXml) {
    if (ref.off + ref.size > ctx.buf.length) fail('nested BinXml value overruns the chunk', ref.off);
    const nodes = parseFragment(ctx, ref.off, ref.off + ref.size, false, nesting + 1);
    instantiate(ctx, nodes, null, nesting + 1, out, budget);
    return;
  }
  const d = decodeFlat(ctx, ref);
  if (d.text === '') return; // an empty string renders as an empty element, not as empty text
  out.push(d);
}

/** A value as one scalar: arrays outside a lone-element position are joined with commas. */
export function decodeFlat(ctx: BinXmlContext, ref: ValueRef): DecodedValue {
  if ((ref.type & 0x7f) === VT.BinXml) return { kind: 'text', text: '', json: null };
  const d = decodeValue(ctx.buf, ctx.view, ref.type, ref.off, ref.size);
  if (!Array.isArray(d)) return d;
  const text = d.map((x) => x.text).join(',');
  return { kind: 'text', text, json: text };
}
