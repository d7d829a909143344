/**
 * One parsed JSON document → WinEvent: recognises the dialect by its shape and hands it to that decoder.
 *   {"Event": {"System": …}}                    evtx_dump / xmltodict
 *   {"winlog": …} or {"event": {"code": …}}     Winlogbeat / Elastic Agent (raw or after ingest pipelines)
 *   {"event_id": …, "event_data": …}            Winlogbeat 6.x (pre-ECS; older OTRF/Mordor, HELK)
 *   {"event": "<Event…>" | {…}, "time": …}      Splunk HEC envelope (XML string or any JSON dialect inside)
 *   {"EventID": …, …flat fields}               NXLog im_msvistalog, OTRF/Mordor, python-evtx flattening
 *   {"_source": {…}}                            an Elasticsearch hit (search/export): its _source
 *   {"result": {"_raw": "<Event…>", …}}         a Splunk search result exported as JSON
 */
import type { DecodeError, EventOrigin, WinEvent } from '../model/event.js';
import { decodeEvtxDump } from './evtxDump.js';
import { decodeFlat, flatDialect } from './flat.js';
import { decodeWinlogbeat, decodeWinlogbeatLegacy } from './winlogbeat.js';
import { XmlEventParser, type XmlFallbacks } from './xmlEvent.js';
import { errorAt, isRecord, normaliseTime, str } from './normalise.js';

export class DocumentDecoder {
  private xml: XmlEventParser | undefined;

  /**
   * `owned`: the origin object was made for this document (the stream decoders), so the dialect is written into
   * it instead of into a copy — one allocation less per event on the hot path.
   */
  decode(doc: unknown, origin: EventOrigin, owned = false): WinEvent | DecodeError {
    if (!isRecord(doc)) return errorAt(origin, `expected a JSON object, got ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : typeof doc}`);
    const event = doc['Event'];
    if (isRecord(event)) return decodeEvtxDump(event, withDialect(origin, 'evtx_dump', owned));
    if ('winlog' in doc) return decodeWinlogbeat(doc, withDialect(origin, 'winlogbeat', owned));
    const inner = doc['event'];
    if (typeof inner === 'string' || (isRecord(inner) && isHecEnvelope(doc, inner))) return this.decodeHec(doc, inner, origin);
    if ('EventID' in doc) return decodeFlat(doc, withDialect(origin, flatDialect(doc), owned));
    if ('event_id' in doc && ('event_data' in doc || 'source_name' in doc)) return decodeWinlogbeatLegacy(doc, withDialect(origin, 'winlogbeat6', owned));
    if (isRecord(inner) && 'code' in inner) return decodeWinlogbeat(doc, withDialect(origin, 'ecs', owned));
    const source = doc['_source'];
    if (isRecord(source)) return this.decode(source, origin, owned);
    // Splunk search results exported as JSON: {"result": {"_raw": "<Event…>", "host": …, "_time": …}}.
    const result = doc['result'];
    if (isRecord(result)) return this.decode(result, origin, owned);
    const raw = doc['_raw'];
    if (typeof raw === 'string') return this.decodeXmlString(raw, { time: doc['_time'], host: doc['host'], source: doc['source'] }, withDialect(origin, 'splunk-export', owned));
    return errorAt(origin, 'not a Windows event (no Event.System, winlog, EventID or HEC event)');
  }

  /** Splunk HEC: `event` is the XmlWinEventLog text or a JSON event; time/host/source fill what it lacks. */
  private decodeHec(envelope: Record<string, unknown>, inner: unknown, origin: EventOrigin): WinEvent | DecodeError {
    if (typeof inner !== 'string') {
      const decoded = this.decode(inner, origin);
      if ('system' in decoded) decoded.origin = { ...decoded.origin, dialect: `splunk-hec/${decoded.origin.dialect ?? 'json'}` };
      return decoded;
    }
    return this.decodeXmlString(inner, { time: envelope['time'], host: envelope['host'], source: envelope['source'] }, withDialect(origin, 'splunk-hec'));
  }

  /** Splunk's XmlWinEventLog text; the container's time, host and source ("XmlWinEventLog:<channel>") fill gaps. */
  private decodeXmlString(xml: string, container: { time: unknown; host: unknown; source: unknown }, origin: EventOrigin): WinEvent | DecodeError {
    const fallbacks: XmlFallbacks = {};
    const time = normaliseTime(container.time);
    if (time !== undefined) fallbacks.timeCreated = time;
    const host = str(container.host);
    if (host !== undefined) fallbacks.computer = host;
    const source = str(container.source);
    if (source !== undefined && source.includes('EventLog:')) fallbacks.channel = source.slice(source.indexOf('EventLog:') + 9);
    this.xml ??= new XmlEventParser();
    return this.xml.parse(xml, origin, fallbacks);
  }
}

function isHecEnvelope(doc: Record<string, unknown>, inner: Record<string, unknown>): boolean {
  return ('time' in doc || 'sourcetype' in doc || 'source' in doc || 'index' in doc) && !('code' in inner && 'kind' in inner);
}

function withDialect(origin: EventOrigin, dialect: string, owned = false): EventOrigin {
  if (owned) {
    origin.dialect = dialect;
    return origin;
  }
  const o: EventOrigin = { file: origin.file };
  if (origin.line !== undefined) o.line = origin.line;
  if (origin.index !== undefined) o.index = origin.index;
  if (origin.chunk !== undefined) o.chunk = origin.chunk;
  if (origin.offset !== undefined) o.offset = origin.offset;
  o.dialect = dialect;
  return o;
}

const BULK_ACTIONS = new Set(['index', 'create', 'update', 'delete']);

/** An Elasticsearch `_bulk` action line ({"index": {"_index": …}}): metadata between documents, not an event. */
export function isBulkAction(doc: unknown): boolean {
  if (!isRecord(doc)) return false;
  let keys = 0;
  for (const key in doc) {
    if (++keys > 1 || !BULK_ACTIONS.has(key) || !isRecord(doc[key])) return false;
  }
  return keys === 1;
}
