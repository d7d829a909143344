/**
 * Correlation and triage: detections + the surrounding events → enriched alerts. Every alert gets, in
 * `alert.context` (rendered as the `procwatch` object): severity, a one-line reason and the fields of the
 * enrichers its rule chose (src/enrich: the certreq intent),
 * the process tree and lifetime, evidence of the same process (network, DNS, files), its incident, and
 * whether a suppression matched; at the end of a scan (finalize), the extent of certreq alerts (extent.ts).
 *
 * `scan` feeds every event to `observe`, collects `alertsFor` results and calls `finalize` at the end of input:
 * trees, lifetimes and incidents are then recomputed from the whole index in time order, so files that are not
 * in time order (or terminations before creations) give the same answer as a sorted input. `serve` uses
 * `observe` + `alertsFor`, and `takeContextUpdates` after each batch: an alert's context is what is known when
 * it fires, and the correlator follows the alerting process (an index from process key → alert ids, bounded)
 * so that its later termination, children and network/DNS/file evidence update the stored alert. Severity,
 * reason and incident are decided when the alert fires and never change retroactively.
 *
 * Alerts follow commits (`serve`, `worker`): between `begin()` and `confirm()` / `rollback()` the alerts made
 * are candidates. Their ids are not remembered for de-duplication, and what they did to incidents, followed
 * alerts, the suppressed list and live-context digests is journalled; `confirm()` (the commit that stores them
 * succeeded) keeps it and `rollback()` (it failed) undoes it, so a retried batch raises its alerts again.
 * Without `begin()` (`scan`) every alert is final at once.
 */
import { createHash, hash } from 'node:crypto';
import type { Alert, AlertContext, Detection, Severity } from '../model/alert.js';
import type { WinEvent } from '../model/event.js';
import type { ProcessEvent } from '../model/process.js';
import { eventKey } from '../model/event.js';
import { toProcessEvent } from '../model/toProcess.js';
import { DEFAULT_INCIDENTS, loadTriageConfig, parseTriageConfig, type IncidentSettings, type TriageConfig, type TriageConfigInput } from '../triage/config.js';
import { builtinEnrichers, enrichAlert, type EnricherRegistry } from '../enrich/index.js';
import { Suppressor } from '../triage/suppress.js';
import { activityOf, processFacts, timeOf, type ProcessFacts } from './fields.js';
import { applyExtent } from './extent.js';
import { LiveExtent, type LiveExtentLimits, type LiveExtentStats } from './extentLive.js';
import { IncidentTracker, type Incident } from './incidents.js';
import { ProcessIndex, type EvidenceRecord, type IndexRecord, type StartRecord } from './processIndex.js';

export type { Incident } from './incidents.js';
export { ConfigError } from '../configError.js';
export { CONTEXT_EVENTS } from './fields.js';

export interface CorrelatorOptions {
  /** Path of a YAML config with suppressions, groups and incident settings (see src/triage/config.ts). */
  configPath?: string;
  /** The same config given inline (the service passes the part of its own config file); wins over configPath. */
  config?: TriageConfigInput;
  /** Group incidents by host and user instead of host only (CLI: --incident-by-user). */
  groupByUser?: boolean;
  /** Inactivity gap that closes an incident, ms (default 30 min; CLI: --incident-gap 30m). */
  incidentGapMs?: number;
  /** Maximum time from an incident's first to last alert, ms (default 24 h; CLI: --incident-span 24h). */
  incidentSpanMs?: number;
  /** Process index capacity in records; the oldest are evicted beyond it (default 200,000). */
  indexCapacity?: number;
  /** Parent levels reported (default 5) and children listed (default 20). */
  treeDepth?: number;
  maxChildren?: number;
  /** Alert ids remembered for de-duplication in streaming use (default 200,000; the store dedupes durably). */
  dedupeCapacity?: number;
  /** Clock for suppression expiry (tests). */
  now?: () => Date;
  /**
   * Alerts followed for later events of their process (termination, children, evidence), newest kept
   * (default 20,000; 0 = none). Each costs its event (~1–3 KB); beyond it the oldest keep the context they have.
   */
  watchCapacity?: number;
  /** Caps of the live extent of certreq alerts (streaming use, watchCapacity > 0; see extentLive.ts). */
  extent?: Partial<LiveExtentLimits>;
  /** The enrichers rules choose from (src/enrich); default the built-in ones (certreq). */
  enrichers?: EnricherRegistry;
  /**
   * alertsFor makes alerts without context, incident or suppression: `finalize` builds all of it (scan). The
   * context alertsFor would build is entirely rebuilt there, so building it twice only cost time and memory.
   */
  deferContext?: boolean;
}

/** The parts of an alert's context that later events of its process complete. */
export const LIVE_CONTEXT_KEYS = ['process_tree', 'lifetime', 'evidence'] as const;
export type LiveContext = { process_tree?: unknown; lifetime?: unknown; evidence?: unknown };

/** An alert whose live context changed since it was last reported (by alertsFor or a previous update). */
export interface ContextUpdate {
  /** The alert id (as alertsFor made it). */
  id: string;
  /** The new process_tree, lifetime and evidence (evidence absent when there is none); or the new extent. */
  context: LiveContext & { extent?: Record<string, unknown> };
  /** A certreq alert whose downloaded file ran: raised to critical, with a reason saying so (extent). */
  severity?: Severity;
  reason?: string;
}

/** What is kept of a followed alert: its event (to find its process) and a digest of its last live context. */
interface Followed {
  id: string;
  event: WinEvent;
  digest: string;
  keys: ProcessKey[];
}

/** Host (lower case) and GUID (string) or PID (number): GUIDs and PIDs never collide as map keys. */
type ProcessKey = [host: string, id: string | number];

/** The keys enrichAlert puts first in a context; tree, lifetime and evidence follow them. */
const GRADE_KEYS: ReadonlySet<string> = new Set(['severity', 'reason', 'grade', 'enrichments']);

/** Suppressed alerts kept for listing in long-running use (scan lists all of its own through finalize). */
const MAX_SUPPRESSED_LISTED = 10_000;

/** Evidence items listed per kind; the total is reported beside them. */
const MAX_EVIDENCE = 20;

export class Correlator {
  private readonly index: ProcessIndex;
  private readonly suppressor: Suppressor;
  private readonly enrichers: EnricherRegistry;
  private readonly deferContext: boolean;
  /** Alerts finalised without their live context (finalize liveLater); complete() adds it. */
  private readonly pendingLive = new WeakSet<Alert>();
  private lastCompleted: { event: WinEvent; live: AlertContext; process: ProcessEvent | undefined } | undefined;
  private readonly incidentSettings: IncidentSettings;
  private tracker: IncidentTracker;
  private readonly seen = new Map<string, true>();
  private readonly dedupeCapacity: number;
  private readonly treeDepth: number;
  private readonly maxChildren: number;
  /** The most recent suppressed alerts (bounded for long-running use) and how many there were in all. */
  private suppressedAlerts: Alert[] = [];
  private suppressedTotal = 0;
  private duplicates = 0;
  /** Host → process key (GUID string or PID number) → ids of the alerts that process's activity can change. */
  private readonly watchers = new Map<string, Map<string | number, string[]>>();
  /** Followed alerts in the order they fired (the oldest is dropped first) and the keys they are filed under. */
  private readonly watched = new Map<string, Followed>();
  /** Followed alerts touched by events since the last takeContextUpdates(). */
  private readonly dirty = new Set<string>();
  private readonly watchCapacity: number;
  /** The open batch (begin → confirm/rollback): candidate alert ids and how to undo what they changed. */
  private batch: { ids: Set<string>; undo: (() => void)[] } | undefined;
  /** Extent of certreq alerts kept up to date (streaming use only: scan computes it in finalize). */
  private readonly extent: LiveExtent | undefined;

  constructor(options: CorrelatorOptions = {}) {
    const config: TriageConfig = options.config !== undefined
      ? parseTriageConfig(options.config, 'config')
      : options.configPath !== undefined
        ? loadTriageConfig(options.configPath)
        : { incidents: {}, groups: new Map(), suppressions: [] };
    this.incidentSettings = {
      groupByUser: options.groupByUser ?? config.incidents.groupByUser ?? DEFAULT_INCIDENTS.groupByUser,
      gapMs: options.incidentGapMs ?? config.incidents.gapMs ?? DEFAULT_INCIDENTS.gapMs,
      spanMs: options.incidentSpanMs ?? config.incidents.spanMs ?? DEFAULT_INCIDENTS.spanMs,
    };
    this.index = new ProcessIndex(options.indexCapacity ?? config.indexCapacity ?? 200_000);
    this.suppressor = new Suppressor(config, options.now);
    this.enrichers = options.enrichers ?? builtinEnrichers();
    this.deferContext = options.deferContext === true;
    this.tracker = new IncidentTracker(this.incidentSettings);
    this.dedupeCapacity = options.dedupeCapacity ?? 200_000;
    this.treeDepth = options.treeDepth ?? 5;
    this.maxChildren = options.maxChildren ?? 20;
    this.watchCapacity = options.watchCapacity ?? 20_000;
    this.extent = this.watchCapacity > 0 ? new LiveExtent(this.index, { ...config.extent, ...options.extent }, (undo) => this.journal(undo)) : undefined;
  }

  /** Every decoded event passes through here (process index, terminations, network/file evidence). */
  observe(event: WinEvent): void {
    const rec = this.index.add(event);
    if (rec !== undefined) this.extent?.observe(rec);
    // Most events: no record (not process activity) or no followed alert on their keys — one lookup per key.
    if (rec !== undefined && this.watchers.size > 0) this.touch(rec);
  }

  /**
   * The followed alerts whose tree, lifetime or evidence changed because of events observed since the last
   * call, with the new values. Recomputed only for alerts an event touched; an event that changes nothing (a
   * PID reused later, a termination before the start, a re-sent event) gives no update. Severity, reason,
   * incident and suppression are not part of it: they stay as decided when the alert fired.
   */
  takeContextUpdates(): ContextUpdate[] {
    const out: ContextUpdate[] = [];
    for (const id of this.dirty) {
      const w = this.watched.get(id);
      if (!w) continue;
      const fresh = this.liveContextOf(w.event);
      if (!fresh) continue;
      const digest = digestOf(fresh);
      if (digest === w.digest) continue;
      const before = w.digest;
      // Rolled back: the update was not stored, so the next call must find it again.
      this.journal(() => {
        w.digest = before;
        this.dirty.add(id);
      });
      w.digest = digest;
      this.refile(w);
      out.push({ id, context: fresh });
    }
    this.dirty.clear();
    for (const u of this.extent?.take() ?? []) {
      out.push({ id: u.id, context: { extent: u.extent }, ...(u.severity ? { severity: u.severity } : {}), ...(u.reason !== undefined ? { reason: u.reason } : {}) });
    }
    return out;
  }

  /**
   * Turns the detections of one event into alerts (one per rule), with whatever context is known now.
   * An alert already produced (same rule, same event: a re-scan or a re-sent batch) is not produced again.
   */
  alertsFor(event: WinEvent, detections: Detection[]): Alert[] {
    const matchedRules = [...new Set(detections.map((d) => d.rule.id))];
    // Deferred (scan): complete() adds the process view when the alert is written.
    const process = this.deferContext ? undefined : toProcessEvent(event);
    const alerts: Alert[] = [];
    // The event's identity, once for all the rules it matched.
    const key = eventKey(event);
    for (const d of detections) {
      const id = alertId(d.rule.id, event, key);
      if (this.seen.has(id) || this.batch?.ids.has(id)) {
        this.duplicates++;
        continue;
      }
      if (this.batch) this.batch.ids.add(id);
      else this.remember(id);
      const alert: Alert = { id, rule: d.rule, event, ...(process ? { process } : {}), matchedRules };
      if (this.deferContext) {
        alerts.push(alert);
        continue;
      }
      alert.context = this.contextOf(alert);
      this.extent?.onAlert(alert);
      if (alert.context.suppressed) this.noteSuppressed(alert);
      else this.assignIncident(alert, this.tracker);
      this.follow(alert);
      alerts.push(alert);
    }
    return alerts;
  }

  /** Opens a batch: alerts made until confirm()/rollback() are candidates of one commit (see the header). */
  begin(): void {
    this.batch ??= { ids: new Set(), undo: [] };
  }

  /** The commit carrying the batch's alerts succeeded: they are remembered, their effects kept. */
  confirm(): void {
    const b = this.batch;
    this.batch = undefined;
    if (b) for (const id of b.ids) this.remember(id);
  }

  /** The commit failed: the batch leaves no trace in dedupe memory, incidents, followed alerts or suppressed list. */
  rollback(): void {
    const b = this.batch;
    this.batch = undefined;
    if (!b) return;
    for (let i = b.undo.length - 1; i >= 0; i--) b.undo[i]!();
  }

  private journal(undo: () => void): void {
    this.batch?.undo.push(undo);
  }

  /**
   * Recomputes context that later events may have changed (tree, lifetime, evidence, incidents) — call before
   * output. Returns the alerts de-duplicated and in time order; incidents are rebuilt in that order.
   */
  finalize(alerts: Alert[], options: { liveLater?: boolean } = {}): Alert[] {
    const unique = new Map<string, Alert>();
    for (const a of alerts) if (!unique.has(a.id)) unique.set(a.id, a);
    const ordered = [...unique.values()]
      .map((a, i) => ({ a, i, ms: timeOf(a.event) }))
      .sort((x, y) => x.ms - y.ms || x.i - y.i)
      .map((x) => x.a);
    this.tracker = new IncidentTracker(this.incidentSettings);
    this.suppressedAlerts = [];
    this.suppressedTotal = 0;
    for (const a of ordered) {
      a.context = this.contextOf(a, options.liveLater !== true);
      if (options.liveLater === true) this.pendingLive.add(a);
      else if (a.process === undefined && this.deferContext) this.withProcess(a);
    }
    // Extent may escalate an alert (its downloaded file ran): before incidents, which take their severity.
    applyExtent(ordered, this.index);
    for (const a of ordered) {
      if (a.context?.suppressed) this.noteSuppressed(a);
      else this.assignIncident(a, this.tracker);
    }
    // Incident severity and range are final only now: write them into every member.
    const byId = new Map(this.tracker.incidents().map((inc) => [inc.id, inc]));
    for (const a of ordered) {
      const ref = a.context?.incident;
      const inc = ref ? byId.get(ref.id) : undefined;
      if (a.context && ref && inc) a.context.incident = incidentContext(inc, ref.new);
    }
    return ordered;
  }

  /** Alerts a suppression matched (they are still returned by alertsFor/finalize, marked `context.suppressed`). */
  get suppressedCount(): number {
    return this.suppressedTotal;
  }

  /** The suppressed alerts (in a long-running service: the latest MAX_SUPPRESSED_LISTED of them). */
  suppressed(): readonly Alert[] {
    return this.suppressedAlerts;
  }

  /** Incidents known so far (after finalize: of the whole input), oldest first. */
  incidents(): Incident[] {
    return this.tracker.incidents();
  }

  /** What the live extent holds and forgot (undefined in scan mode). */
  extentStats(): LiveExtentStats | undefined {
    return this.extent?.stats();
  }

  /** Figures for the summary line and for tests. */
  stats(): { indexed: number; evicted: number; duplicates: number; suppressed: number; incidents: number; expiredSuppressions: string[] } {
    return {
      indexed: this.index.size,
      evicted: this.index.evicted,
      duplicates: this.duplicates,
      suppressed: this.suppressedTotal,
      incidents: this.tracker.incidents().length,
      expiredSuppressions: this.suppressor.expired().map((s) => s.id),
    };
  }

  /** Files a new alert under the keys of its process and of its listed children. */
  private follow(alert: Alert): void {
    if (this.watchCapacity <= 0) return;
    const w: Followed = { id: alert.id, event: alert.event, digest: digestOf(liveOf(alert.context)), keys: [] };
    this.watched.set(alert.id, w);
    this.refile(w);
    this.journal(() => {
      if (this.watched.get(w.id) !== w) return;
      this.watched.delete(w.id);
      this.dirty.delete(w.id);
      for (const k of w.keys) this.unfile(k, w.id);
    });
    if (this.watched.size > this.watchCapacity) {
      const [oldestId, oldest] = this.watched.entries().next().value!;
      this.watched.delete(oldestId);
      this.dirty.delete(oldestId);
      for (const k of oldest.keys) this.unfile(k, oldestId);
    }
  }

  /** (Re)computes the keys an alert is filed under: its process, and the children its tree lists now. */
  private refile(w: Followed): void {
    const self = this.index.processOf(w.event);
    const keys = new Map<string, ProcessKey>();
    const add = (host: string, id: string | number | undefined): void => {
      if (id !== undefined && id !== '') keys.set(`${host}\u0000${typeof id}\u0000${id}`, [host, id]);
    };
    if (self) {
      add(self.host, self.guid);
      add(self.host, self.pid);
      for (const c of this.index.childrenOf(self, this.maxChildren).children) {
        add(c.host, c.guid);
        add(c.host, c.pid);
      }
    }
    const had = new Set<string>();
    for (const k of w.keys) {
      const name = `${k[0]}\u0000${typeof k[1]}\u0000${k[1]}`;
      had.add(name);
      if (!keys.has(name)) this.unfile(k, w.id);
    }
    for (const [name, [host, id]] of keys) {
      if (had.has(name)) continue;
      let byId = this.watchers.get(host);
      if (!byId) this.watchers.set(host, (byId = new Map()));
      const list = byId.get(id);
      if (list) list.push(w.id);
      else byId.set(id, [w.id]);
    }
    w.keys = [...keys.values()];
  }

  private unfile([host, key]: ProcessKey, id: string): void {
    const byId = this.watchers.get(host);
    const list = byId?.get(key);
    if (!byId || !list) return;
    const i = list.indexOf(id);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) byId.delete(key);
    if (byId.size === 0) this.watchers.delete(host);
  }

  /**
   * Marks the alerts this record may change: its own process's, and (a start) its parent's. Hosts are the
   * index's interned lower-case names and keys its GUID strings / PID numbers: no key string is built here.
   */
  private touch(r: IndexRecord): void {
    const byId = this.watchers.get(r.host);
    if (!byId) return;
    this.mark(byId, r.guid);
    this.mark(byId, r.pid);
    if (r.kind === 'start') {
      this.mark(byId, r.parentGuid);
      this.mark(byId, r.parentPid);
    }
  }

  private mark(byId: Map<string | number, string[]>, key: string | number | undefined): void {
    if (key === undefined) return;
    const ids = byId.get(key);
    if (ids) for (const id of ids) this.dirty.add(id);
  }

  /** Tree, lifetime and evidence as the index knows them now; undefined once the process has left the index. */
  private liveContextOf(ev: WinEvent): LiveContext | undefined {
    const self = this.index.processOf(ev);
    if (!self || !this.index.holds(self)) return undefined;
    const activity = activityOf(ev);
    const facts: ProcessFacts = activity === 'start' || activity === 'end' ? processFacts(ev) : {};
    const live: LiveContext = { process_tree: this.treeOf(self, facts), lifetime: this.lifetimeOf(self) };
    const evidence = evidenceContext(this.index.evidenceOf(self));
    if (evidence) live.evidence = evidence;
    return live;
  }

  private noteSuppressed(alert: Alert): void {
    this.suppressedTotal++;
    this.suppressedAlerts.push(alert);
    this.journal(() => {
      this.suppressedTotal--;
      const i = this.suppressedAlerts.lastIndexOf(alert);
      if (i >= 0) this.suppressedAlerts.splice(i, 1);
    });
    if (this.suppressedAlerts.length > 2 * MAX_SUPPRESSED_LISTED) this.suppressedAlerts = this.suppressedAlerts.slice(-MAX_SUPPRESSED_LISTED);
  }

  private remember(id: string): void {
    this.seen.set(id, true);
    if (this.seen.size > this.dedupeCapacity) this.seen.delete(this.seen.keys().next().value!);
  }

  /**
   * An alert of `finalize(alerts, { liveLater: true })` with its process view, tree, lifetime and evidence, in the
   * key order finalize would have given them; the alert itself stays without them, so a writer that streams
   * alerts out holds these for one alert at a time. Any other alert is returned as it is.
   */
  complete(alert: Alert): Alert {
    if (!this.pendingLive.has(alert)) return alert;
    const ev = alert.event;
    // Alerts of one event are written one after the other: their process view and live context are the same.
    let last = this.lastCompleted;
    if (last?.event !== ev) {
      const activity = activityOf(ev);
      const facts: ProcessFacts = activity === 'start' || activity === 'end' ? processFacts(ev) : {};
      const self = activity === 'start' ? this.index.startRecordOf(ev) : this.index.processOf(ev);
      const live: AlertContext = {};
      if (self) this.addLive(live, self, facts);
      last = this.lastCompleted = { event: ev, live, process: toProcessEvent(ev) };
    }
    const ctx = alert.context ?? {};
    const out: AlertContext = {};
    let placed = false;
    for (const k in ctx) {
      if (!placed && !GRADE_KEYS.has(k)) {
        Object.assign(out, last.live);
        placed = true;
      }
      out[k] = ctx[k];
    }
    if (!placed) Object.assign(out, last.live);
    const process = alert.process ?? last.process;
    return { ...alert, ...(process ? { process } : {}), context: out };
  }

  private withProcess(a: Alert): void {
    const process = toProcessEvent(a.event);
    if (process) a.process = process;
  }

  private addLive(context: AlertContext, self: StartRecord, facts: ProcessFacts): void {
    context.process_tree = this.treeOf(self, facts);
    context.lifetime = this.lifetimeOf(self);
    const evidence = evidenceContext(this.index.evidenceOf(self));
    if (evidence) context.evidence = evidence;
  }

  /** The alert's context; without tree, lifetime and evidence when `live` is false (see complete). */
  private contextOf(alert: Alert, live = true): AlertContext {
    const ev = alert.event;
    const activity = activityOf(ev);
    const facts: ProcessFacts = activity === 'start' || activity === 'end' ? processFacts(ev) : {};
    const context: AlertContext = enrichAlert(alert, facts, this.enrichers);

    const self = activity === 'start' ? this.index.startRecordOf(ev) : this.index.processOf(ev);
    if (self && live) this.addLive(context, self, facts);

    const parentImage = facts.parentImage ?? (self ? this.index.parentOf(self)?.image : undefined);
    const hit = this.suppressor.size === 0 ? undefined : this.suppressor.match({
      ruleIds: [alert.rule.id],
      host: ev.system.computer,
      ...(facts.user !== undefined ? { user: facts.user } : {}),
      ...(facts.image !== undefined ? { image: facts.image } : {}),
      ...(parentImage !== undefined ? { parentImage } : {}),
      ...(facts.commandLine !== undefined ? { commandLine: facts.commandLine } : {}),
    });
    if (hit) context.suppressed = hit;
    return context;
  }

  private assignIncident(alert: Alert, tracker: IncidentTracker): void {
    const ev = alert.event;
    const user = processFacts(ev).user;
    const { incident, new: isNew, undo } = tracker.assign({
      alertId: alert.id,
      host: ev.system.computer,
      ...(user !== undefined ? { user } : {}),
      ms: timeOf(ev),
      time: ev.system.timeCreated,
      severity: (alert.context?.severity ?? alert.rule.level ?? 'medium') as Severity,
    });
    if (alert.context) alert.context.incident = incidentContext(incident, isNew);
    if (tracker === this.tracker) this.journal(undo);
  }

  private treeOf(self: StartRecord, facts: ProcessFacts): Record<string, unknown> {
    const parents = this.index.ancestorsOf(self, this.treeDepth).map((p) => this.node(p));
    // The parent's start is not in the input: the alerting event still names its parent (Sysmon Parent*,
    // 4688 ParentProcessName + creator PID) — report that, marked as known only from the child's event.
    if (parents.length === 0 && (facts.parentImage !== undefined || facts.parentPid !== undefined)) {
      parents.push(compact({
        pid: facts.parentPid,
        entity_id: facts.parentGuid,
        executable: facts.parentImage,
        command_line: facts.parentCommandLine,
        source: 'child event',
      }));
    }
    const { children, total } = this.index.childrenOf(self, this.maxChildren);
    return {
      process: this.node(self),
      parents,
      children: children.map((c) => this.node(c)),
      ...(total > children.length ? { children_total: total } : {}),
    };
  }

  private node(r: StartRecord): Record<string, unknown> {
    const end = this.index.endOf(r);
    return compact({
      pid: r.pid,
      entity_id: r.guid,
      executable: r.image,
      command_line: r.commandLine,
      user: r.user,
      start: r.ref.time,
      end: end?.ref.time,
      exit_code: end?.exitCode,
      event: compact({ provider: r.ref.provider, channel: r.ref.channel, event_id: r.ref.event_id, record_id: r.ref.record_id }),
    });
  }

  private lifetimeOf(self: StartRecord): Record<string, unknown> {
    const end = this.index.endOf(self);
    if (!end) return { start: self.ref.time, still_running: true, note: 'no termination event for this process in the input' };
    return compact({
      start: self.ref.time,
      end: end.ref.time,
      still_running: false,
      duration_ms: Math.max(0, Math.round((end.ms - self.ms) * 1000) / 1000),
      exit_code: end.exitCode,
      exit_status: end.exitCode !== undefined ? `0x${end.exitCode.toString(16)}` : undefined,
      end_event: compact({ provider: end.ref.provider, event_id: end.ref.event_id, record_id: end.ref.record_id }),
    });
  }
}

/** A short fingerprint of a live context: followed alerts keep this, not the context. */
function digestOf(live: LiveContext): string {
  return createHash('sha1').update(JSON.stringify(live)).digest('base64');
}

function liveOf(context: AlertContext | undefined): LiveContext {
  const live: LiveContext = { process_tree: context?.process_tree, lifetime: context?.lifetime };
  if (context?.evidence !== undefined) live.evidence = context.evidence;
  return live;
}

/** Stable across re-scans and re-sends: the rule and the event's identity (its content, see eventKey). */
export function alertId(ruleId: string, event: WinEvent, key: string = eventKey(event)): string {
  return hash('sha256', `${ruleId}|${key}`, 'hex').slice(0, 32);
}

function incidentContext(inc: Incident, isNew: boolean): { id: string; new: boolean } {
  const ctx = { id: inc.id, new: isNew, severity: inc.severity, first: inc.first, last: inc.last, alert_count: inc.alertIds.length };
  return ctx;
}

function evidenceContext(records: EvidenceRecord[]): Record<string, unknown> | undefined {
  if (records.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const [kind, key] of [['network', 'network'], ['dns', 'dns'], ['file', 'files']] as const) {
    const items = records.filter((r) => r.kind === kind);
    if (items.length === 0) continue;
    out[key] = items.slice(0, MAX_EVIDENCE).map((r) => {
      const { image: _image, ...detail } = r.detail;
      return compact({ time: r.ref.time, ...detail, event_id: r.ref.event_id, record_id: r.ref.record_id });
    });
    if (items.length > MAX_EVIDENCE) out[`${key}_total`] = items.length;
  }
  return out;
}

function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}
