/**
 * Extent of certreq alerts in a long-running service (`serve`, `worker`): the same facts as `scan`'s extent
 * (extent.ts), kept up to date as later events arrive, the way followed alerts keep their tree up to date.
 *
 * - A certreq alert with a response file, a URL or an uploaded file is followed (newest `followed` kept).
 * - A later process start on the same host whose image is the response file, or a script host whose command
 *   line names it, is listed under `executed`; the alert becomes critical with a reason saying what ran. An
 *   alert on that process (made then or later) gets `extent.downloaded_by` pointing back, and the certreq
 *   alert's executed entry names it (`alert_id`).
 * - Network (Sysmon 3) and DNS (Sysmon 22) evidence of another host reaching the URL's host, or an address DNS
 *   answers resolved it to, is listed under `destination.hosts` — evidence that arrived before the alert too:
 *   a bounded destination memory (`destinations` names/addresses, `destinationEntries` records) keeps who
 *   reached what, oldest names forgotten first.
 * - Another certreq alert with the same URL or uploaded file is listed under `destination.alerts`, both ways.
 *
 * Each change marks the alert; `take()` returns the alerts whose extent changed since they were last reported
 * (an update of a stored alert). What is remembered is bounded by the caps below, and every eviction is
 * counted (`stats()`). Limits of the live view, compared to `scan`: an execution that arrives before its
 * download is not matched (scan sees the whole input at the end); a followed alert evicted keeps the extent
 * it had; destination evidence older than what the destination memory holds is not listed.
 */
import type { Alert, AlertContext, Severity } from '../model/alert.js';
import { basename } from '../triage/argv.js';
import { parseCertreqCommandLine } from '../triage/certreq.js';
import {
  absolutePath,
  certreqFactsOf,
  compact,
  DEFAULT_EXTENT_LIMITS,
  executedEntry,
  namesPath,
  ranReason,
  resultIps,
  sameProcess,
  SCRIPT_HOSTS,
  text,
  type ExtentLimits,
} from './extent.js';
import type { EvidenceRecord, IndexRecord, ProcessIndex, StartRecord } from './processIndex.js';

export interface LiveExtentLimits extends ExtentLimits {
  /** certreq alerts followed for later executions and destinations (newest kept; default 5,000). */
  followed: number;
  /** Destination names/addresses remembered with the hosts that reached them (oldest out; default 20,000). */
  destinations: number;
  /** Evidence records held by the destination memory in all (oldest names out beyond it; default 200,000). */
  destinationEntries: number;
  /** DNS names whose answers (addresses) are remembered (oldest out; default 20,000). */
  resolved: number;
}

export const DEFAULT_LIVE_EXTENT_LIMITS: LiveExtentLimits = {
  ...DEFAULT_EXTENT_LIMITS,
  followed: 5_000,
  destinations: 20_000,
  destinationEntries: 200_000,
  resolved: 20_000,
};

/** A later extent of a followed alert (and, once its file ran, its new severity and reason). */
export interface ExtentUpdate {
  id: string;
  extent: Record<string, unknown>;
  severity?: Severity;
  reason?: string;
}

export interface LiveExtentStats {
  followed: number;
  followedEvicted: number;
  destinations: number;
  destinationEntries: number;
  destinationsEvicted: number;
  resolvedEvicted: number;
}

interface HostSeen {
  processes: Map<string, Record<string, unknown>>;
  truncated: boolean;
}

interface Watch {
  id: string;
  host: string;
  ms: number;
  computer: string;
  time: string;
  self: StartRecord | undefined;
  responsePath?: string;
  responseFile?: string;
  url?: string;
  urlHost?: string;
  uploadKey?: string;
  baseReason: string | undefined;
  executed: StartRecord[];
  executedTotal: number;
  executedAlert: Map<StartRecord, string>;
  targets: Set<string>;
  hosts: Map<string, HostSeen>;
  hostsTruncated: boolean;
  related: Map<string, Record<string, unknown>>;
  relatedTruncated: boolean;
  /** JSON of the extent last reported (or stored with the alert). */
  reported: string;
}

/** Undo of a change made for a batch whose commit may still fail (the correlator's journal). */
export type Journal = (undo: () => void) => void;

export class LiveExtent {
  private readonly limits: LiveExtentLimits;
  private readonly watches = new Map<string, Watch>();
  private readonly byResponse = new Map<string, Map<string, Set<string>>>();
  private readonly scriptWatch = new Map<string, Set<string>>();
  private readonly byTarget = new Map<string, Set<string>>();
  private readonly byUrl = new Map<string, Set<string>>();
  private readonly byUpload = new Map<string, Set<string>>();
  private readonly execToWatch = new Map<StartRecord, string[]>();
  /** destination (lower case) → source host → the first evidence records of distinct processes. */
  private readonly dest = new Map<string, Map<string, EvidenceRecord[]>>();
  private destEntries = 0;
  private readonly resolved = new Map<string, Set<string>>();
  private readonly images = new Map<string, string | undefined>();
  private readonly dirty = new Set<string>();
  private counts = { followedEvicted: 0, destinationsEvicted: 0, resolvedEvicted: 0 };

  constructor(
    private readonly index: ProcessIndex,
    limits: Partial<LiveExtentLimits> = {},
    private readonly journal: Journal = () => {},
  ) {
    this.limits = { ...DEFAULT_LIVE_EXTENT_LIMITS, ...limits };
  }

  stats(): LiveExtentStats {
    return { followed: this.watches.size, destinations: this.dest.size, destinationEntries: this.destEntries, ...this.counts };
  }

  /** Every record the process index took (after `index.add`). */
  observe(r: IndexRecord): void {
    if (r.kind === 'start') this.observeStart(r);
    else if (r.kind === 'network') {
      const name = text(r.detail['destination_hostname']);
      const ip = text(r.detail['destination_ip']);
      if (name) this.reached(name, r);
      if (ip && ip !== name) this.reached(ip, r);
    } else if (r.kind === 'dns') {
      const query = text(r.detail['query']);
      if (!query) return;
      this.reached(query, r);
      const ips = resultIps(text(r.detail['results']) ?? '');
      if (ips.length > 0) this.resolvedTo(query, ips);
    }
  }

  /**
   * A new alert: a certreq alert is followed (its extent so far goes into its context); an alert on a process
   * that ran a followed download gets `extent.downloaded_by` and the download's executed entry names it.
   */
  onAlert(alert: Alert): void {
    const ctx = alert.context;
    if (!ctx) return;
    const proc = this.index.processOf(alert.event);
    const ids = proc ? this.execToWatch.get(proc) : undefined;
    if (proc && ids) {
      for (const id of ids) {
        const w = this.watches.get(id);
        if (!w || w.id === alert.id) continue;
        if (!w.executedAlert.has(proc)) {
          w.executedAlert.set(proc, alert.id);
          this.journal(() => {
            if (w.executedAlert.get(proc) === alert.id) w.executedAlert.delete(proc);
          });
          this.dirty.add(w.id);
        }
        linkBack(ctx, w, this.limits.alerts);
      }
    }
    this.follow(alert);
  }

  /** Followed alerts whose extent changed since last reported, with the new extent (and severity, reason). */
  take(): ExtentUpdate[] {
    const out: ExtentUpdate[] = [];
    for (const id of this.dirty) {
      const w = this.watches.get(id);
      if (!w) continue;
      const extent = this.render(w);
      const json = JSON.stringify(extent);
      if (json === w.reported) continue;
      const before = w.reported;
      this.journal(() => {
        w.reported = before;
        this.dirty.add(id);
      });
      w.reported = json;
      out.push({ id, extent, ...this.escalation(w) });
    }
    this.dirty.clear();
    return out;
  }

  private follow(alert: Alert): void {
    const facts = certreqFactsOf(alert, this.index);
    if (!facts || this.watches.has(alert.id)) return;
    const ctx = alert.context as AlertContext;
    const w: Watch = {
      id: alert.id,
      host: facts.self?.host ?? alert.event.system.computer.toLowerCase(),
      ms: facts.self?.ms ?? Date.parse(alert.event.system.timeCreated),
      computer: alert.event.system.computer,
      time: alert.event.system.timeCreated,
      self: facts.self,
      baseReason: ctx.reason,
      executed: [],
      executedTotal: 0,
      executedAlert: new Map(),
      targets: new Set(),
      hosts: new Map(),
      hostsTruncated: false,
      related: new Map(),
      relatedTruncated: false,
      reported: '{}',
    };
    if (facts.responsePath !== undefined) w.responsePath = facts.responsePath;
    if (facts.responseFile !== undefined) w.responseFile = facts.responseFile;
    if (facts.url !== undefined) w.url = facts.url;
    if (facts.urlHost !== undefined) w.urlHost = facts.urlHost;
    if (facts.uploadKey !== undefined) w.uploadKey = facts.uploadKey;
    // Who reached the destination before this alert: the destination memory.
    if (w.urlHost !== undefined) {
      this.addTarget(w, w.urlHost);
      for (const ip of this.resolved.get(w.urlHost) ?? []) this.addTarget(w, ip);
    }
    // Other followed alerts with the same URL or uploaded file: listed both ways.
    const peers: Watch[] = [];
    for (const [map, key, same] of [[this.byUrl, w.url, 'url'], [this.byUpload, w.uploadKey, 'upload_file']] as const) {
      if (key === undefined) continue;
      for (const pid of map.get(key) ?? []) {
        const p = this.watches.get(pid);
        if (!p) continue;
        relate(w, p, same, this.limits.alerts);
        if (relate(p, w, same, this.limits.alerts)) {
          peers.push(p);
          this.dirty.add(p.id);
        }
      }
    }
    this.register(w);
    this.journal(() => {
      if (this.watches.get(w.id) !== w) return;
      this.unregister(w);
      for (const p of peers) {
        p.related.delete(w.id);
        this.dirty.add(p.id);
      }
    });
    const extent = this.render(w);
    if (Object.keys(extent).length > 0) {
      const existing = ctx['extent'] as Record<string, unknown> | undefined;
      ctx['extent'] = existing ? { ...extent, ...existing } : extent;
    }
    w.reported = JSON.stringify(extent);
    if (this.watches.size > this.limits.followed) {
      const oldest = this.watches.values().next().value!;
      this.unregister(oldest);
      this.counts.followedEvicted++;
    }
  }

  private register(w: Watch): void {
    this.watches.set(w.id, w);
    if (w.responsePath !== undefined) {
      addTo(mapOf(this.byResponse, w.host), w.responsePath, w.id);
      addTo(this.scriptWatch, w.host, w.id);
    }
    for (const t of w.targets) addTo(this.byTarget, t, w.id);
    if (w.url !== undefined) addTo(this.byUrl, w.url, w.id);
    if (w.uploadKey !== undefined) addTo(this.byUpload, w.uploadKey, w.id);
  }

  private unregister(w: Watch): void {
    this.watches.delete(w.id);
    this.dirty.delete(w.id);
    if (w.responsePath !== undefined) {
      const paths = this.byResponse.get(w.host);
      if (paths) {
        removeFrom(paths, w.responsePath, w.id);
        if (paths.size === 0) this.byResponse.delete(w.host);
      }
      removeFrom(this.scriptWatch, w.host, w.id);
    }
    for (const t of w.targets) removeFrom(this.byTarget, t, w.id);
    if (w.url !== undefined) removeFrom(this.byUrl, w.url, w.id);
    if (w.uploadKey !== undefined) removeFrom(this.byUpload, w.uploadKey, w.id);
    for (const r of w.executed) {
      const ids = this.execToWatch.get(r);
      if (!ids) continue;
      const i = ids.indexOf(w.id);
      if (i >= 0) ids.splice(i, 1);
      if (ids.length === 0) this.execToWatch.delete(r);
    }
  }

  private observeStart(r: StartRecord): void {
    if (r.image === undefined) return;
    const paths = this.byResponse.get(r.host);
    if (!paths) return;
    let image = this.images.get(r.image);
    if (image === undefined && !this.images.has(r.image)) {
      // A cache of normalised images, dropped whole when it grows (images repeat; bounded memory).
      if (this.images.size >= 10_000) this.images.clear();
      this.images.set(r.image, (image = absolutePath(r.image)));
    }
    if (image === undefined) return;
    for (const id of paths.get(image) ?? []) this.consider(this.watches.get(id), r);
    if (!SCRIPT_HOSTS.has(basename(image)) || r.commandLine === undefined) return;
    const line = r.commandLine.replace(/\//g, '\\').toLowerCase();
    let certreq: boolean | undefined;
    for (const id of this.scriptWatch.get(r.host) ?? []) {
      const w = this.watches.get(id);
      if (!w?.responsePath || !namesPath(line, w.responsePath)) continue;
      // Another certreq writing to the same file is a second download, not a run of the first.
      certreq ??= parseCertreqCommandLine(r.commandLine) !== undefined;
      if (!certreq) this.consider(w, r);
    }
  }

  private consider(w: Watch | undefined, r: StartRecord): void {
    if (!w || r.ms <= w.ms || r === w.self) return;
    if (w.executed.some((f) => f === r || sameProcess(f, r))) return;
    // Kept when the batch fails: the index keeps the start too, and the retry does not observe it again.
    w.executedTotal++;
    this.dirty.add(w.id);
    if (w.executed.length >= this.limits.executed) return;
    w.executed.push(r);
    const ids = this.execToWatch.get(r);
    if (ids) ids.push(w.id);
    else this.execToWatch.set(r, [w.id]);
  }

  /** Network/DNS evidence of `r.host` reached `target`: remembered, and told to the alerts that follow it. */
  private reached(target: string, r: EvidenceRecord): void {
    this.remember(target, r);
    for (const id of this.byTarget.get(target) ?? []) {
      const w = this.watches.get(id);
      if (w && this.addHost(w, r, target)) this.dirty.add(id);
    }
  }

  private remember(target: string, r: EvidenceRecord): void {
    let hosts = this.dest.get(target);
    if (!hosts) {
      this.dest.set(target, (hosts = new Map()));
      while (this.dest.size > this.limits.destinations) this.forgetOldestDestination();
    }
    let list = hosts.get(r.host);
    if (!list) {
      // One host beyond the listed ones is enough to say the list is truncated.
      if (hosts.size > this.limits.hosts) return;
      hosts.set(r.host, (list = []));
    }
    const key = processKey(r);
    if (list.length > this.limits.processesPerHost || list.some((e) => processKey(e) === key)) return;
    list.push(r);
    this.destEntries++;
    while (this.destEntries > this.limits.destinationEntries && this.dest.size > 1) this.forgetOldestDestination();
  }

  private forgetOldestDestination(): void {
    const [target, hosts] = this.dest.entries().next().value!;
    this.dest.delete(target);
    for (const list of hosts.values()) this.destEntries -= list.length;
    this.counts.destinationsEvicted++;
  }

  private resolvedTo(query: string, ips: string[]): void {
    let set = this.resolved.get(query);
    if (!set) {
      this.resolved.set(query, (set = new Set()));
      if (this.resolved.size > this.limits.resolved) {
        this.resolved.delete(this.resolved.keys().next().value!);
        this.counts.resolvedEvicted++;
      }
    }
    for (const ip of ips) if (set.size < 64) set.add(ip);
    for (const id of this.byTarget.get(query) ?? []) {
      const w = this.watches.get(id);
      if (!w || w.urlHost !== query) continue;
      for (const ip of ips) {
        if (w.targets.has(ip) || w.targets.size > 16) continue;
        this.addTarget(w, ip);
        addTo(this.byTarget, ip, w.id);
        this.dirty.add(w.id);
      }
    }
  }

  /** A destination the alert follows; hosts that reached it already (the destination memory) are listed. */
  private addTarget(w: Watch, target: string): void {
    w.targets.add(target);
    for (const list of this.dest.get(target)?.values() ?? []) for (const e of list) if (!e.dead) this.addHost(w, e, target);
  }

  /** Lists evidence of another host under the alert's destination; true when something was added. */
  private addHost(w: Watch, e: EvidenceRecord, target: string): boolean {
    if (e.host === w.host) return false;
    let h = w.hosts.get(e.host);
    if (!h) {
      if (w.hosts.size >= this.limits.hosts) {
        const was = w.hostsTruncated;
        w.hostsTruncated = true;
        return !was;
      }
      w.hosts.set(e.host, (h = { processes: new Map(), truncated: false }));
    }
    const key = processKey(e);
    if (h.processes.has(key)) return false;
    if (h.processes.size >= this.limits.processesPerHost) {
      const was = h.truncated;
      h.truncated = true;
      return !was;
    }
    h.processes.set(key, compact({ pid: e.pid, guid: e.guid, image: text(e.detail['image']), via: e.kind, first_seen: e.ref.time, reached: target }));
    return true;
  }

  private render(w: Watch): Record<string, unknown> {
    const extent: Record<string, unknown> = {};
    if (w.executed.length > 0) {
      extent['executed'] = w.executed.map((r) => executedEntry(r, w.executedAlert.get(r)));
      if (w.executedTotal > w.executed.length) extent['executed_truncated'] = true;
    }
    const destination: Record<string, unknown> = {};
    if (w.hosts.size > 0 && w.urlHost !== undefined) {
      destination['url_host'] = w.urlHost;
      const resolved = [...w.targets].filter((t) => t !== w.urlHost);
      if (resolved.length > 0) destination['resolved_ips'] = resolved.slice(0, 16);
      destination['hosts'] = [...w.hosts].map(([host, h]) => ({ host, processes: [...h.processes.values()], ...(h.truncated ? { truncated: true } : {}) }));
      if (w.hostsTruncated) destination['hosts_truncated'] = true;
    }
    if (w.related.size > 0) {
      destination['alerts'] = [...w.related.values()];
      if (w.relatedTruncated) destination['alerts_truncated'] = true;
    }
    if (Object.keys(destination).length > 0) extent['destination'] = destination;
    return extent;
  }

  private escalation(w: Watch): { severity?: Severity; reason?: string } {
    const first = w.executed[0];
    if (!first) return {};
    return { severity: 'critical', reason: ranReason(w.baseReason, w, first, w.executedTotal) };
  }
}

/** Lists `other` under `w`'s related alerts; true when it was added. */
function relate(w: Watch, other: Watch, same: 'url' | 'upload_file', cap: number): boolean {
  if (w.related.has(other.id)) return false;
  if (w.related.size >= cap) {
    const was = w.relatedTruncated;
    w.relatedTruncated = true;
    return !was;
  }
  w.related.set(other.id, { alert_id: other.id, host: other.computer, time: other.time, same });
  return true;
}

function linkBack(ctx: AlertContext, w: Watch, cap: number): void {
  const extent = (ctx['extent'] ??= {}) as Record<string, unknown>;
  const list = (extent['downloaded_by'] ??= []) as Record<string, unknown>[];
  if (list.some((l) => l['alert_id'] === w.id)) return;
  if (list.length >= cap) {
    extent['downloaded_by_truncated'] = true;
    return;
  }
  list.push(compact({ alert_id: w.id, file: w.responseFile, url: w.url }));
}

function processKey(e: { guid?: string | undefined; pid?: number | undefined }): string {
  return e.guid ?? `pid:${e.pid ?? '?'}`;
}

function mapOf<V>(m: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let inner = m.get(key);
  if (!inner) m.set(key, (inner = new Map()));
  return inner;
}

function addTo(m: Map<string, Set<string>>, key: string, id: string): void {
  let set = m.get(key);
  if (!set) m.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(m: Map<string, Set<string>>, key: string, id: string): void {
  const set = m.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) m.delete(key);
}
