/**
 * The enrichment stage: after a rule matched, the alert's grade (severity, one-line reason, grade code) and the
 * fields of the enrichers its rule chose (see registry.ts). Without an enricher an alert keeps its rule's level and
 * the reason `Sigma rule "<title>" matched by <image>` (grade `rule_level`).
 *
 * Adding an enricher: write it (types.ts: name, appliesTo, enrich) and register it — in `builtinEnrichers()` below
 * for every scan and service, or on a registry passed as `CorrelatorOptions.enrichers`. Nothing else changes: its
 * fields reach every output as `procwatch.<name>` (contextDocument in src/model/alert.ts).
 */
import type { AlertContext, Severity } from '../model/alert.js';
import type { ProcessFacts } from '../correlate/fields.js';
import { basename } from '../triage/argv.js';
import { bounded } from '../triage/severity.js';
import { certreqEnricher } from './certreq.js';
import { EnricherRegistry } from './registry.js';
import type { EnrichTarget } from './types.js';

export { EnricherRegistry, RESERVED_NAMES, requested } from './registry.js';
export type { Enricher, EnrichContext, Enrichment, EnrichTarget } from './types.js';

/** A registry holding procwatch's own enrichers (a new one each call: callers may add theirs). */
export function builtinEnrichers(): EnricherRegistry {
  return new EnricherRegistry().register(certreqEnricher);
}

/** The start of an alert's context: its grade and its enrichments. */
export type Graded = Pick<AlertContext, 'severity' | 'reason' | 'grade' | 'enrichments'> & { severity: Severity; reason: string; grade: string };

export function enrichAlert(alert: EnrichTarget, facts: ProcessFacts, registry: EnricherRegistry): Graded {
  const { rule } = alert;
  const image = facts.image ? ` by ${bounded(basename(facts.image))}` : '';
  const out: Graded = { severity: rule.level ?? 'medium', reason: `Sigma rule "${bounded(rule.title)}" matched${image}`, grade: 'rule_level' };
  const enrichers = registry.forRule(rule);
  for (let i = 0; i < enrichers.length; i++) {
    const e = enrichers[i]!;
    const r = e.enrich(alert, { facts, severity: out.severity, reason: out.reason, grade: out.grade });
    if (r === undefined) continue;
    if (r.severity !== undefined) out.severity = r.severity;
    if (r.reason !== undefined) out.reason = r.reason;
    if (r.grade !== undefined) out.grade = r.grade;
    if (r.fields !== undefined) (out.enrichments ??= {})[e.name] = r.fields;
  }
  return out;
}
