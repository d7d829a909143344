/**
 * Merging a later view of an alert's process context into its stored ECS document. Shared by the SQLite and
 * PostgreSQL stores so both decide "changed or not" (idempotence) and audit the same way.
 */
import type { AlertContextUpdate, NewAuditEntry } from './types.js';

export interface MergedContext {
  doc: Record<string, unknown>;
  /** The `procwatch` members whose value changed (empty: nothing to write). */
  changed: string[];
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
  return { doc: changed.length > 0 ? { ...doc, procwatch: after } : doc, changed };
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
  if (children !== undefined) detail.children = children;
  for (const k of ['network', 'dns', 'files']) {
    const n = count(k);
    if (n !== undefined) detail[k] = n;
  }
  return { actor, action: 'alert.context', targetType: 'alert', targetId: id, detail };
}
