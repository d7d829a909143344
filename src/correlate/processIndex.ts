/**
 * A compact, bounded index of process activity seen in the input: starts, ends and per-process evidence
 * (network, DNS, file creation). Correlation asks it for parent chains, children, lifetimes and evidence.
 *
 * Identity: Sysmon processes by ProcessGuid; Security 4688 processes by host + PID + time, because Windows
 * reuses PIDs — a PID refers to the latest process with that PID that started at or before the moment in
 * question. Every record is kept by insertion order and the oldest are evicted past `capacity`, so memory is
 * bounded whatever the input size. Ends and evidence may arrive before their start (files are not in time
 * order); lookups are resolved at query time, never at insertion, so the order of arrival does not matter.
 * Per-key lists are kept in time order (sorted when read after out-of-order arrival), so every lookup is a
 * binary search for its time window plus a walk over the records inside it: an alert on a host where a PID was
 * reused thousands of times costs a few comparisons, not a scan of that PID's whole history.
 */
import type { WinEvent } from '../model/event.js';
import { activityOf, guidOf, pidOf, processFacts, str, timeOf, type Activity } from './fields.js';

export interface EventRef {
  provider: string;
  event_id: number;
  record_id?: number;
  channel: string;
  time: string;
}

export interface StartRecord {
  seq: number;
  /** Set when evicted (lists drop dead records lazily). */
  dead?: true;
  kind: 'start';
  host: string;
  ms: number;
  ref: EventRef;
  pid?: number;
  guid?: string;
  parentPid?: number;
  parentGuid?: string;
  image?: string;
  commandLine?: string;
  user?: string;
}

export interface EndRecord {
  seq: number;
  /** Set when evicted (lists drop dead records lazily). */
  dead?: true;
  kind: 'end';
  host: string;
  ms: number;
  ref: EventRef;
  pid?: number;
  guid?: string;
  exitCode?: number;
}

export type EvidenceKind = 'network' | 'dns' | 'file';

export interface EvidenceRecord {
  seq: number;
  /** Set when evicted (lists drop dead records lazily). */
  dead?: true;
  kind: EvidenceKind;
  host: string;
  ms: number;
  ref: EventRef;
  pid?: number;
  guid?: string;
  detail: Record<string, string | number>;
}

export type IndexRecord = StartRecord | EndRecord | EvidenceRecord;

/** Command lines are kept up to this many characters (the alert itself carries the full one). */
const MAX_KEPT_CHARS = 4096;

export class ProcessIndex {
  private seq = 0;
  /** Every record in arrival order, as a ring: the oldest is overwritten (and unlinked) when full. */
  private readonly ring: Array<IndexRecord | undefined>;
  private head = 0;
  private count = 0;
  // Keyed per host, then by GUID or PID: no per-lookup key strings to build and hash.
  private readonly startByGuid = new HostMap<string, StartRecord>();
  private readonly endByGuid = new HostMap<string, EndRecord>();
  private readonly evidenceByGuid = new HostLists<string, EvidenceRecord>();
  private readonly startsByPid = new HostLists<number, StartRecord>();
  private readonly endsByPid = new HostLists<number, EndRecord>();
  private readonly evidenceByPid = new HostLists<number, EvidenceRecord>();
  private readonly childrenByGuid = new HostLists<string, StartRecord>();
  private readonly childrenByPid = new HostLists<number, StartRecord>();
  private evictedCount = 0;

  constructor(readonly capacity: number = 200_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`index capacity must be a positive integer, not ${capacity}`);
    this.ring = [];
  }

  get size(): number {
    return this.count;
  }

  /** Records dropped to stay within capacity (the oldest first). */
  get evicted(): number {
    return this.evictedCount;
  }

  /** Indexes the event if it is process activity; returns the record it made (undefined for other events). */
  add(ev: WinEvent): IndexRecord | undefined {
    const activity: Activity = activityOf(ev);
    if (activity === 'other') return undefined;
    const host = this.hostKey(ev.system.computer);
    const ms = timeOf(ev);
    const ref = this.refOf(ev);
    const seq = ++this.seq;
    if (activity === 'start') {
      const r = this.startRecord(ev, seq, host, ms, ref);
      this.addStart(r);
      return r;
    }
    if (activity === 'end') {
      const f = processFacts(ev);
      const r: EndRecord = { seq, kind: 'end', host, ms, ref, pid: f.pid, guid: f.guid, exitCode: f.exitCode };
      this.addEnd(r);
      return r;
    }
    const r: EvidenceRecord = { seq, kind: activity, host, ms, ref, pid: pidOf(ev.data['ProcessId']), guid: guidOf(ev.data['ProcessGuid']), detail: evidenceDetail(activity, ev) };
    this.addEvidence(r);
    return r;
  }

  /** True while this start record is still held (not evicted, not a stand-in made for a query). */
  holds(r: StartRecord): boolean {
    return r.seq > 0 && r.dead !== true;
  }

  /** The start record of the process an event belongs to (for a start event: itself, if indexed). */
  processOf(ev: WinEvent): StartRecord | undefined {
    const host = this.hostKey(ev.system.computer);
    const activity = activityOf(ev);
    const f = activity === 'start' || activity === 'end' ? processFacts(ev) : { pid: pidOf(ev.data['ProcessId']), guid: guidOf(ev.data['ProcessGuid']) };
    if (f.guid) {
      const byGuid = this.startByGuid.get(host, f.guid);
      if (byGuid) return byGuid;
    }
    if (f.pid === undefined) return undefined;
    return this.latestStartAtOrBefore(host, f.pid, timeOf(ev), f.guid);
  }

  /** A start record for a start event even when it is not (or no longer) in the index. */
  startRecordOf(ev: WinEvent): StartRecord | undefined {
    if (activityOf(ev) !== 'start') return undefined;
    return this.processOf(ev) ?? this.startRecord(ev, 0, this.hostKey(ev.system.computer), timeOf(ev), this.refOf(ev));
  }

  parentOf(child: StartRecord): StartRecord | undefined {
    if (child.parentGuid) {
      const p = this.startByGuid.get(child.host, child.parentGuid);
      if (p) return p;
    }
    if (child.parentPid === undefined) return undefined;
    const candidate = this.latestStartAtOrBefore(child.host, child.parentPid, child.ms, child.parentGuid, child);
    if (!candidate) return undefined;
    // If that process had already ended when the child started, the real parent is a later, unseen process.
    const end = this.endOf(candidate);
    return end && end.ms < child.ms ? undefined : candidate;
  }

  /** Parent chain, nearest first, at most `depth` levels, stopping at loops. */
  ancestorsOf(rec: StartRecord, depth: number): StartRecord[] {
    const chain: StartRecord[] = [];
    const seen = new Set<StartRecord>([rec]);
    let cur = this.parentOf(rec);
    while (cur && chain.length < depth && !seen.has(cur)) {
      chain.push(cur);
      seen.add(cur);
      cur = this.parentOf(cur);
    }
    return chain;
  }

  /** The process's termination: by ProcessGuid, else the first end of its PID after it started and before the PID's next start. */
  endOf(rec: StartRecord): EndRecord | undefined {
    if (rec.guid) {
      const e = this.endByGuid.get(rec.host, rec.guid);
      if (e) return e;
    }
    if (rec.pid === undefined) return undefined;
    const until = this.nextStartMs(rec);
    const ends = this.endsByPid.get(rec.host, rec.pid);
    for (let i = firstAtOrAfter(ends, rec.ms); i < ends.length; i++) {
      const e = ends[i]!;
      if (e.ms > until) break;
      if (e.guid && rec.guid && e.guid !== rec.guid) continue;
      return e;
    }
    return undefined;
  }

  childrenOf(rec: StartRecord, limit: number): { children: StartRecord[]; total: number } {
    const found = new Map<number, StartRecord>();
    if (rec.guid) for (const c of this.childrenByGuid.get(rec.host, rec.guid)) found.set(c.seq, c);
    if (rec.pid !== undefined) {
      const end = this.endOf(rec);
      const until = Math.min(end ? end.ms : Number.POSITIVE_INFINITY, this.nextStartMs(rec));
      const byPid = this.childrenByPid.get(rec.host, rec.pid);
      for (let i = firstAtOrAfter(byPid, rec.ms); i < byPid.length; i++) {
        const c = byPid[i]!;
        if (c.ms > until) break;
        if (c.parentGuid && rec.guid && c.parentGuid !== rec.guid) continue;
        if (c.seq !== rec.seq) found.set(c.seq, c);
      }
    }
    const all = sameProcessOnce([...found.values()].sort((a, b) => a.ms - b.ms || a.seq - b.seq));
    return { children: all.slice(0, limit), total: all.length };
  }

  evidenceOf(rec: StartRecord): EvidenceRecord[] {
    const found = new Map<number, EvidenceRecord>();
    if (rec.guid) for (const e of this.evidenceByGuid.get(rec.host, rec.guid)) found.set(e.seq, e);
    if (rec.pid !== undefined) {
      const end = this.endOf(rec);
      const until = Math.min(end ? end.ms : Number.POSITIVE_INFINITY, this.nextStartMs(rec));
      const byPid = this.evidenceByPid.get(rec.host, rec.pid);
      for (let i = firstAtOrAfter(byPid, rec.ms); i < byPid.length; i++) {
        const e = byPid[i]!;
        if (e.ms > until) break;
        if (e.guid && rec.guid) continue; // matched (or not) by GUID above
        found.set(e.seq, e);
      }
    }
    return [...found.values()].sort((a, b) => a.ms - b.ms || a.seq - b.seq);
  }

  /** Every record still held, oldest first (extent builds its per-scan lookups from these; evicted ones are gone). */
  *records(): IterableIterator<IndexRecord> {
    for (let i = 0; i < this.count; i++) yield this.ring[(this.head + i) % this.count]!;
  }

  // ---- internals ----

  /** Lower-cased host names, interned: a few hosts account for millions of records. */
  private readonly hosts = new Map<string, string>();
  private hostKey(computer: string): string {
    let key = this.hosts.get(computer);
    if (key === undefined) {
      if (this.hosts.size >= 100_000) this.hosts.clear();
      key = String(computer ?? '').toLowerCase(); // a decoder gap must not stop correlation
      this.hosts.set(computer, key);
    }
    return key;
  }

  /**
   * Strings that repeat across records (provider, channel, image, user, parent GUID), kept once. Every decoded
   * event brings its own copies; the index holds up to `capacity` records for a long time, and sharing them
   * means fewer and smaller objects for the garbage collector to trace on every major collection (measured on
   * the serve benchmark's Sysmon process starts: 786 → 558 bytes retained per event). Bounded: starts over when full.
   */
  private readonly shared = new Map<string, string>();
  private intern<T extends string | undefined>(s: T): T {
    if (s === undefined) return s;
    const kept = this.shared.get(s);
    if (kept !== undefined) return kept as T;
    if (this.shared.size >= INTERN_MAX) this.shared.clear();
    this.shared.set(s, s);
    return s;
  }

  private refOf(ev: WinEvent): EventRef {
    const s = ev.system;
    // One shape for every record (record_id may be undefined: renderers drop undefined members).
    return { provider: this.intern(s.provider), channel: this.intern(s.channel), event_id: s.eventId, time: s.timeCreated, record_id: s.recordId };
  }

  private startRecord(ev: WinEvent, seq: number, host: string, ms: number, ref: EventRef): StartRecord {
    const f = processFacts(ev);
    return {
      seq, kind: 'start', host, ms, ref,
      pid: f.pid, guid: f.guid, parentPid: f.parentPid, parentGuid: this.intern(f.parentGuid),
      image: this.intern(f.image), commandLine: f.commandLine !== undefined ? cut(f.commandLine) : undefined, user: this.intern(f.user),
    };
  }

  /** Latest start of host+pid at or before `ms` (ties: the later-inserted); `exclude` is never returned. */
  private latestStartAtOrBefore(host: string, pid: number, ms: number, guid?: string, exclude?: StartRecord): StartRecord | undefined {
    const list = this.startsByPid.get(host, pid);
    for (let i = firstAfter(list, ms) - 1; i >= 0; i--) {
      const s = list[i]!;
      if (s === exclude) continue;
      if (guid && s.guid && s.guid !== guid) continue;
      return s;
    }
    return undefined;
  }

  /** Time of the next start of the same host+pid after `rec` (PID reuse bound), or +∞. */
  private nextStartMs(rec: StartRecord): number {
    if (rec.pid === undefined) return Number.POSITIVE_INFINITY;
    const starts = this.startsByPid.get(rec.host, rec.pid);
    return starts[firstAfter(starts, rec.ms)]?.ms ?? Number.POSITIVE_INFINITY;
  }

  private addStart(r: StartRecord): void {
    this.append(r);
    if (r.guid) this.startByGuid.set(r.host, r.guid, r);
    if (r.pid !== undefined) this.startsByPid.add(r.host, r.pid, r);
    if (r.parentGuid) this.childrenByGuid.add(r.host, r.parentGuid, r);
    if (r.parentPid !== undefined) this.childrenByPid.add(r.host, r.parentPid, r);
  }

  private addEnd(r: EndRecord): void {
    this.append(r);
    if (r.guid) this.endByGuid.set(r.host, r.guid, r);
    if (r.pid !== undefined) this.endsByPid.add(r.host, r.pid, r);
  }

  private addEvidence(r: EvidenceRecord): void {
    this.append(r);
    if (r.guid) this.evidenceByGuid.add(r.host, r.guid, r);
    if (r.pid !== undefined) this.evidenceByPid.add(r.host, r.pid, r);
  }

  /** Appends to the ring; when full, the oldest record is unlinked from every index and replaced. */
  private append(r: IndexRecord): void {
    if (this.count === this.capacity) {
      const oldest = this.ring[this.head]!;
      this.unlink(oldest);
      this.evictedCount++;
      this.ring[this.head] = r;
      this.head = (this.head + 1) % this.capacity;
      return;
    }
    // Until the ring is full, head is 0 and records are appended (small inputs allocate only what they use).
    this.ring.push(r);
    this.count++;
  }

  private unlink(r: IndexRecord): void {
    r.dead = true;
    if (r.kind === 'start') {
      if (r.guid) this.startByGuid.deleteIf(r.host, r.guid, r);
      if (r.pid !== undefined) this.startsByPid.remove(r.host, r.pid, r);
      if (r.parentGuid) this.childrenByGuid.remove(r.host, r.parentGuid, r);
      if (r.parentPid !== undefined) this.childrenByPid.remove(r.host, r.parentPid, r);
    } else if (r.kind === 'end') {
      if (r.guid) this.endByGuid.deleteIf(r.host, r.guid, r);
      if (r.pid !== undefined) this.endsByPid.remove(r.host, r.pid, r);
    } else {
      if (r.guid) this.evidenceByGuid.remove(r.host, r.guid, r);
      if (r.pid !== undefined) this.evidenceByPid.remove(r.host, r.pid, r);
    }
  }
}

/**
 * A host logging both Sysmon 1 and Security 4688 records each process twice (timestamps a few ms apart).
 * Keep one per PID + image within 2 s, preferring the Sysmon record (it has the GUID and more fields).
 */
function sameProcessOnce(starts: StartRecord[]): StartRecord[] {
  const kept: StartRecord[] = [];
  const byPid = new Map<number, StartRecord[]>();
  for (const s of starts) {
    if (s.pid === undefined) {
      kept.push(s);
      continue;
    }
    const peers = byPid.get(s.pid) ?? [];
    const twin = peers.find((p) => Math.abs(p.ms - s.ms) <= 2000 && (p.image ?? '').toLowerCase() === (s.image ?? '').toLowerCase() && (p.guid === undefined) !== (s.guid === undefined));
    if (twin) {
      if (s.guid && !twin.guid) kept[kept.indexOf(twin)] = s;
      continue;
    }
    peers.push(s);
    byPid.set(s.pid, peers);
    kept.push(s);
  }
  return kept;
}

function evidenceDetail(kind: EvidenceKind, ev: WinEvent): Record<string, string | number> {
  const d = ev.data;
  const out: Record<string, string | number> = {};
  const put = (key: string, v: string | number | undefined): void => {
    if (v !== undefined) out[key] = typeof v === 'string' ? cut(v, 1024) : v;
  };
  if (kind === 'network') {
    put('destination_ip', str(d['DestinationIp']));
    put('destination_hostname', str(d['DestinationHostname']));
    put('destination_port', pidOf(d['DestinationPort']));
    put('protocol', str(d['Protocol']));
    put('initiated', str(d['Initiated']));
    put('source_ip', str(d['SourceIp']));
  } else if (kind === 'dns') {
    put('query', str(d['QueryName']));
    put('results', str(d['QueryResults']));
    put('status', str(d['QueryStatus']));
  } else {
    put('path', str(d['TargetFilename']));
  }
  put('image', str(d['Image']));
  return out;
}

/**
 * The records of one key (a PID, a parent, a GUID) in time order. Appends are O(1) whatever the input order
 * (exports from Get-WinEvent are newest-first); the list is sorted only when read, which happens for alerts
 * only. Evicted records are marked dead and compacted away in bulk, so a key with tens of thousands of records
 * (services.exe's children, a browser's connections) never costs a shift or splice per eviction.
 */
class TimeList<T extends Listed> {
  private items: T[] = [];
  private deadCount = 0;
  private sorted = true;

  add(r: T): void {
    const last = this.items[this.items.length - 1];
    if (last && (last.ms > r.ms || (last.ms === r.ms && last.seq > r.seq))) this.sorted = false;
    this.items.push(r);
  }

  /** `r` is already marked dead. Returns true when the list holds nothing live any more. */
  remove(): boolean {
    this.deadCount++;
    if (this.deadCount === this.items.length) return true;
    if (this.deadCount > 16 && this.deadCount * 2 > this.items.length) this.compact();
    return false;
  }

  live(): readonly T[] {
    if (this.deadCount > 0) this.compact();
    if (!this.sorted) {
      this.items.sort((a, b) => a.ms - b.ms || a.seq - b.seq);
      this.sorted = true;
    }
    return this.items;
  }

  private compact(): void {
    this.items = this.items.filter((x) => !x.dead);
    this.deadCount = 0;
  }
}

const NONE: readonly never[] = [];

/** Index of the first record with `ms` at or after `ms` in a time-ordered list (its length if none). */
function firstAtOrAfter(list: readonly Listed[], ms: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.ms < ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first record with `ms` strictly after `ms` in a time-ordered list (its length if none). */
function firstAfter(list: readonly Listed[], ms: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.ms <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

type Listed = { ms: number; seq: number; dead?: true };

/** One record per (host, key), e.g. the start of a ProcessGuid. */
class HostMap<K, V> {
  private readonly byHost = new Map<string, Map<K, V>>();

  get(host: string, key: K): V | undefined {
    return this.byHost.get(host)?.get(key);
  }

  set(host: string, key: K, value: V): void {
    let m = this.byHost.get(host);
    if (!m) this.byHost.set(host, (m = new Map()));
    m.set(key, value);
  }

  /** Deletes only if the entry is still `value` (a later record for the same key may have replaced it). */
  deleteIf(host: string, key: K, value: V): void {
    const m = this.byHost.get(host);
    if (m?.get(key) !== value) return;
    m.delete(key);
    if (m.size === 0) this.byHost.delete(host);
  }
}

/**
 * Records per (host, key) in time order. Most keys hold one record, stored as is; a second one upgrades the
 * slot to a TimeList.
 */
class HostLists<K, T extends Listed> {
  private readonly byHost = new Map<string, Map<K, T | TimeList<T>>>();

  add(host: string, key: K, r: T): void {
    let m = this.byHost.get(host);
    if (!m) this.byHost.set(host, (m = new Map()));
    const slot = m.get(key);
    if (slot === undefined) m.set(key, r);
    else if (slot instanceof TimeList) slot.add(r);
    else {
      const list = new TimeList<T>();
      list.add(slot);
      list.add(r);
      m.set(key, list);
    }
  }

  /** `r` is already marked dead. */
  remove(host: string, key: K, r: T): void {
    const m = this.byHost.get(host);
    const slot = m?.get(key);
    if (!m || slot === undefined) return;
    if (slot instanceof TimeList ? slot.remove() : slot === r) m.delete(key);
    if (m.size === 0) this.byHost.delete(host);
  }

  get(host: string, key: K): readonly T[] {
    const slot = this.byHost.get(host)?.get(key);
    if (slot === undefined) return NONE;
    if (slot instanceof TimeList) return slot.live();
    return slot.dead ? NONE : [slot];
  }
}

/** Distinct strings the index shares at most (a few MB); past it the table starts over. */
const INTERN_MAX = 50_000;

function cut(s: string, max = MAX_KEPT_CHARS): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
