/**
 * Reduces a rendered event (our XmlNode tree, or evtxexport's XML parsed into the same shape) to what the
 * differential test compares: the System fields (every element text and attribute under <System>) and the
 * EventData (name, value) pairs in document order. Values are normalised for the known formatting
 * differences between renderers, and nothing else: GUID braces/case, hex padding/case, digits below the
 * microsecond in ISO timestamps.
 */
import type { XmlNode } from '../../../src/evtx/index.js';

type ElementNode = Extract<XmlNode, { kind: 'element' }>;

export interface FlatEvent {
  /** [path, value]: 'EventID', 'Provider/@Name', 'TimeCreated/@SystemTime', ... */
  system: [string, string][];
  /** [Name attribute (or '#<element>' for non-Data children), value] in order. */
  eventData: [string, string][];
  hasEventData: boolean;
}

const GUID = /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/;
const HEX = /^0x([0-9a-fA-F]+)$/;
const ISO_TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/;

export function normaliseValue(v: string): string {
  let m = GUID.exec(v);
  if (m) return m[1]!.toUpperCase();
  m = HEX.exec(v);
  if (m) return `0x${m[1]!.replace(/^0+(?=.)/, '').toLowerCase()}`;
  m = ISO_TIME.exec(v);
  if (m) return `${m[1]}.${(m[2] ?? '').padEnd(6, '0').slice(0, 6)}Z`;
  return v;
}

function localName(name: string): string {
  const i = name.indexOf(':');
  return i >= 0 ? name.slice(i + 1) : name;
}

function elementChildren(e: ElementNode): ElementNode[] {
  return e.children.filter((c): c is ElementNode => c.kind === 'element');
}

/** Text of a leaf element as written; for an element with element children, its non-blank text pieces. */
function elementValue(e: ElementNode): string {
  if (elementChildren(e).length === 0) {
    return e.children.map((c) => (c.kind === 'text' || c.kind === 'cdata' ? c.text : '')).join('');
  }
  const parts: string[] = [];
  const walk = (n: XmlNode): void => {
    if (n.kind === 'element') n.children.forEach(walk);
    else if ((n.kind === 'text' || n.kind === 'cdata') && n.text.trim() !== '') parts.push(n.text.trim());
  };
  walk(e);
  return parts.join('|');
}

/** The <Event> element of a record root (some roots carry processing instructions before it). */
export function findEvent(root: XmlNode): ElementNode | undefined {
  if (root.kind !== 'element') return undefined;
  if (localName(root.name) === 'Event') return root;
  for (const c of elementChildren(root)) {
    const hit = findEvent(c);
    if (hit) return hit;
  }
  return undefined;
}

export function flattenEvent(root: XmlNode): FlatEvent {
  const event = findEvent(root);
  const out: FlatEvent = { system: [], eventData: [], hasEventData: false };
  if (!event) return out;
  const system = elementChildren(event).find((c) => localName(c.name) === 'System');
  if (system) {
    const walk = (e: ElementNode, path: string): void => {
      for (const a of e.attributes) out.system.push([`${path}/@${a.name}`, normaliseValue(a.value)]);
      const kids = elementChildren(e);
      if (kids.length === 0) {
        const v = elementValue(e);
        if (v !== '') out.system.push([path, normaliseValue(v)]);
      }
      for (const k of kids) walk(k, `${path}/${localName(k.name)}`);
    };
    for (const k of elementChildren(system)) walk(k, localName(k.name));
  }
  const eventData = elementChildren(event).find((c) => localName(c.name) === 'EventData');
  if (eventData) {
    out.hasEventData = true;
    for (const d of elementChildren(eventData)) {
      const key = localName(d.name) === 'Data' ? (d.attributes.find((a) => a.name === 'Name')?.value ?? '') : `#${localName(d.name)}`;
      out.eventData.push([key, normaliseValue(elementValue(d))]);
    }
  }
  return out;
}

export function systemValue(flat: FlatEvent, path: string): string | undefined {
  return flat.system.find(([k]) => k === path)?.[1];
}

/**
 * Known defect of the reference, not a formatting choice we normalise: libevtx prints a string value that is
 * exactly "\n" as an empty element (checked with our writer: "\n" → <Data/>, while " ", "\t", "\r\n", "x\n"
 * are printed as they are; python-evtx reads "\n" like we do — evtx-crate/Application_no_crc32.evtx, ExtraInfo
 * of EventRecordID 441). Only that exact pair is accepted.
 */
function evtxexportDroppedLoneNewline(expected: string, got: string): boolean {
  return expected === '' && got === '\n';
}

export interface FieldDiff {
  field: string;
  expected: string | undefined;
  got: string | undefined;
}

/** Differences between evtxexport's view (expected) and ours (got); empty when they agree. */
export function diffEvents(expected: FlatEvent, got: FlatEvent): FieldDiff[] {
  const diffs: FieldDiff[] = [];
  const sysKeys = new Set([...expected.system.map(([k]) => k), ...got.system.map(([k]) => k)]);
  for (const k of sysKeys) {
    const e = expected.system.filter(([x]) => x === k).map(([, v]) => v).join('\u241e');
    const g = got.system.filter(([x]) => x === k).map(([, v]) => v).join('\u241e');
    if (e !== g) diffs.push({ field: `System/${k}`, expected: e || undefined, got: g || undefined });
  }
  const n = Math.max(expected.eventData.length, got.eventData.length);
  for (let i = 0; i < n; i++) {
    const e = expected.eventData[i];
    const g = got.eventData[i];
    if (!e || !g || e[0] !== g[0] || (e[1] !== g[1] && !evtxexportDroppedLoneNewline(e[1], g[1]))) {
      diffs.push({
        field: `EventData[${i}]${e ? ` Name=${e[0]}` : g ? ` Name=${g[0]}` : ''}`,
        expected: e ? `${e[0]}=${e[1]}` : undefined,
        got: g ? `${g[0]}=${g[1]}` : undefined,
      });
    }
  }
  return diffs;
}
