/** The element tree → XML text as Windows/evtxexport print an event (two-space indentation, `<X/>` when empty). */
import type { XmlElement, XmlNode } from '../xmlTree.js';

export function recordToXml(node: XmlNode): string {
  const out: string[] = [];
  write(node, 0, out);
  return out.join('');
}

function write(node: XmlNode, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  switch (node.kind) {
    case 'text':
      out.push(pad, escapeText(node.text), '\n');
      return;
    case 'cdata':
      out.push(pad, cdata(node.text), '\n');
      return;
    case 'pi':
      out.push(pad, '<?', node.target, node.data ? ' ' + node.data.replace(XML_INVALID, replaceInvalid).replaceAll('?>', '? >') : '', '?>\n');
      return;
    case 'element':
      writeElement(node, depth, pad, out);
  }
}

function writeElement(el: XmlElement, depth: number, pad: string, out: string[]): void {
  let open = '<' + el.name;
  for (const a of el.attributes) open += ` ${a.name}="${escapeAttr(a.value)}"`;
  if (el.children.length === 0) {
    out.push(pad, open, '/>\n');
    return;
  }
  const onlyText = el.children.every((c) => c.kind === 'text' || c.kind === 'cdata');
  if (onlyText) {
    let body = '';
    for (const c of el.children) {
      if (c.kind === 'text') body += escapeText(c.text);
      else if (c.kind === 'cdata') body += cdata(c.text);
    }
    out.push(pad, open, '>', body, '</', el.name, '>\n');
    return;
  }
  out.push(pad, open, '>\n');
  for (const c of el.children) write(c, depth + 1, out);
  out.push(pad, '</', el.name, '>\n');
}

/**
 * Characters XML 1.0 cannot carry at all, not even as references (C0 controls other than tab/LF/CR,
 * U+FFFE/U+FFFF). Values do contain them (e.g. a 0x03 in a Security event's MinPasswordAge): they are shown as
 * the matching Unicode control picture (U+2400 + code, e.g. ␃) or U+FFFD, so the document stays well-formed.
 * JSON output keeps the exact characters.
 */
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
function replaceInvalid(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 ? String.fromCharCode(0x2400 + code) : '\ufffd';
}

const TEXT_SPECIAL = /[&<>\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const ATTR_SPECIAL = /[&<>"\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
function escapeChar(c: string): string {
  return ENTITY[c] ?? replaceInvalid(c);
}

export function escapeText(s: string): string {
  return s.replace(TEXT_SPECIAL, escapeChar);
}

export function escapeAttr(s: string): string {
  return s.replace(ATTR_SPECIAL, escapeChar);
}

function cdata(text: string): string {
  return `<![CDATA[${text.replace(XML_INVALID, replaceInvalid).replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}
