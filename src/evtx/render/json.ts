/**
 * The element tree → the JSON shape of the Rust crate's `evtx_dump -o json/jsonl`:
 * `{"Event":{"#attributes":{...},"System":{...},"EventData":{...}}}` with typed values.
 *
 * - an element without attributes and without child elements is its value (null when empty);
 * - attributes go under "#attributes", text beside them under "#text";
 * - `<Data Name="X">v</Data>` becomes `"X": v`;
 * - repeated elements with scalar content collect into `{"#text": [..]}`, other repeats get `_1`, `_2`... suffixes.
 */
import type { JsonScalar, XmlElement, XmlNode } from '../xmlTree.js';

type Json = JsonScalar | Json[] | { [key: string]: Json };

export function recordToJson(node: XmlNode): Record<string, Json> {
  if (node.kind !== 'element') return {};
  return { [node.name]: elementToJson(node) };
}

function textValue(el: XmlElement): JsonScalar {
  let text: string | null = null;
  let typed: JsonScalar | undefined;
  let parts = 0;
  for (const c of el.children) {
    if (c.kind === 'text' || c.kind === 'cdata') {
      text = (text ?? '') + c.text;
      typed = c.kind === 'text' ? c.json : undefined;
      parts++;
    }
  }
  if (text === null) return null;
  return parts === 1 && typed !== undefined ? typed : text;
}

function attributesJson(el: XmlElement): Record<string, Json> {
  const o: Record<string, Json> = {};
  for (const a of el.attributes) o[a.name] = a.json !== undefined ? a.json : a.value;
  return o;
}

function elementToJson(el: XmlElement): Json {
  const children = el.children.filter((c): c is XmlElement => c.kind === 'element');
  const value = textValue(el);
  if (children.length === 0) {
    if (el.attributes.length === 0) return value;
    const o: Record<string, Json> = { '#attributes': attributesJson(el) };
    if (value !== null) o['#text'] = value;
    return o;
  }
  const o: Record<string, Json> = {};
  if (el.attributes.length > 0) o['#attributes'] = attributesJson(el);
  const groups = new Map<string, Json[]>();
  const order: string[] = [];
  for (const child of children) {
    let key = child.name;
    let v: Json;
    const dataName = child.name === 'Data' ? child.attributes.find((a) => a.name === 'Name') : undefined;
    if (dataName) {
      key = dataName.value;
      v = textValue(child);
    } else {
      v = elementToJson(child);
    }
    const group = groups.get(key);
    if (group) group.push(v);
    else {
      groups.set(key, [v]);
      order.push(key);
    }
  }
  for (const key of order) {
    const group = groups.get(key)!;
    if (group.length === 1) o[key] = group[0]!;
    else if (group.every(isScalar)) o[key] = { '#text': group };
    else group.forEach((v, i) => (o[i === 0 ? key : `${key}_${i}`] = v));
  }
  if (value !== null && value !== '' && !(typeof value === 'string' && value.trim() === '')) o['#text'] = value;
  return o;
}

function isScalar(v: Json): v is JsonScalar {
  return v === null || typeof v !== 'object';
}


/**
 * Same document as `JSON.stringify(recordToJson(node))`, written straight from the tree (no intermediate
 * objects: the dump's hot path). Keys keep document order, also for names that look like numbers.
 */
export function recordToJsonString(node: XmlNode): string {
  if (node.kind !== 'element') return '{}';
  return `{${JSON.stringify(node.name)}:${elementToJsonString(node)}}`;
}

export function scalarString(v: JsonScalar): string {
  if (typeof v === 'string') return quoteString(v);
  if (v === null) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null'; // as JSON.stringify does
  return v ? 'true' : 'false';
}

/** JSON string literal; short strings with nothing to escape (the common case) skip JSON.stringify. */
function quoteString(s: string): string {
  const n = s.length;
  if (n > 96) return JSON.stringify(s);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
  }
  return '"' + s + '"';
}

/** Quoted keys: element and attribute names repeat in every record, so their JSON form is cached. */
const quotedKeys = new Map<string, string>();
export function quoteKey(k: string): string {
  let q = quotedKeys.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedKeys.size < 10000) quotedKeys.set(k, q);
  }
  return q;
}

function attributesString(el: XmlElement): string {
  let s = '{';
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes[i]!;
    if (i > 0) s += ',';
    s += quoteKey(a.name) + ':' + scalarString(a.json !== undefined ? a.json : a.value);
  }
  return s + '}';
}

function dataNameOf(child: XmlElement): string | undefined {
  if (child.name !== 'Data') return undefined;
  for (const a of child.attributes) if (a.name === 'Name') return a.value;
  return undefined;
}

function elementToJsonString(el: XmlElement): string {
  let childCount = 0;
  for (const c of el.children) if (c.kind === 'element') childCount++;
  const value = textValue(el);
  if (childCount === 0) {
    if (el.attributes.length === 0) return scalarString(value);
    return `{"#attributes":${attributesString(el)}${value !== null ? `,"#text":${scalarString(value)}` : ''}}`;
  }
  const keys: string[] = [];
  const jsons: string[] = [];
  let duplicate = false;
  let s = '{';
  let first = true;
  if (el.attributes.length > 0) {
    s += '"#attributes":' + attributesString(el);
    first = false;
  }
  const afterAttributes = s;
  for (const child of el.children) {
    if (child.kind !== 'element') continue;
    const dataName = dataNameOf(child);
    const key = dataName !== undefined ? dataName : child.name;
    const json = dataName !== undefined ? scalarString(textValue(child)) : elementToJsonString(child);
    if (!duplicate) for (let j = 0; j < keys.length; j++) if (keys[j] === key) duplicate = true;
    keys.push(key);
    jsons.push(json);
    s += (first ? '' : ',') + quoteKey(key) + ':' + json;
    first = false;
  }
  if (duplicate) {
    // Repeated names (rare): scalar repeats collect into {"#text":[...]}, others get _1, _2 suffixes.
    s = afterAttributes;
    first = el.attributes.length === 0;
    const groups = new Map<string, number[]>();
    for (let i = 0; i < keys.length; i++) {
      const g = groups.get(keys[i]!);
      if (g) g.push(i);
      else groups.set(keys[i]!, [i]);
    }
    const isScalarJson = (json: string): boolean => json.charCodeAt(0) !== 0x7b && json.charCodeAt(0) !== 0x5b;
    for (const [key, idx] of groups) {
      let part: string;
      if (idx.length === 1) part = quoteKey(key) + ':' + jsons[idx[0]!]!;
      else if (idx.every((i) => isScalarJson(jsons[i]!))) part = `${quoteKey(key)}:{"#text":[${idx.map((i) => jsons[i]!).join(',')}]}`;
      else part = idx.map((i, n) => `${JSON.stringify(n === 0 ? key : `${key}_${n}`)}:${jsons[i]!}`).join(',');
      s += (first ? '' : ',') + part;
      first = false;
    }
  }
  if (value !== null && value !== '' && !(typeof value === 'string' && value.trim() === '')) s += (first ? '' : ',') + '"#text":' + scalarString(value);
  return s + '}';
}
