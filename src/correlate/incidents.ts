/**
 * Incidents: alerts on the same host (optionally the same user) close together in time belong together.
 * An incident stays open while alerts keep coming within `gap` of the last one and no later than `span` after
 * its first; the next alert after that opens a new one. Ids are a hash of the group key and the opening alert,
 * so a re-scan of the same input gives the same ids.
 */
import { createHash } from 'node:crypto';
import type { Severity } from '../model/alert.js';
import { SEVERITIES } from '../model/alert.js';
import type { IncidentSettings } from '../triage/config.js';

export interface Incident {
  id: string;
  host: string;
  user?: string;
  severity: Severity;
  first: string;
  last: string;
  firstMs: number;
  lastMs: number;
  alertIds: string[];
}

export interface IncidentMember {
  alertId: string;
  host: string;
  user?: string;
  ms: number;
  time: string;
  severity: Severity;
}

/** Per group, incidents are kept in time order; old closed ones are forgotten past `maxPerGroup`. */
export class IncidentTracker {
  private readonly byGroup = new Map<string, Incident[]>();
  private readonly all: Incident[] = [];

  constructor(private readonly settings: IncidentSettings, private readonly maxIncidents = 100_000) {}

  /**
   * Assigns the alert to an ongoing incident of its group or opens a new one. `undo` reverts exactly this
   * assignment (used when the commit carrying the alert fails; call undos newest first).
   */
  assign(m: IncidentMember): { incident: Incident; new: boolean; undo: () => void } {
    const key = this.groupKey(m);
    const list = this.byGroup.get(key) ?? [];
    if (!this.byGroup.has(key)) this.byGroup.set(key, list);
    for (let i = list.length - 1; i >= 0; i--) {
      const inc = list[i]!;
      if (this.fits(inc, m.ms)) {
        const { first, firstMs, last, lastMs, severity } = inc;
        const members = inc.alertIds.length;
        this.extend(inc, m);
        const undo = (): void => {
          Object.assign(inc, { first, firstMs, last, lastMs, severity });
          inc.alertIds.length = members;
        };
        return { incident: inc, new: false, undo };
      }
    }
    const incident: Incident = {
      id: `inc-${createHash('sha256').update(`${key}|${m.time}|${m.alertId}`).digest('hex').slice(0, 16)}`,
      host: m.host,
      ...(this.settings.groupByUser && m.user ? { user: m.user } : {}),
      severity: m.severity,
      first: m.time,
      last: m.time,
      firstMs: m.ms,
      lastMs: m.ms,
      alertIds: [m.alertId],
    };
    let at = list.length;
    while (at > 0 && list[at - 1]!.firstMs > m.ms) at--;
    list.splice(at, 0, incident);
    this.all.push(incident);
    this.forgetOldest();
    const undo = (): void => {
      const at = list.indexOf(incident);
      if (at !== -1) list.splice(at, 1);
      if (list.length === 0 && this.byGroup.get(key) === list) this.byGroup.delete(key);
      const i = this.all.lastIndexOf(incident);
      if (i !== -1) this.all.splice(i, 1);
    };
    return { incident, new: true, undo };
  }

  incidents(): Incident[] {
    return [...this.all].sort((a, b) => a.firstMs - b.firstMs || (a.id < b.id ? -1 : 1));
  }

  private groupKey(m: IncidentMember): string {
    const host = m.host.toLowerCase();
    return this.settings.groupByUser ? `${host}|${(m.user ?? '').toLowerCase()}` : host;
  }

  /** Within the gap of the incident's range (either side: online input may be late) and within the span. */
  private fits(inc: Incident, ms: number): boolean {
    const { gapMs, spanMs } = this.settings;
    if (ms < inc.firstMs - gapMs || ms > inc.lastMs + gapMs) return false;
    return Math.max(inc.lastMs, ms) - Math.min(inc.firstMs, ms) <= spanMs;
  }

  private extend(inc: Incident, m: IncidentMember): void {
    inc.alertIds.push(m.alertId);
    if (m.ms < inc.firstMs) {
      inc.firstMs = m.ms;
      inc.first = m.time;
    }
    if (m.ms > inc.lastMs) {
      inc.lastMs = m.ms;
      inc.last = m.time;
    }
    if (SEVERITIES.indexOf(m.severity) > SEVERITIES.indexOf(inc.severity)) inc.severity = m.severity;
  }

  private forgetOldest(): void {
    while (this.all.length > this.maxIncidents) {
      const old = this.all.shift()!;
      const key = this.groupKey({ alertId: '', host: old.host, user: old.user, ms: 0, time: '', severity: old.severity });
      const list = this.byGroup.get(key);
      if (list) {
        const i = list.indexOf(old);
        if (i !== -1) list.splice(i, 1);
        if (list.length === 0) this.byGroup.delete(key);
      }
    }
  }
}
