/**
 * What the engine hands to correlation and sinks. One Alert per (rule, event).
 */
import type { WinEvent } from './event.js';
import type { ProcessEvent } from './process.js';

export type Severity = 'informational' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['informational', 'low', 'medium', 'high', 'critical'];

/** The metadata of a rule that alerts carry. The Sigma rule model (src/rules/model.ts) provides it. */
export interface RuleMeta {
  id: string;
  title: string;
  description?: string;
  /** Sigma level: informational | low | medium | high | critical. */
  level?: Severity;
  status?: string;
  author?: string;
  references: string[];
  tags: string[];
  falsepositives: string[];
  /** Where the rule was loaded from ('builtin:certreq-download-upload.yml' or a path). */
  source: string;
  /**
   * Attributes beyond the Sigma standard set, as written in the YAML (e.g. the built-in rule's
   * `procwatch:` block: nist, impact, next_steps, rule_type, data_sources, required_configuration).
   */
  extra: Record<string, unknown>;
}

/** A rule matched an event. The engine produces these; correlation enriches them into alerts. */
export interface Detection {
  rule: RuleMeta;
  event: WinEvent;
}

export interface Alert {
  /** Stable id: a hash of (rule id, eventKey(event)) so a re-scan or re-send maps to the same alert. */
  id: string;
  rule: RuleMeta;
  event: WinEvent;
  /** The ECS-like process view when the event is a process event. */
  process?: ProcessEvent;
  /** Ids of every rule that matched this same event (including `rule.id`). */
  matchedRules: string[];
  /** Triage and correlation results (issue: alerts an analyst can act on); filled by src/correlate. */
  context?: AlertContext;
}

/** Filled by correlation/triage. Every part is optional so sinks render whatever is known. */
export interface AlertContext {
  severity?: Severity;
  reason?: string;
  /** Stable code of what decided the severity ('rule_level' unless an enricher graded the alert). */
  grade?: string;
  /**
   * What the enrichers the rule chose found, by enricher name (src/enrich: `certreq` → the certreq intent). Each
   * enricher declares its shape; outputs render each entry as `procwatch.<name>` (see contextDocument).
   */
  enrichments?: Record<string, unknown>;
  process_tree?: unknown;
  lifetime?: unknown;
  incident?: { id: string; new: boolean; severity?: Severity; first?: string; last?: string; alert_count?: number };
  suppressed?: { by: string; reason?: string };
  [key: string]: unknown;
}

/**
 * The context as outputs render it (the `procwatch` object): each enrichment in place of `enrichments`, under its
 * enricher's name (`procwatch.certreq`), keeping the key order. Enricher names never collide with context keys
 * (src/enrich/registry.ts RESERVED_NAMES).
 */
export function contextDocument(ctx: AlertContext): Record<string, unknown> {
  if (ctx.enrichments === undefined) return ctx;
  const out: Record<string, unknown> = {};
  for (const k in ctx) {
    if (k === 'enrichments') Object.assign(out, ctx.enrichments);
    else out[k] = ctx[k];
  }
  return out;
}
