/**
 * Field access, decided once per rule and route: every Sigma field becomes an accessor with a slot number, so
 * matching reads (and lowercases) each field at most once per event, whatever the number of rules using it.
 */
import type { FieldValue, Scalar, WinEvent, EventSystem } from '../model/event.js';
import type { FieldSource } from '../rules/pipeline.js';

export interface Accessor {
  /** Identity: equal keys read the same thing (shared slot). */
  key: string;
  /** Reads the value; undefined when the event does not have the field. */
  get(ev: WinEvent): FieldValue | undefined;
  /**
   * True when the value appears verbatim as text in the record (an EventData string), so a literal taken from
   * it can prefilter raw records. False for System fields and computed values.
   */
  verbatim: boolean;
}

type SystemGetter = (s: EventSystem) => FieldValue | undefined;

/** System header fields under their Sigma/Windows names. */
const SYSTEM_FIELDS: Record<string, SystemGetter> = {
  EventID: (s) => s.eventId,
  Channel: (s) => s.channel,
  Provider_Name: (s) => s.provider,
  Provider: (s) => s.provider,
  Provider_Guid: (s) => s.providerGuid,
  Guid: (s) => s.providerGuid,
  Computer: (s) => s.computer,
  Level: (s) => s.level,
  Task: (s) => s.task,
  Opcode: (s) => s.opcode,
  Keywords: (s) => s.keywords,
  Version: (s) => s.version,
  EventRecordID: (s) => s.recordId,
  ProcessID: (s) => s.processId,
  ThreadID: (s) => s.threadId,
  TimeCreated: (s) => s.timeCreated,
  SystemTime: (s) => s.timeCreated,
  UserID: (s) => s.userSid,
  Security_UserID: (s) => s.userSid,
  ActivityID: (s) => s.activityId,
  RelatedActivityID: (s) => s.relatedActivityId,
};

export const SYSTEM_FIELD_NAMES: readonly string[] = Object.keys(SYSTEM_FIELDS);

export function isSystemField(name: string): boolean {
  return name in SYSTEM_FIELDS;
}

/**
 * Every value of the event, for keyword searches (Sigma: an unbound value is searched in the whole event):
 * every EventData value, then every System header value (provider, channel, computer, event id, ...; numbers
 * stay numbers, compared as their decimal text). Values appear verbatim in the record or, for the System
 * header, are formatted numbers, GUIDs, SIDs and times, which the raw-record prefilters already treat as
 * possibly absent from the bytes (isTextOnly in ./index.ts, FORMATTED_CHARS in src/evtx/prefilter.ts).
 */
export const ALL_FIELDS: Accessor = {
  key: 'all-fields',
  verbatim: true,
  get: (ev) => {
    const out: Scalar[] = [];
    for (const key in ev.data) {
      const v = ev.data[key]!;
      if (Array.isArray(v)) for (const x of v) out.push(x);
      else out.push(v);
    }
    pushSystemValues(ev.system, out);
    return out;
  },
};

/** Appends every present System header value (in EventSystem's order). */
export function pushSystemValues(system: EventSystem, out: Scalar[]): void {
  for (const key in system) {
    const v = system[key as keyof EventSystem];
    if (v !== undefined) out.push(v);
  }
}

/** Accessor for a Sigma field on a route with the given field mapping. */
export function accessorFor(field: string, mapping: Record<string, FieldSource> | undefined): Accessor {
  const source = mapping?.[field];
  if (source) return mappedAccessor(source);
  const system = SYSTEM_FIELDS[field];
  if (system) {
    // EventData wins when it has the name (it is what the rule author saw in the event); else the header.
    return {
      key: `sys:${field}`,
      verbatim: false,
      get: (ev) => {
        const d = ev.data[field];
        return d !== undefined ? d : system(ev.system);
      },
    };
  }
  return { key: `data:${field}`, verbatim: true, get: (ev) => dataField(ev, field) };
}

/**
 * EventData field by name. Some providers (Windows Defender: `Threat Name`, `Process Name`) use names with
 * spaces that Sigma writes without them (`ThreatName`); those are found by their space-less form.
 */
export function dataField(ev: WinEvent, field: string): FieldValue | undefined {
  const v = ev.data[field];
  if (v !== undefined) return v;
  return spacelessNames(ev)?.get(field);
}

let lastEvent: WinEvent | undefined;
let lastNames: Map<string, FieldValue> | null = null;

/** Space-less name → value for events that have names with spaces; null otherwise (cached for the last event). */
function spacelessNames(ev: WinEvent): Map<string, FieldValue> | null {
  if (ev === lastEvent) return lastNames;
  let names: Map<string, FieldValue> | null = null;
  for (const key in ev.data) {
    if (!key.includes(' ')) continue;
    names ??= new Map();
    names.set(key.replace(/ /g, ''), ev.data[key]!);
  }
  lastEvent = ev;
  lastNames = names;
  return names;
}

function mappedAccessor(source: FieldSource): Accessor {
  if ('userFrom' in source) {
    return {
      key: `user:${source.userFrom.map((p) => `${p.domain}\\${p.user}`).join('|')}`,
      verbatim: false,
      get: (ev) => {
        for (const { domain, user } of source.userFrom) {
          const u = ev.data[user];
          if (typeof u !== 'string' || u === '' || u === '-') continue;
          const d = ev.data[domain];
          return typeof d === 'string' && d !== '' && d !== '-' ? `${d}\\${u}` : u;
        }
        return undefined;
      },
    };
  }
  if ('firstOf' in source) {
    return {
      key: `first:${source.firstOf.join('|')}`,
      verbatim: true,
      get: (ev) => {
        for (const name of source.firstOf) {
          const v = ev.data[name];
          if (v === undefined || v === null || v === '' || v === '-' || v === '0x0' || v === 0) continue;
          return v;
        }
        return undefined;
      },
    };
  }
  if (!('transform' in source)) return { key: `data:${source.from}`, verbatim: true, get: (ev) => dataField(ev, source.from) };
  const from = source.from;
  if (source.transform === 'hex-number') {
    return { key: `hex:${from}`, verbatim: false, get: (ev) => hexNumber(ev.data[from]) };
  }
  return { key: `integrity:${from}`, verbatim: false, get: (ev) => integrityLevel(ev.data[from]) };
}

/** `0x1a2c` → 6700; decimal strings and numbers pass through as numbers. */
export function hexNumber(v: FieldValue | undefined): FieldValue | undefined {
  if (typeof v === 'number' || v === undefined || v === null) return v;
  if (typeof v !== 'string') return v;
  const t = v.trim();
  if (/^0x[0-9a-f]+$/i.test(t)) return parseInt(t.slice(2), 16);
  if (/^\d+$/.test(t)) return Number(t);
  return v;
}

const INTEGRITY_BY_SID: Record<string, string> = {
  'S-1-16-0': 'Untrusted',
  'S-1-16-4096': 'Low',
  'S-1-16-8192': 'Medium',
  'S-1-16-8448': 'MediumPlus',
  'S-1-16-12288': 'High',
  'S-1-16-16384': 'System',
  'S-1-16-20480': 'ProtectedProcess',
  'S-1-16-28672': 'SecureProcess',
};

/** MandatoryLabel SID → Sysmon IntegrityLevel name; other values pass through. */
export function integrityLevel(v: FieldValue | undefined): FieldValue | undefined {
  if (typeof v !== 'string') return v;
  return INTEGRITY_BY_SID[v.trim().toUpperCase()] ?? v;
}

/** Assigns slot numbers to accessors by key, engine-wide. */
export class SlotTable {
  readonly accessors: Accessor[] = [];
  private readonly byKey = new Map<string, number>();

  /** The slot of an accessor key, or -1 when no rule uses it. */
  find(key: string): number {
    return this.byKey.get(key) ?? -1;
  }

  slot(acc: Accessor): number {
    let s = this.byKey.get(acc.key);
    if (s === undefined) {
      s = this.accessors.length;
      this.accessors.push(acc);
      this.byKey.set(acc.key, s);
    }
    return s;
  }
}

/** Text of a scalar as rules compare it. null reads as ''. */
export function scalarText(v: string | number | boolean | null): string {
  return typeof v === 'string' ? v : v === null ? '' : String(v);
}

/**
 * Per-event cache of field values, their text and their lowercase text, by slot. One per engine; `reset`
 * starts a new event in O(1) by bumping an epoch.
 */
export class EventContext {
  event!: WinEvent;
  private epoch = 0;
  private readonly seen: Uint32Array;
  private readonly lowSeen: Uint32Array;
  private readonly values: Array<FieldValue | undefined>;
  private readonly lows: Array<string | string[] | undefined>;

  constructor(private readonly table: SlotTable) {
    const n = Math.max(1, table.accessors.length);
    this.seen = new Uint32Array(n);
    this.lowSeen = new Uint32Array(n);
    this.values = new Array<FieldValue | undefined>(n);
    this.lows = new Array<string | string[] | undefined>(n);
  }

  reset(ev: WinEvent): void {
    this.event = ev;
    this.epoch = (this.epoch + 1) >>> 0;
    if (this.epoch === 0) {
      this.seen.fill(0);
      this.lowSeen.fill(0);
      this.epoch = 1;
    }
  }

  get(slot: number): FieldValue | undefined {
    if (this.seen[slot] === this.epoch) return this.values[slot];
    const v = this.table.accessors[slot]!.get(this.event);
    this.values[slot] = v;
    this.seen[slot] = this.epoch;
    return v;
  }

  /** Lowercase text of the field (an array for multi-valued fields); undefined when absent. */
  lower(slot: number): string | string[] | undefined {
    if (this.lowSeen[slot] === this.epoch) return this.lows[slot];
    const v = this.get(slot);
    const low = v === undefined ? undefined : Array.isArray(v) ? v.map((x) => scalarText(x).toLowerCase()) : scalarText(v).toLowerCase();
    this.lows[slot] = low;
    this.lowSeen[slot] = this.epoch;
    return low;
  }
}
