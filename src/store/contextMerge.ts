/**
 * Merging a later view of an alert's process context into its stored ECS document. Shared by the SQLite and
 * PostgreSQL stores so both decide "changed or not" (idempotence) and audit the same way.
 */
import { riskScore } from '../output/ecs.js';
import type { Severity } from '../model/alert.js';
import { severityRank, type AlertContextUpdate, type NewAuditEntry } from './types.js';

export interface MergedContext {
  doc: Record<string, unknown>;
  /** The `procwatch` members whose value changed (empty: nothing to write). */
  changed: string[];
  /** Set when the update raised the alert's severity (the row's severity columns change too). */
  severity?: Severity;
}

/** Sets the update's members in `doc.procwatch` (a copy); everything else in the document is kept as stored. */
export function mergeContext(doc: Record<string, unknown>, update: AlertContextUpdate): MergedContext {
  const before = (doc.procwatch && typeof doc.procwatch === 'object' ? doc.procwatch : {}) as Record<string, unknown>;
  const after: Record<string, unknown> = { ...before };
  const changed: string[] = [];
  for (const [key, value] of Object.entries(update.procwatch)) {
    if (value === undefined) continue;
    if (JSON.stringify(before[key]) === JSON.stringify(value)) continue;
    after[key] = value;
    changed.push(key);
  }
  // Severity only rises (an escalation: a downloaded file ran); ECS event.severity/risk_score follow it.
  let severity: Severity | undefined;
  const current = (before.severity ?? 'medium') as Severity;
  if (update.severity !== undefined && severityRank(update.severity) > severityRank(current)) {
    severity = update.severity;
    after.severity = severity;
    changed.push('severity');
  }
  if (changed.length === 0) return { doc, changed };
  const out: Record<string, unknown> = { ...doc, procwatch: after };
  if (severity !== undefined) {
    const event = (doc.event && typeof doc.event === 'object' ? doc.event : {}) as Record<string, unknown>;
    out.event = { ...event, severity: riskScore(severity), risk_score: riskScore(severity) };
  }
  return { doc: out, changed, ...(severity !== undefined ? { severity } : {}) };
}

/** The audit entry of one context update: what changed, in a few figures an analyst can scan. */
export function contextAuditEntry(id: string, actor: string, changed: string[], doc: Record<string, unknown>): NewAuditEntry {
  const pw = (doc.procwatch ?? {}) as Record<string, unknown>;
  const lifetime = (pw.lifetime ?? {}) as Record<string, unknown>;
  const tree = (pw.process_tree ?? {}) as Record<string, unknown>;
  const evidence = (pw.evidence ?? {}) as Record<string, unknown>;
  const count = (k: string): number | undefined => (Array.isArray(evidence[k]) ? (evidence[`${k}_total`] as number | undefined) ?? (evidence[k] as unknown[]).length : undefined);
  const children = Array.isArray(tree.children) ? ((tree.children_total as number | undefined) ?? tree.children.length) : undefined;
  const detail: Record<string, unknown> = { changed };
  if (lifetime.still_running !== undefined) detail.still_running = lifetime.still_running;
  if (lifetime.end !== undefined) detail.end = lifetime.end;
  if (changed.includes('severity')) detail.severity = pw.severity;
  if (children !== undefined) detail.children = children;
  for (const k of ['network', 'dns', 'files']) {
    const n = count(k);
    if (n !== undefined) detail[k] = n;
  }
  return { actor, action: 'alert.context', targetType: 'alert', targetId: id, detail };
}
