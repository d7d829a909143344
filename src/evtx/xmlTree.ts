/**
 * The rendered event: a plain element tree with every template instantiated and every value rendered as
 * the text Windows shows. `json` carries the typed form (number/boolean/null) for evtx_dump-style JSON.
 */
import type { JsonScalar } from './binxml/values.js';

export type { JsonScalar };

export interface XmlAttribute {
  name: string;
  value: string;
  /** Typed value when the attribute is exactly one substitution (for JSON output). */
  json?: JsonScalar;
}

export type XmlNode =
  | { kind: 'element'; name: string; attributes: XmlAttribute[]; children: XmlNode[] }
  | { kind: 'text'; text: string; json?: JsonScalar }
  | { kind: 'cdata'; text: string }
  | { kind: 'pi'; target: string; data: string };

export type XmlElement = Extract<XmlNode, { kind: 'element' }>;

/** Concatenated text content of an element's direct text/CDATA children. */
export function textOf(el: XmlElement): string {
  let s = '';
  for (const c of el.children) if (c.kind === 'text' || c.kind === 'cdata') s += c.text;
  return s;
}

export function childElement(el: XmlElement, name: string): XmlElement | undefined {
  for (const c of el.children) if (c.kind === 'element' && c.name === name) return c;
  return undefined;
}

export function attribute(el: XmlElement, name: string): string | undefined {
  for (const a of el.attributes) if (a.name === name) return a.value;
  return undefined;
}
