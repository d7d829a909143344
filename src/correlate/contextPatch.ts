/**
 * A correlation ContextUpdate as the store writes it: the `procwatch` members it sets (only those it carries),
 * and a raised severity. Shared by the ingest path for stored alerts and for alerts of the batch being built.
 */
import { riskScore } from '../output/ecs.js';
import type { AlertContextUpdate, NewAlert } from '../store/types.js';
import { severityRank } from '../store/types.js';
import type { ContextUpdate } from './index.js';

export function contextPatch(u: ContextUpdate): AlertContextUpdate {
  const procwatch: Record<string, unknown> = {};
  for (const key of ['process_tree', 'lifetime', 'evidence', 'extent'] as const) {
    if (u.context[key] !== undefined) procwatch[key] = u.context[key];
  }
  if (u.reason !== undefined) procwatch.reason = u.reason;
  return { id: u.id, procwatch, ...(u.severity ? { severity: u.severity } : {}) };
}

/** Applies a patch to an alert not yet stored (its document and severity column; severity only rises). */
export function patchNewAlert(a: NewAlert, patch: AlertContextUpdate): void {
  const pw = { ...((a.doc.procwatch ?? {}) as Record<string, unknown>), ...patch.procwatch };
  if (patch.severity && severityRank(patch.severity) > severityRank(a.severity)) {
    a.severity = patch.severity;
    pw.severity = patch.severity;
    const event = (a.doc.event ?? {}) as Record<string, unknown>;
    a.doc.event = { ...event, severity: riskScore(patch.severity), risk_score: riskScore(patch.severity) };
  }
  a.doc.procwatch = pw;
}
