/**
 * Extent of a certreq alert: what happened to what it fetched and who else went where it went.
 *
 * - executed: processes on the same host, started after certreq, whose image is certreq's response file (the
 *   downloaded file ran), or script hosts (powershell, cmd, mshta, ...) whose command line names that file.
 *   One of these makes the alert critical; an alert on such a process gets `downloaded_by` pointing back.
 * - destination: other hosts whose network (Sysmon 3) or DNS (Sysmon 22) evidence reached the URL's host or an
 *   address the DNS evidence resolved it to, and other alerts with the same URL or the same uploaded file.
 *
 * Computed once, at the end of a scan (Correlator.finalize), from the records the process index still holds:
 * the lookups built here live only for that call, so they are bounded by the index's capacity and forget
 * exactly what the index evicted. Every list is capped; a capped list says so with a `truncated` flag.
 */
import { isIP } from 'node:net';
import { win32 } from 'node:path';
import type { Alert, AlertContext } from '../model/alert.js';
import { parseCertreqCommandLine } from '../triage/certreq.js';
import { basename } from '../triage/argv.js';
import { classifyPath } from '../triage/paths.js';
import { str } from './fields.js';
import type { EvidenceRecord, ProcessIndex, StartRecord } from './processIndex.js';

export interface ExtentLimits {
  /** Processes listed under executed (default 20). */
  executed: number;
  /** Other hosts listed under destination (default 20). */
  hosts: number;
  /** Processes listed per other host (default 10). */
  processesPerHost: number;
  /** Related alerts listed (same URL / upload file) and downloaded_by links (default 20). */
  alerts: number;
}

export const DEFAULT_EXTENT_LIMITS: ExtentLimits = { executed: 20, hosts: 20, processesPerHost: 10, alerts: 20 };

/** Programs that run a file named on their command line. */
export const SCRIPT_HOSTS = new Set(['powershell.exe', 'pwsh.exe', 'cscript.exe', 'wscript.exe', 'mshta.exe', 'rundll32.exe', 'regsvr32.exe', 'cmd.exe']);

/** Paths longer than this are not compared (no real Windows path is; bounds the work per record). */
const MAX_PATH_CHARS = 2048;

export interface CertreqFacts {
  alert: Alert;
  self: StartRecord | undefined;
  /** Normalised absolute response file, when it can be known without expanding variables. */
  responsePath?: string;
  responseFile?: string;
  url?: string;
  urlHost?: string;
  uploadKey?: string;
}

interface ExtentIndex {
  /** host → normalised image path → starts. */
  byImage: Map<string, Map<string, StartRecord[]>>;
  /** host → script-host starts with their command line prepared for searching (once, not per alert). */
  scriptHosts: Map<string, { r: StartRecord; ms: number; seq: number; line: string }[]>;
  /** destination host name or IP (lower case) → source host → network/DNS evidence that reached it. */
  byDestination: Map<string, Map<string, EvidenceRecord[]>>;
  /** queried name → IPs its answers held. */
  resolved: Map<string, Set<string>>;
}

/**
 * Adds `extent` to the context of the alerts it concerns and escalates certreq downloads whose file ran.
 * Alerts with nothing to report are left exactly as they were.
 */
export function applyExtent(alerts: readonly Alert[], index: ProcessIndex, limits: ExtentLimits = DEFAULT_EXTENT_LIMITS): void {
  const certreqs: CertreqFacts[] = [];
  for (const alert of alerts) {
    const facts = certreqFactsOf(alert, index);
    if (facts) certreqs.push(facts);
  }
  if (certreqs.length === 0) return;
  const lookups = buildIndex(index);
  const alertsByProcess = new Map<StartRecord, string[]>();
  const alertById = new Map<string, Alert>();
  for (const a of alerts) {
    alertById.set(a.id, a);
    const rec = index.processOf(a.event);
    if (!rec) continue;
    const ids = alertsByProcess.get(rec);
    if (ids) ids.push(a.id);
    else alertsByProcess.set(rec, [a.id]);
  }
  const byUrl = groupBy(certreqs, (c) => c.url);
  const byUpload = groupBy(certreqs, (c) => c.uploadKey);

  for (const c of certreqs) {
    const extent: Record<string, unknown> = {};
    const ran = executedBy(c, lookups, limits);
    if (ran.list.length > 0) {
      extent['executed'] = ran.list.map((r) => executedEntry(r, alertsByProcess.get(r)?.[0]));
      if (ran.truncated) extent['executed_truncated'] = true;
      escalate(c, ran.list[0]!, ran.total);
      for (const r of ran.list) {
        for (const id of alertsByProcess.get(r) ?? []) linkBack(alertById.get(id), c, limits);
      }
    }
    const destination = destinationOf(c, lookups, byUrl, byUpload, limits);
    if (destination) extent['destination'] = destination;
    if (Object.keys(extent).length > 0) mergeExtent(c.alert, extent);
  }
}

export function certreqFactsOf(alert: Alert, index: ProcessIndex): CertreqFacts | undefined {
  const intent = alert.context?.enrichments?.['certreq'] as { response_file?: string; upload_file?: string; url?: string } | undefined;
  if (!intent || (intent.response_file === undefined && intent.url === undefined && intent.upload_file === undefined)) return undefined;
  const self = index.startRecordOf(alert.event) ?? index.processOf(alert.event);
  const facts: CertreqFacts = { alert, self };
  if (intent.response_file !== undefined) {
    facts.responseFile = intent.response_file;
    const cwd = str(alert.event.data['CurrentDirectory']);
    const resolved = absolutePath(intent.response_file, cwd);
    if (resolved !== undefined) facts.responsePath = resolved;
  }
  if (intent.url !== undefined) {
    facts.url = canonicalUrl(intent.url);
    const host = hostOfUrl(intent.url);
    if (host !== undefined) facts.urlHost = host;
  }
  // win.ini / system.ini are the dummy body LOLBAS uses to make -Post work: sharing it says nothing.
  if (intent.upload_file !== undefined && !classifyPath(intent.upload_file).includes('windows_ini')) {
    const key = absolutePath(intent.upload_file, str(alert.event.data['CurrentDirectory']));
    if (key !== undefined) facts.uploadKey = key;
  }
  return facts;
}

/**
 * A path as Windows would open it, lower case, for comparison: `\\?\` and `\??\` prefixes dropped, `/` as `\`,
 * `.`/`..` collapsed, a relative path resolved against the process's directory. Undefined when it cannot be
 * known from the event alone: an unexpanded variable (%TEMP%, $env:TEMP), or a relative path without a
 * directory to resolve it against.
 */
export function absolutePath(path: string, cwd?: string): string | undefined {
  let p = path.trim().replace(/^"(.*)"$/, '$1').replace(/\//g, '\\');
  if (p === '' || p.length > MAX_PATH_CHARS || p.includes('%') || p.toLowerCase().includes('$env:')) return undefined;
  p = stripDevicePrefix(p);
  if (!isAbsoluteWin(p)) {
    const base = cwd !== undefined ? stripDevicePrefix(cwd.trim().replace(/\//g, '\\')) : undefined;
    if (base === undefined || !/^[a-z]:\\/i.test(base)) return undefined;
    p = win32.resolve(base, p);
  } else p = win32.normalize(p);
  return p.toLowerCase();
}

function stripDevicePrefix(p: string): string {
  if (p.startsWith('\\\\?\\UNC\\')) return `\\\\${p.slice(8)}`;
  if (p.startsWith('\\\\?\\') || p.startsWith('\\??\\')) return p.slice(4);
  return p;
}

function isAbsoluteWin(p: string): boolean {
  return /^[a-z]:\\/i.test(p) || p.startsWith('\\\\');
}

/** The URL as a comparison key (scheme and host lower case, default port dropped); as written when unparseable. */
export function canonicalUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url; // named reason: not a WHATWG URL; compared as written
  }
}

export function hostOfUrl(url: string): string | undefined {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  } catch {
    return undefined; // named reason: certreq accepted a -config that URL parsing does not; no host to follow
  }
}

function buildIndex(index: ProcessIndex): ExtentIndex {
  const out: ExtentIndex = { byImage: new Map(), scriptHosts: new Map(), byDestination: new Map(), resolved: new Map() };
  // Images repeat (the index interns them): each distinct one is normalised once.
  const normalised = new Map<string, string | undefined>();
  for (const r of index.records()) {
    if (r.kind === 'start') {
      if (r.image === undefined) continue;
      let image = normalised.get(r.image);
      if (image === undefined && !normalised.has(r.image)) normalised.set(r.image, (image = absolutePath(r.image)));
      if (image === undefined) continue;
      push(mapOf(out.byImage, r.host), image, r);
      if (SCRIPT_HOSTS.has(basename(image)) && r.commandLine !== undefined) {
        push(out.scriptHosts, r.host, { r, ms: r.ms, seq: r.seq, line: r.commandLine.replace(/\//g, '\\').toLowerCase() });
      }
    } else if (r.kind === 'network') {
      const name = text(r.detail['destination_hostname']);
      const ip = text(r.detail['destination_ip']);
      if (name) push(mapOf(out.byDestination, name), r.host, r);
      if (ip && ip !== name) push(mapOf(out.byDestination, ip), r.host, r);
    } else if (r.kind === 'dns') {
      const query = text(r.detail['query']);
      if (!query) continue;
      push(mapOf(out.byDestination, query), r.host, r);
      const ips = resultIps(text(r.detail['results']) ?? '');
      if (ips.length > 0) {
        let set = out.resolved.get(query);
        if (!set) out.resolved.set(query, (set = new Set()));
        for (const ip of ips) if (set.size < 64) set.add(ip);
      }
    }
  }
  for (const lists of [...out.byImage.values()].map((m) => [...m.values()]).flat()) lists.sort(byTime);
  for (const list of out.scriptHosts.values()) list.sort(byTime);
  return out;
}

/** Sysmon 22 QueryResults: "type:  5 cdn.example;::ffff:203.0.113.7;203.0.113.8;" → the addresses. */
export function resultIps(results: string): string[] {
  const ips: string[] = [];
  for (const part of results.split(';')) {
    const token = part.trim().replace(/^::ffff:/i, '').toLowerCase();
    if (token !== '' && isIP(token) !== 0) ips.push(token);
  }
  return ips;
}

function executedBy(c: CertreqFacts, x: ExtentIndex, limits: ExtentLimits): { list: StartRecord[]; total: number; truncated: boolean } {
  if (c.responsePath === undefined || !c.self) return { list: [], total: 0, truncated: false };
  const host = c.self.host;
  const after = c.self.ms;
  const found: StartRecord[] = [];
  // Twins share a PID: compare only within it, so a file run thousands of times costs linear time.
  const byPid = new Map<number | undefined, StartRecord[]>();
  const consider = (r: StartRecord): void => {
    if (r.ms <= after || r === c.self) return;
    const peers = byPid.get(r.pid);
    if (peers?.some((f) => sameProcess(f, r))) return;
    if (peers) peers.push(r);
    else byPid.set(r.pid, [r]);
    found.push(r);
  };
  for (const r of x.byImage.get(host)?.get(c.responsePath) ?? []) consider(r);
  const needle = c.responsePath;
  const scripts = x.scriptHosts.get(host) ?? [];
  for (let i = firstAfter(scripts, after); i < scripts.length; i++) {
    const { r, line } = scripts[i]!;
    if (!namesPath(line, needle)) continue;
    // Another certreq writing to the same file is a second download, not a run of the first.
    if (parseCertreqCommandLine(r.commandLine!) !== undefined) continue;
    consider(r);
  }
  found.sort(byTime);
  return { list: found.slice(0, limits.executed), total: found.length, truncated: found.length > limits.executed };
}

/** The command line names the path itself, not a longer name that starts with it (update.exe.bak, x.exe2). */
export function namesPath(line: string, path: string): boolean {
  for (let at = line.indexOf(path); at !== -1; at = line.indexOf(path, at + 1)) {
    const before = at === 0 ? '' : line[at - 1]!;
    const after = line[at + path.length] ?? '';
    // A backslash may precede (a \\?\ prefix) but not follow (then the path is a directory of another file).
    if (!NAME_CHAR.test(before) && !NAME_CHAR.test(after) && after !== '\\') return true;
  }
  return false;
}

/** Characters that continue a file name (a match followed or preceded by one is part of another name). */
const NAME_CHAR = /^[a-z0-9._$~-]$/;

/** A Sysmon 1 and a 4688 of one process (PID and image equal, within 2 s, one with a GUID) are listed once. */
export function sameProcess(a: StartRecord, b: StartRecord): boolean {
  if (a.guid !== undefined && b.guid !== undefined) return a.guid === b.guid;
  return a.pid === b.pid && Math.abs(a.ms - b.ms) <= 2000 && (a.image ?? '').toLowerCase() === (b.image ?? '').toLowerCase();
}

export function executedEntry(r: StartRecord, alertId: string | undefined): Record<string, unknown> {
  return compact({ pid: r.pid, guid: r.guid, image: r.image, command_line: r.commandLine, start: r.ref.time, alert_id: alertId });
}

function escalate(c: CertreqFacts, first: StartRecord, count: number): void {
  const ctx = c.alert.context as AlertContext;
  ctx.severity = 'critical';
  ctx.reason = ranReason(ctx.reason, c, first, count);
}

/** The reason of a certreq alert whose downloaded file ran: the triage reason, then what ran, when, as what. */
export function ranReason(base: string | undefined, c: Pick<CertreqFacts, 'responseFile' | 'responsePath'>, first: StartRecord, count: number): string {
  const more = count > 1 ? ` (and ${count - 1} more process${count === 2 ? '' : 'es'})` : '';
  const how = absolutePath(first.image ?? '') === c.responsePath ? '' : ` via ${basename(first.image ?? 'a script host')}`;
  return `${base ?? 'certreq download'} and the downloaded file ${c.responseFile} ran${how} at ${first.ref.time} as PID ${first.pid ?? '?'}${more}`;
}

function linkBack(target: Alert | undefined, c: CertreqFacts, limits: ExtentLimits): void {
  if (!target?.context || target === c.alert) return;
  const extent = (target.context['extent'] ??= {}) as Record<string, unknown>;
  const list = (extent['downloaded_by'] ??= []) as Record<string, unknown>[];
  if (list.some((l) => l['alert_id'] === c.alert.id)) return;
  if (list.length >= limits.alerts) {
    extent['downloaded_by_truncated'] = true;
    return;
  }
  list.push(compact({ alert_id: c.alert.id, file: c.responseFile, url: c.url }));
}

function destinationOf(
  c: CertreqFacts,
  x: ExtentIndex,
  byUrl: Map<string, CertreqFacts[]>,
  byUpload: Map<string, CertreqFacts[]>,
  limits: ExtentLimits,
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const ownHost = c.self?.host ?? c.alert.event.system.computer.toLowerCase();
  if (c.urlHost !== undefined) {
    const targets = new Set<string>([c.urlHost, ...(x.resolved.get(c.urlHost) ?? [])]);
    const hosts = new Map<string, { processes: Map<string, Record<string, unknown>>; truncated: boolean }>();
    let hostsTruncated = false;
    // Per alert the work is bounded by the caps, not by how much traffic went there: lists are per source host
    // and each stops at its first processesPerHost distinct processes.
    for (const t of targets) {
      for (const [source, records] of x.byDestination.get(t) ?? []) {
        if (source === ownHost) continue;
        let h = hosts.get(source);
        if (!h) {
          if (hosts.size >= limits.hosts) {
            hostsTruncated = true;
            break;
          }
          hosts.set(source, (h = { processes: new Map(), truncated: false }));
        }
        for (const e of records) {
          const key = e.guid ?? `pid:${e.pid ?? '?'}`;
          if (h.processes.has(key)) continue;
          if (h.processes.size >= limits.processesPerHost) {
            h.truncated = true;
            break;
          }
          h.processes.set(key, compact({ pid: e.pid, guid: e.guid, image: text(e.detail['image']), via: e.kind, first_seen: e.ref.time, reached: t }));
        }
      }
    }
    if (hosts.size > 0) {
      out['url_host'] = c.urlHost;
      const resolved = [...targets].filter((t) => t !== c.urlHost);
      if (resolved.length > 0) out['resolved_ips'] = resolved.slice(0, 16);
      out['hosts'] = [...hosts].map(([host, h]) => ({ host, processes: [...h.processes.values()], ...(h.truncated ? { truncated: true } : {}) }));
      if (hostsTruncated) out['hosts_truncated'] = true;
    }
  }
  const related: Record<string, unknown>[] = [];
  let relatedTruncated = false;
  const seen = new Set<string>([c.alert.id]);
  const addRelated = (peers: CertreqFacts[] | undefined, same: string): void => {
    for (const p of peers ?? []) {
      if (seen.has(p.alert.id)) continue;
      seen.add(p.alert.id);
      if (related.length >= limits.alerts) {
        relatedTruncated = true;
        return;
      }
      related.push({ alert_id: p.alert.id, host: p.alert.event.system.computer, time: p.alert.event.system.timeCreated, same });
    }
  };
  if (c.url !== undefined) addRelated(byUrl.get(c.url), 'url');
  if (c.uploadKey !== undefined) addRelated(byUpload.get(c.uploadKey), 'upload_file');
  if (related.length > 0) {
    out['alerts'] = related;
    if (relatedTruncated) out['alerts_truncated'] = true;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function mergeExtent(alert: Alert, extent: Record<string, unknown>): void {
  const ctx = alert.context as AlertContext;
  const existing = ctx['extent'] as Record<string, unknown> | undefined;
  ctx['extent'] = existing ? { ...extent, ...existing } : extent;
}

function groupBy(items: CertreqFacts[], key: (c: CertreqFacts) => string | undefined): Map<string, CertreqFacts[]> {
  const out = new Map<string, CertreqFacts[]>();
  for (const c of items) {
    const k = key(c);
    if (k === undefined) continue;
    const list = out.get(k);
    if (list) list.push(c);
    else out.set(k, [c]);
  }
  return out;
}

function mapOf<K, V>(m: Map<string, Map<K, V>>, host: string): Map<K, V> {
  let inner = m.get(host);
  if (!inner) m.set(host, (inner = new Map()));
  return inner;
}

function push<T>(m: Map<string, T[]>, key: string, v: T): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}


export function text(v: string | number | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : String(v).toLowerCase();
}

/** Index of the first entry strictly after `ms` in a time-ordered list. */
function firstAfter(list: readonly { ms: number }[], ms: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.ms <= ms) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function byTime(a: { ms: number; seq: number }, b: { ms: number; seq: number }): number {
  return a.ms - b.ms || a.seq - b.seq;
}

export function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}
