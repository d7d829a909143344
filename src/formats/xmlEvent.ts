/**
 * One Windows event XML document (`<Event xmlns="…"><System>…</System><EventData>…</EventData></Event>`) →
 * WinEvent, with the streaming parser saxes (no DOM). Handles double or single quotes, namespace prefixes,
 * `<RenderingInfo>` (ignored), `<UserData>` (leaf elements become fields) and unnamed `<Data>` elements.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { DecodeError, EventOrigin, EventSystem, FieldValue, WinEvent } from '../model/event.js';
import { normaliseGuid, normaliseKeywords, normaliseTime, toInt } from './normalise.js';

/** Values a container (Splunk HEC envelope) knows when the XML itself lacks them. */
export interface XmlFallbacks {
  timeCreated?: string;
  computer?: string;
  channel?: string;
}

interface Draft {
  provider?: string;
  providerGuid?: string;
  eventId?: number;
  version?: number;
  level?: number;
  task?: number;
  opcode?: number;
  keywords?: string;
  timeCreated?: string;
  recordId?: number;
  activityId?: string;
  relatedActivityId?: string;
  processId?: number;
  threadId?: number;
  channel?: string;
  computer?: string;
  userSid?: string;
}

const enum Section {
  None,
  System,
  EventData,
  UserData,
  Other,
}

type SaxOptions = { xmlns: false; position: true; defaultXMLVersion?: '1.0' | '1.1'; forceXMLVersion?: boolean };

function localName(qname: string): string {
  const colon = qname.indexOf(':');
  return colon === -1 ? qname : qname.slice(colon + 1);
}

/**
 * Deepest element nesting read inside one <Event> (real events nest 4-5 levels; UserData a few more). Deeper
 * events are rejected with an error at the line of the offending element. saxes keeps its own tag stack (no
 * recursion), so this bounds work on hostile input rather than the stack.
 */
export const MAX_XML_DEPTH = 64;

/** Reusable: one parser instance per decoder, reset after every document. */
export class XmlEventParser {
  private readonly parser = new SaxesParser<SaxOptions>({ xmlns: false, position: true });
  private parser11: SaxesParser<SaxOptions> | undefined;
  private draft: Draft = {};
  private data: Record<string, FieldValue> = {};
  private unnamed: string[] = [];
  private depth = 0;
  private openDepth = 0;
  private section = Section.None;
  private text = '';
  private dataName: string | undefined;
  private rootName = '';
  private error: string | undefined;
  private errorLine = 0;

  constructor() {
    this.attach(this.parser);
  }

  private attach(p: SaxesParser<SaxOptions>): void {
    p.on('opentag', (tag) => this.onOpen(tag));
    p.on('closetag', (tag) => this.onClose(tag));
    p.on('text', (t) => {
      this.text += t;
    });
    p.on('cdata', (t) => {
      this.text += t;
    });
    p.on('error', (e) => {
      // saxes prefixes "line:column: "; our error names the line itself.
      const m = /^(?:.*?:)?(\d+):\d+: (.*)$/s.exec(e.message);
      const message = m ? m[2]! : e.message;
      // A raw control character (an attacker's ESC in a command line) is kept as data, not a reason to drop the event.
      if (message === 'disallowed character.' || this.error !== undefined) return;
      this.error = message;
      this.errorLine = m ? Number(m[1]) : 1;
    });
  }

  /**
   * XML 1.1 accepts character references to control characters (`&#x1b;`), which Windows writes for control
   * characters in event data but XML 1.0 forbids. Used only to re-read an event XML 1.0 rejected, because 1.1
   * also turns U+0085/U+2028 in text into line feeds.
   */
  private xml11(): SaxesParser<SaxOptions> {
    if (this.parser11 === undefined) {
      this.parser11 = new SaxesParser<SaxOptions>({ xmlns: false, position: true, defaultXMLVersion: '1.1', forceXMLVersion: true });
      this.attach(this.parser11);
    }
    return this.parser11;
  }

  /** `origin.line` is the document's first line; errors inside it point at the exact line. */
  parse(xml: string, origin: EventOrigin, fallbacks: XmlFallbacks = {}): WinEvent | DecodeError {
    this.reset();
    this.parser.write(xml).close();
    if (this.error !== undefined && xml.includes('&#')) {
      this.reset();
      this.xml11().write(xml).close();
    }
    const fail = (reason: string, lineOffset = 0): DecodeError => ({
      file: origin.file,
      ...(origin.line !== undefined ? { line: origin.line + lineOffset } : {}),
      ...(origin.index !== undefined ? { index: origin.index } : {}),
      reason,
    });
    if (this.error !== undefined) return fail(`malformed XML: ${this.error}`, Math.max(0, this.errorLine - 1));
    if (this.rootName !== 'Event') return fail(`root element is <${this.rootName}>, not <Event>`);
    const d = this.draft;
    if (d.eventId === undefined) return fail('<Event> has no numeric <EventID>');
    const timeCreated = d.timeCreated ?? fallbacks.timeCreated;
    if (timeCreated === undefined) return fail('<Event> has no valid <TimeCreated SystemTime>');
    if (this.unnamed.length > 0) this.data['Data'] = this.unnamed;
    const system: EventSystem = {
      provider: d.provider ?? '',
      eventId: d.eventId,
      timeCreated,
      channel: d.channel ?? fallbacks.channel ?? '',
      computer: d.computer ?? fallbacks.computer ?? '',
    };
    if (d.providerGuid !== undefined) system.providerGuid = d.providerGuid;
    if (d.version !== undefined) system.version = d.version;
    if (d.level !== undefined) system.level = d.level;
    if (d.task !== undefined) system.task = d.task;
    if (d.opcode !== undefined) system.opcode = d.opcode;
    if (d.keywords !== undefined) system.keywords = d.keywords;
    if (d.recordId !== undefined) system.recordId = d.recordId;
    if (d.activityId !== undefined) system.activityId = d.activityId;
    if (d.relatedActivityId !== undefined) system.relatedActivityId = d.relatedActivityId;
    if (d.processId !== undefined) system.processId = d.processId;
    if (d.threadId !== undefined) system.threadId = d.threadId;
    if (d.userSid !== undefined) system.userSid = d.userSid;
    return { system, data: this.data, origin };
  }

  private reset(): void {
    this.draft = {};
    this.data = {};
    this.unnamed = [];
    this.depth = 0;
    this.openDepth = 0;
    this.section = Section.None;
    this.text = '';
    this.dataName = undefined;
    this.rootName = '';
    this.error = undefined;
    this.errorLine = 0;
  }

  private onOpen(tag: SaxesTagPlain): void {
    const depth = ++this.depth;
    if (depth > MAX_XML_DEPTH) {
      if (this.error === undefined) {
        this.error = `elements nested deeper than ${MAX_XML_DEPTH} levels`;
        this.errorLine = this.parser.line;
      }
      return;
    }
    this.openDepth = depth;
    this.text = '';
    const name = localName(tag.name);
    if (depth === 1) {
      this.rootName = name;
      return;
    }
    if (depth === 2) {
      this.section = name === 'System' ? Section.System : name === 'EventData' ? Section.EventData : name === 'UserData' ? Section.UserData : Section.Other;
      return;
    }
    if (depth === 3 && this.section === Section.System) this.onSystemAttributes(name, tag.attributes);
    else if (depth === 3 && this.section === Section.EventData) this.dataName = name === 'Data' ? tag.attributes['Name'] : name;
  }

  private onClose(tag: SaxesTagPlain): void {
    const depth = this.depth--;
    const isLeaf = this.openDepth === depth;
    if (!isLeaf || depth < 3) return;
    if (this.section === Section.System && depth === 3) this.onSystemText(localName(tag.name), this.text);
    else if (this.section === Section.EventData && depth === 3) this.addData(this.dataName, this.text);
    else if (this.section === Section.UserData && depth >= 4) this.addData(localName(tag.name), this.text);
  }

  private addData(name: string | undefined, value: string): void {
    if (name === undefined) {
      this.unnamed.push(value);
      return;
    }
    const prev = this.data[name];
    if (prev === undefined) this.data[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else this.data[name] = [prev, value];
  }

  private onSystemAttributes(name: string, attrs: Record<string, string>): void {
    const d = this.draft;
    switch (name) {
      case 'Provider':
        d.provider = attrs['Name'] ?? attrs['EventSourceName'];
        d.providerGuid = normaliseGuid(attrs['Guid']);
        break;
      case 'TimeCreated':
        d.timeCreated = normaliseTime(attrs['SystemTime']);
        break;
      case 'Correlation':
        d.activityId = normaliseGuid(attrs['ActivityID']);
        d.relatedActivityId = normaliseGuid(attrs['RelatedActivityID']);
        break;
      case 'Execution':
        d.processId = toInt(attrs['ProcessID']);
        d.threadId = toInt(attrs['ThreadID']);
        break;
      case 'Security':
        d.userSid = attrs['UserID'];
        break;
    }
  }

  private onSystemText(name: string, text: string): void {
    const d = this.draft;
    switch (name) {
      case 'EventID':
        d.eventId = toInt(text.trim());
        break;
      case 'Version':
        d.version = toInt(text.trim());
        break;
      case 'Level':
        d.level = toInt(text.trim());
        break;
      case 'Task':
        d.task = toInt(text.trim());
        break;
      case 'Opcode':
        d.opcode = toInt(text.trim());
        break;
      case 'Keywords':
        d.keywords = normaliseKeywords(text.trim());
        break;
      case 'EventRecordID':
        d.recordId = toInt(text.trim());
        break;
      case 'Channel':
        d.channel = text;
        break;
      case 'Computer':
        d.computer = text;
        break;
    }
  }
}
