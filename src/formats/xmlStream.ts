/**
 * Windows event XML text → one `<Event>` document at a time: wevtutil / Get-WinEvent output (one or many events,
 * optionally inside an `<Events>` root, with or without an `<?xml?>` prolog, events back to back on one line),
 * and Splunk XmlWinEventLog (one event per line). Each event is cut out of the stream and parsed on its own, so a
 * broken event is one DecodeError and the next event is read normally; memory holds one event at a time.
 */
import type { DecodeItem } from '../model/event.js';
import { describeLimit, type TextSink } from './textSink.js';
import { XmlEventParser } from './xmlEvent.js';

function isNameEnd(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 62 /* > */ || c === 47 /* / */;
}

export class XmlSink implements TextSink {
  private buf = '';
  private pos = 0;
  /** Line number of buf[lineAt]. */
  private line = 1;
  private lineAt = 0;
  private inEvent = false;
  private eventStart = 0;
  private eventLine = 0;
  private openTag = '<Event';
  private closeTag = '</Event>';
  private oversized = false;
  private index = 0;
  private readonly parser = new XmlEventParser();

  constructor(
    private readonly file: string,
    private readonly maxDocument: number,
  ) {}

  write(text: string, out: DecodeItem[]): void {
    const keepFrom = this.inEvent ? this.eventStart : this.pos;
    this.advanceLine(keepFrom);
    this.buf = keepFrom >= this.buf.length ? text : this.buf.slice(keepFrom) + text;
    this.pos -= keepFrom;
    this.eventStart -= keepFrom;
    this.lineAt = 0;
    this.scan(out);
  }

  end(out: DecodeItem[]): void {
    this.scan(out);
    if (this.inEvent && !this.oversized) this.error(out, this.eventLine, `unexpected end of input inside <${this.openTag.slice(1)}>`);
    else if (!this.inEvent && this.pos < this.buf.length) {
      this.advanceLine(this.pos);
      this.error(out, this.line, `unexpected end of input in markup ${JSON.stringify(this.buf.slice(this.pos, this.pos + 20))}`);
    }
    this.buf = '';
    this.pos = 0;
    this.inEvent = false;
  }

  private scan(out: DecodeItem[]): void {
    const buf = this.buf;
    const len = buf.length;
    while (this.pos < len) {
      if (this.inEvent) {
        if (!this.scanEvent(out)) return;
        continue;
      }
      const lt = buf.indexOf('<', this.pos);
      if (lt === -1) {
        this.checkJunk(this.pos, len, out);
        this.pos = len;
        return;
      }
      if (lt > this.pos) this.checkJunk(this.pos, lt, out);
      this.pos = lt;
      if (lt + 1 >= len) return;
      const c = buf.charCodeAt(lt + 1);
      let end: number;
      if (c === 63 /* ? */) end = terminated(buf, '?>', lt);
      else if (buf.startsWith('<!--', lt)) end = terminated(buf, '-->', lt);
      else if (c === 33 /* ! */ || c === 47 /* / */) end = terminated(buf, '>', lt);
      else {
        let k = lt + 1;
        while (k < len && !isNameEnd(buf.charCodeAt(k))) k++;
        if (k === len) return;
        const name = buf.slice(lt + 1, k);
        const colon = name.indexOf(':');
        if ((colon === -1 ? name : name.slice(colon + 1)) === 'Event') {
          this.startEvent(lt, name);
          this.pos = k;
          continue;
        }
        end = terminated(buf, '>', lt); // a wrapper such as <Events>: step inside it
      }
      if (end === -1) {
        if (len - lt > this.maxDocument) {
          this.advanceLine(lt);
          this.error(out, this.line, 'unterminated markup; rest of input skipped');
          this.pos = len;
        }
        return;
      }
      this.pos = end;
    }
  }

  private startEvent(at: number, qname: string): void {
    this.inEvent = true;
    this.oversized = false;
    this.eventStart = at;
    this.advanceLine(at);
    this.eventLine = this.line;
    this.openTag = `<${qname}`;
    this.closeTag = `</${qname}>`;
  }

  /** Looks for the end of the current event; false when more input is needed. */
  private scanEvent(out: DecodeItem[]): boolean {
    const buf = this.buf;
    const close = buf.indexOf(this.closeTag, this.pos);
    if (close === -1) {
      if (!this.oversized && buf.length - this.eventStart > this.maxDocument) {
        this.oversized = true;
        this.error(out, this.eventLine, `event larger than ${describeLimit(this.maxDocument)}; skipped`);
      }
      if (this.oversized) {
        // Keep only what is needed to find the closing tag; count the lines we drop.
        const keep = Math.max(this.eventStart, buf.length - this.closeTag.length);
        this.advanceLine(keep);
        this.eventStart = keep;
      }
      this.pos = Math.max(this.pos, buf.length - this.closeTag.length);
      return false;
    }
    const end = close + this.closeTag.length;
    if (this.oversized) {
      this.inEvent = false;
      this.oversized = false;
      this.pos = end;
      return true;
    }
    // An event cut short (truncated line) is followed by the next one's start tag before any close tag.
    const next = this.findStartTag(this.eventStart + this.openTag.length, close);
    if (next !== -1) {
      this.error(out, this.eventLine, `unterminated <${this.openTag.slice(1)}>`);
      this.startEvent(next, this.openTag.slice(1));
      this.pos = next + this.openTag.length;
      return true;
    }
    const r = this.parser.parse(buf.slice(this.eventStart, end), { file: this.file, line: this.eventLine, index: this.index++, dialect: 'xml' });
    out.push('system' in r ? { event: r } : { error: r });
    this.inEvent = false;
    this.pos = end;
    return true;
  }

  private findStartTag(from: number, before: number): number {
    let at = this.buf.indexOf(this.openTag, from);
    while (at !== -1 && at < before) {
      if (isNameEnd(this.buf.charCodeAt(at + this.openTag.length))) return at;
      at = this.buf.indexOf(this.openTag, at + 1);
    }
    return -1;
  }

  private checkJunk(from: number, to: number, out: DecodeItem[]): void {
    const buf = this.buf;
    for (let i = from; i < to; i++) {
      const c = buf.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) continue;
      this.advanceLine(i);
      const lineEnd = buf.indexOf('\n', i);
      const snippet = buf.slice(i, Math.min(to, i + 20, lineEnd === -1 ? to : lineEnd));
      this.error(out, this.line, `text outside <Event>: ${JSON.stringify(snippet)}`);
      return;
    }
  }

  /** Moves the line counter up to buf[to]. */
  private advanceLine(to: number): void {
    const buf = this.buf;
    let nl = buf.indexOf('\n', this.lineAt);
    while (nl !== -1 && nl < to) {
      this.line++;
      nl = buf.indexOf('\n', nl + 1);
    }
    if (to > this.lineAt) this.lineAt = to;
  }

  private error(out: DecodeItem[], line: number, reason: string): void {
    out.push({ error: { file: this.file, line, reason } });
  }
}

/** Index just past `terminator` searched from `from`, or -1. */
function terminated(buf: string, terminator: string, from: number): number {
  const at = buf.indexOf(terminator, from);
  return at === -1 ? -1 : at + terminator.length;
}
