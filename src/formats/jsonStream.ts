/**
 * JSON text → documents, for every layout event exporters write:
 *   NDJSON / JSONL (one document per line; the fast path: one JSON.parse per line),
 *   a JSON array (one line or pretty-printed; elements are emitted one by one, never the whole array in memory),
 *   concatenated pretty-printed objects (SigmaHQ regression .json, `jq .` output),
 *   evtx_dump's text output ("Record N" header lines between pretty-printed objects),
 *   Splunk HEC batches (`{…}{…}` on one line).
 * A malformed document becomes a DecodeError at its first line and the next document is read normally.
 */
import type { DecodeItem } from '../model/event.js';
import { isBulkAction, type DocumentDecoder } from './document.js';
import { describeLimit, type TextSink } from './textSink.js';

const enum Char {
  Tab = 9,
  LF = 10,
  CR = 13,
  Space = 32,
  Quote = 34,
  Comma = 44,
  Backslash = 92,
  OpenBracket = 91,
  CloseBracket = 93,
  OpenBrace = 123,
  CloseBrace = 125,
  Bom = 0xfeff,
}

/** Lines longer than this are scanned as they arrive instead of being held whole (see JsonSink.carry). */
const PARTIAL_LINE_CHARS = 1 << 20;

/**
 * Deepest nesting of a document the structural scanner cuts out (multi-line, array elements, long lines); deeper
 * ones are skipped with an error at their line. Windows events nest 4-6 levels. Nothing in the decoders recurses
 * on input depth (V8's JSON.parse does not either), so this bounds work, not the stack.
 */
export const MAX_JSON_DEPTH = 256;

function isSpace(c: number): boolean {
  return c === Char.Space || c === Char.Tab || c === Char.CR || c === Char.LF || c === Char.Bom;
}

export class JsonSink implements TextSink {
  private rest = '';
  private skippingLine = false;
  private lineNo = 0;
  private index = 0;
  // Multi-line document state (only used off the NDJSON fast path).
  private depth = 0;
  private inString = false;
  private inArray = false;
  private parts: string[] = [];
  private partsLength = 0;
  private docLine = 0;
  private oversized = false;
  /** Inside a string, the text so far ends in an odd run of backslashes (the next character is escaped). */
  private escapePending = false;
  /** The last document was exactly one line (NDJSON): the only layout the line prefilter applies to. */
  private oneDocumentPerLine = false;
  /** The current line is being scanned piece by piece (it outgrew PARTIAL_LINE_CHARS). */
  private midLine = false;

  constructor(
    private readonly file: string,
    private readonly documents: DocumentDecoder,
    private readonly maxDocument: number,
    /** Optional cheap test on a raw line: false means "no rule can match it", skip it unparsed. */
    private readonly keepLine?: (line: string) => boolean,
  ) {}

  write(text: string, out: DecodeItem[]): void {
    let start = 0;
    let nl = text.indexOf('\n');
    if (this.midLine || this.skippingLine) {
      if (nl === -1) {
        if (this.midLine) this.scanPiece(text, 0, false, out);
        return;
      }
      if (this.midLine) this.scanPiece(text.slice(0, nl), 0, true, out);
      this.midLine = false;
      this.skippingLine = false;
      start = nl + 1;
      nl = text.indexOf('\n', start);
    } else if (this.rest.length > 0) {
      if (nl === -1) {
        this.carry(text, out);
        return;
      }
      const line = this.rest + text.slice(0, nl);
      this.rest = '';
      this.onLine(line, out);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    while (nl !== -1) {
      this.onLine(text.slice(start, nl), out);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (start < text.length) this.carry(start === 0 ? text : text.slice(start), out);
  }

  end(out: DecodeItem[]): void {
    if (this.rest.length > 0) {
      const line = this.rest;
      this.rest = '';
      this.onLine(line, out);
    }
    this.midLine = false;
    this.skippingLine = false;
    const base = this.inArray ? 1 : 0;
    if (this.depth > base) this.error(out, this.docLine, 'incomplete JSON document at end of input');
    else if (this.inArray) this.error(out, this.lineNo, 'unterminated JSON array at end of input');
    this.resetDocument();
    this.inArray = false;
  }

  /**
   * Keeps an unfinished line for the next chunk. A line that grows past PARTIAL_LINE_CHARS (a one-line JSON array
   * of a whole export, a Splunk HEC batch, a huge command line) is scanned piece by piece instead, so memory
   * holds one document, not one line.
   */
  private carry(piece: string, out: DecodeItem[]): void {
    this.rest += piece;
    if (this.rest.length > Math.min(PARTIAL_LINE_CHARS, this.maxDocument)) this.startPartialLine(out);
  }

  private startPartialLine(out: DecodeItem[]): void {
    const text = this.rest;
    this.rest = '';
    if (this.depth > 0 || this.inArray) {
      this.lineNo++;
      if (this.resyncAt(text, out)) {
        this.lineNo--;
        this.startPartialLineAtDocumentStart(text, out);
        return;
      }
      this.midLine = true;
      this.scanPiece(text, 0, false, out);
      return;
    }
    this.startPartialLineAtDocumentStart(text, out);
  }

  private startPartialLineAtDocumentStart(text: string, out: DecodeItem[]): void {
    this.lineNo++;
    let first = 0;
    while (first < text.length && isSpace(text.charCodeAt(first))) first++;
    const c = text.charCodeAt(first);
    if (c === Char.OpenBrace || c === Char.OpenBracket) {
      this.midLine = true;
      this.scanPiece(text, first, false, out);
    } else {
      this.error(out, this.lineNo, `not JSON: unexpected ${describe(text, first)}`);
      this.skippingLine = true;
    }
  }

  /** scan() on part of a line; a piece with junk ends the line's scanning (the rest of the line is skipped). */
  private scanPiece(piece: string, from: number, endsLine: boolean, out: DecodeItem[]): void {
    if (!this.scan(piece, from, endsLine, out) && !endsLine) {
      this.midLine = false;
      this.skippingLine = true;
    }
  }

  /**
   * Whether the next line, if it is a whole one-line document, may be skipped by the line prefilter (NDJSON so far,
   * no document open, nothing carried). The byte-level NDJSON reader (ndjsonBytes.ts) asks before it decides a line
   * by itself; otherwise it hands the line here as text.
   */
  lineSkippable(): boolean {
    return this.keepLine !== undefined && this.oneDocumentPerLine && this.depth === 0 && !this.inArray && this.rest.length === 0 && !this.midLine && !this.skippingLine;
  }

  /** A one-line document the byte reader skipped (as the prefilter would have). */
  skipLine(): void {
    this.lineNo++;
    this.index++;
  }

  /** A one-line document the byte reader decoded itself: its origin (line number, document index). */
  takeLine(): { line: number; index: number } {
    return { line: ++this.lineNo, index: this.index++ };
  }

  private onLine(line: string, out: DecodeItem[]): void {
    const lineNo = ++this.lineNo;
    if (this.depth > 0 || this.inArray) {
      this.continueDocument(line, out);
      return;
    }
    let first = 0;
    while (first < line.length && isSpace(line.charCodeAt(first))) first++;
    if (first === line.length) return;
    const c = line.charCodeAt(first);
    if (c === Char.OpenBrace || c === Char.OpenBracket) {
      // The prefilter only ever skips a line that is a whole document: in NDJSON (the previous document was one
      // line) and shaped like one ('{' … '}'). The first line and anything pretty-printed are always parsed.
      if (this.keepLine !== undefined && this.oneDocumentPerLine && endsWithBrace(line) && !this.keepLine(line)) {
        this.index++;
        return;
      }
      let doc: unknown;
      try {
        doc = JSON.parse(line);
      } catch {
        // Not a whole document on one line: the start of a pretty-printed one, several on one line, or broken.
        this.oneDocumentPerLine = false;
        this.scan(line, first, true, out);
        return;
      }
      this.oneDocumentPerLine = c === Char.OpenBrace;
      this.emit(doc, lineNo, out);
      return;
    }
    if (isRecordHeader(line, first)) return;
    this.error(out, lineNo, `not JSON: unexpected ${describe(line, first)}`);
  }

  private continueDocument(line: string, out: DecodeItem[]): void {
    if (this.resyncAt(line, out)) {
      this.lineNo--;
      this.onLine(line, out);
      return;
    }
    this.scan(line, 0, true, out);
  }

  /**
   * Resynchronise after a broken document: in concatenated/NDJSON layouts a new top-level document starts with
   * '{' in column 0 (nested objects are indented) or follows an evtx_dump "Record N" line. True when the open
   * document was abandoned (and reported) because `line` starts a new one.
   */
  private resyncAt(line: string, out: DecodeItem[]): boolean {
    if (this.inArray || !(line.charCodeAt(0) === Char.OpenBrace || isRecordHeader(line, 0))) return false;
    this.error(out, this.docLine, `incomplete JSON document (a new one starts at line ${this.lineNo})`);
    this.resetDocument();
    return true;
  }

  /**
   * Structural scan of a line or of a piece of one (strings skipped with indexOf): finds where top-level
   * documents begin and end. False when it met text that cannot be JSON (reported; the rest is not scanned).
   */
  private scan(line: string, from: number, endsLine: boolean, out: DecodeItem[]): boolean {
    const n = line.length;
    let i = from;
    let valueStart = this.depth > (this.inArray ? 1 : 0) ? 0 : -1;
    while (i < n) {
      if (this.inString) {
        const q = line.indexOf('"', i);
        if (q === -1) {
          this.escapePending = endsInEscape(line, i, this.escapePending);
          i = n;
          break;
        }
        let backslashes = 0;
        let k = q - 1;
        for (; k >= i && line.charCodeAt(k) === Char.Backslash; k--) backslashes++;
        if (k < i && this.escapePending) backslashes++; // the run of backslashes began in the previous piece
        this.escapePending = false;
        if ((backslashes & 1) === 0) this.inString = false;
        i = q + 1;
        continue;
      }
      const c = line.charCodeAt(i);
      const base = this.inArray ? 1 : 0;
      if (this.depth === base) {
        if (isSpace(c) || (c === Char.Comma && this.inArray)) {
          i++;
          continue;
        }
        if (c === Char.OpenBrace || (c === Char.OpenBracket && this.inArray)) {
          valueStart = i;
          this.docLine = this.lineNo;
          this.depth++;
          i++;
          continue;
        }
        if (c === Char.OpenBracket) {
          this.inArray = true;
          this.depth = 1;
          i++;
          continue;
        }
        if (c === Char.CloseBracket && this.inArray) {
          this.inArray = false;
          this.depth = 0;
          i++;
          continue;
        }
        this.error(out, this.lineNo, `not JSON: unexpected ${describe(line, i)}`);
        return false;
      }
      if (c === Char.Quote) this.inString = true;
      else if (c === Char.OpenBrace || c === Char.OpenBracket) {
        if (++this.depth - base > MAX_JSON_DEPTH && !this.oversized) this.skipDocument(out, `JSON nested deeper than ${MAX_JSON_DEPTH} levels; skipped`);
      } else if (c === Char.CloseBrace || c === Char.CloseBracket) {
        this.depth--;
        if (this.depth === base) {
          this.completeDocument(line.slice(valueStart, i + 1), out);
          valueStart = -1;
        }
      }
      i++;
    }
    if (this.depth > (this.inArray ? 1 : 0)) this.addPart(valueStart <= 0 ? line : line.slice(valueStart), endsLine, out);
    return true;
  }

  private addPart(piece: string, endsLine: boolean, out: DecodeItem[]): void {
    if (this.oversized) return;
    this.partsLength += piece.length + 1;
    if (this.partsLength > this.maxDocument) {
      this.skipDocument(out, `JSON document larger than ${describeLimit(this.maxDocument)}; skipped`);
      return;
    }
    this.parts.push(piece);
    if (endsLine) this.parts.push('\n');
  }

  /** The open document is reported and dropped; the scanner still follows its structure to find its end. */
  private skipDocument(out: DecodeItem[], reason: string): void {
    this.oversized = true;
    this.parts = [];
    this.error(out, this.docLine, reason);
  }

  private completeDocument(lastPiece: string, out: DecodeItem[]): void {
    const oversized = this.oversized;
    const text = this.parts.length === 0 ? lastPiece : this.parts.join('') + lastPiece;
    const line = this.docLine;
    this.parts = [];
    this.partsLength = 0;
    this.oversized = false;
    if (oversized) return;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      this.error(out, line, `invalid JSON: ${(e as Error).message}`);
      return;
    }
    this.emit(doc, line, out);
  }

  private resetDocument(): void {
    this.depth = 0;
    this.inString = false;
    this.escapePending = false;
    this.parts = [];
    this.partsLength = 0;
    this.oversized = false;
  }

  /** A document, or a top-level array of them (one level: an array inside it is not an event, whatever its depth). */
  private emit(doc: unknown, line: number, out: DecodeItem[]): void {
    if (!Array.isArray(doc)) {
      this.emitOne(doc, line, out);
      return;
    }
    for (const element of doc) {
      if (Array.isArray(element)) {
        this.index++;
        this.error(out, line, 'an array inside the array is not an event; skipped');
      } else this.emitOne(element, line, out);
    }
  }

  private emitOne(doc: unknown, line: number, out: DecodeItem[]): void {
    const r = this.documents.decode(doc, { file: this.file, line, index: this.index++ }, true);
    if ('system' in r) out.push({ event: r });
    else if (!isBulkAction(doc)) out.push({ error: r });
  }

  private error(out: DecodeItem[], line: number, reason: string): void {
    out.push({ error: { file: this.file, line, reason } });
  }
}

/** Whether text[from..] ends inside an escape: an odd run of trailing backslashes (continuing `pending`'s run if the whole piece is backslashes). */
function endsInEscape(text: string, from: number, pending: boolean): boolean {
  let k = text.length - 1;
  let run = 0;
  for (; k >= from && text.charCodeAt(k) === Char.Backslash; k--) run++;
  return k < from ? pending !== ((run & 1) === 1) : (run & 1) === 1;
}

/** Last non-blank character is '}' (a one-line document; a pretty-printed one's first line is just '{'). */
function endsWithBrace(line: string): boolean {
  let i = line.length - 1;
  while (i >= 0 && isSpace(line.charCodeAt(i))) i--;
  return i > 0 && line.charCodeAt(i) === Char.CloseBrace;
}

/** evtx_dump's default output puts "Record <n>" on a line before each document. */
function isRecordHeader(line: string, at: number): boolean {
  return line.startsWith('Record ', at) && line.length - at < 32;
}

function describe(line: string, at: number): string {
  const snippet = line.slice(at, at + 20);
  return `'${snippet}${line.length - at > 20 ? '…' : ''}'`;
}
