/**
 * Runs Debian's libevtx `evtxexport -f xml` (package libevtx-utils) and parses what it prints.
 *
 * Its output is a version banner, then one pretty-printed <Event> per record, separated by blank lines; the
 * root element always starts in column 0 and its children are indented, so records are cut at lines
 * `<Event ...>` / `</Event>` and each is parsed on its own (a broken record cannot swallow its neighbours).
 * On a file it cannot finish it prints what it exported and exits 1 ("Unable to export file.").
 */
import { execFile } from 'node:child_process';
import { SaxesParser } from 'saxes';
import type { XmlNode } from '../../../src/evtx/index.js';
import { TOOLS } from '../../helpers/requirements.js';

export const EVTXEXPORT = TOOLS.evtxexport;

export interface ExportedRecord {
  /** 0-based position in evtxexport's output. */
  index: number;
  root: XmlNode;
}

export interface EvtxexportResult {
  records: ExportedRecord[];
  exitCode: number;
  stderr: string;
  /** Records whose XML could not be parsed (kept so a test can report them instead of losing them). */
  unparsable: { index: number; error: string; xml: string }[];
}

export class EvtxexportMissing extends Error {}

export function runEvtxexport(file: string): Promise<EvtxexportResult> {
  return new Promise((resolve, reject) => {
    execFile(EVTXEXPORT, ['-f', 'xml', file], { maxBuffer: 1 << 30, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(
          new EvtxexportMissing(
            `'${EVTXEXPORT}' not found: the differential test needs libevtx's evtxexport (Debian/Ubuntu: apt-get install libevtx-utils)`,
          ),
        );
        return;
      }
      const exitCode = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ ...parseEvtxexportXml(stdout), exitCode, stderr });
    });
  });
}

export function parseEvtxexportXml(stdout: string): Pick<EvtxexportResult, 'records' | 'unparsable'> {
  const records: ExportedRecord[] = [];
  const unparsable: EvtxexportResult['unparsable'] = [];
  const lines = stdout.split('\n');
  let start = -1;
  let index = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (start < 0 && (line.startsWith('<Event ') || line === '<Event>')) start = i;
    else if (start >= 0 && line === '</Event>') {
      const xml = lines.slice(start, i + 1).join('\n');
      try {
        records.push({ index, root: parseXmlDocument(escapeRawAnsiValues(xml)) });
      } catch (e) {
        unparsable.push({ index, error: (e as Error).message, xml });
      }
      index++;
      start = -1;
    }
  }
  return { records, unparsable };
}

/**
 * libevtx writes AnsiString values without XML escaping (`<Data Name="A">x<b>&c</Data>`; UTF-16 strings are
 * escaped). A single-line <Data> whose content could not have come from escaped text — a raw '<' or '>', or an
 * '&' that starts no entity — is therefore such a raw value: escape it so it reads back as the text it was.
 */
const DATA_LINE = /^(\s*<Data(?: Name="[^"]*")?>)(.*)(<\/Data>)$/;
const RAW_MARKUP = /[<>]|&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

export function escapeRawAnsiValues(xml: string): string {
  return xml
    .split('\n')
    .map((line) => {
      const m = DATA_LINE.exec(line);
      if (!m || !RAW_MARKUP.test(m[2]!)) return line;
      const text = m[2]!.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      return `${m[1]}${text}${m[3]}`;
    })
    .join('\n');
}

/** Parses one XML document into the parser's XmlNode shape (so both sides go through one comparison). */
export function parseXmlDocument(xml: string): XmlNode {
  // evtxexport writes control characters (U+0003, U+009D) raw; XML 1.1 accepts them as character references.
  // CR too: a raw CR would be turned into LF by end-of-line normalisation, losing the value's CRLF.
  const escaped = xml.replace(/[\u0001-\u0008\u000b\u000c\u000d\u000e-\u001f\u007f-\u0084\u0086-\u009f]/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`);
  const parser = new SaxesParser({ xmlns: false, defaultXMLVersion: '1.1', forceXMLVersion: true });
  const stack: Extract<XmlNode, { kind: 'element' }>[] = [];
  let root: XmlNode | undefined;
  const append = (n: XmlNode): void => {
    stack[stack.length - 1]?.children.push(n);
  };
  parser.on('opentag', (tag) => {
    const node: Extract<XmlNode, { kind: 'element' }> = {
      kind: 'element',
      name: tag.name,
      attributes: Object.entries(tag.attributes).map(([name, value]) => ({ name, value: String(value) })),
      children: [],
    };
    if (stack.length === 0) root = node;
    else append(node);
    stack.push(node);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', (t) => append({ kind: 'text', text: t }));
  parser.on('cdata', (t) => append({ kind: 'cdata', text: t }));
  parser.on('processinginstruction', (pi) => append({ kind: 'pi', target: pi.target, data: pi.body }));
  parser.on('error', (e) => {
    throw e;
  });
  parser.write(escaped).close();
  if (!root) throw new Error('no root element');
  return root;
}
