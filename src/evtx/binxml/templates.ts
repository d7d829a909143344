/**
 * The tree sink of the walker: a record's template instance rendered to the element tree (XmlNode). Values are
 * decoded here, on demand, as the walker hands them over.
 */
import type { XmlAttribute, XmlNode } from '../xmlTree.js';
import type { BxNode, CDataNode, ElementNode, PINode, TextNode, ValueRef } from './tokens.js';
import type { DecodedValue } from './values.js';
import { decodeFlat, walkNodes, type Walk, type WalkSink } from './walker.js';

/** Appends what it is handed to `out`; an element's children go to a fresh list while they are walked. */
class TreeSink implements WalkSink {
  constructor(public out: XmlNode[]) {}

  element(w: Walk, el: ElementNode, values: ValueRef[] | null, nesting: number, attributes: XmlAttribute[], item: DecodedValue | null): void {
    if (item !== null) {
      this.out.push({ kind: 'element', name: el.name, attributes, children: item.text === '' ? [] : [item] });
      return;
    }
    const parent = this.out;
    const children: XmlNode[] = [];
    this.out = children;
    walkNodes(w, el.children, values, nesting, this);
    this.out = parent;
    parent.push({ kind: 'element', name: el.name, attributes, children });
  }

  /** Literal nodes of a template are shared by every record that renders it (trees are read-only). */
  literal(node: TextNode | CDataNode | PINode): void {
    this.out.push(node);
  }

  value(w: Walk, ref: ValueRef): void {
    const d = decodeFlat(w.ctx, ref);
    if (d.text !== '') this.out.push(d); // an empty string renders as an empty element, not as empty text
  }
}

/** Renders `nodes` (with `values` filling their substitutions) and appends the result to `out`. */
export function instantiate(w: Walk, nodes: BxNode[], values: ValueRef[] | null, nesting: number, out: XmlNode[]): void {
  walkNodes(w, nodes, values, nesting, new TreeSink(out));
}
