/**
 * The enrichment stage's contract. An enricher reads an alert its rule chose it for and returns a grade (severity,
 * reason, grade code) and/or fields of its own; the stage files the fields under `alert.context.enrichments[name]`
 * (rendered as `procwatch.<name>`). Nothing outside the enricher and its registration knows its name or shape.
 */
import type { Alert, RuleMeta, Severity } from '../model/alert.js';
import type { ProcessFacts } from '../correlate/fields.js';

/** The alert being enriched: what the engine and correlation know before its context is built. */
export type EnrichTarget = Pick<Alert, 'id' | 'rule' | 'event' | 'process' | 'matchedRules'>;

/** What an enricher is given beside the alert: the process facts of its event and the grade so far. */
export interface EnrichContext {
  /** Image, command line, OriginalFileName, user, parent ... as the event has them (src/correlate/fields.ts). */
  readonly facts: ProcessFacts;
  /** The grade before this enricher: the rule's level and the default reason, or an earlier enricher's. */
  readonly severity: Severity;
  readonly reason: string;
  readonly grade: string;
}

/** An enricher's answer. Every part is optional: an enricher may grade, add fields, or both. */
export interface Enrichment<F = unknown> {
  /** Replaces the alert's severity (a grade, not a delta: an enricher may lower a rule's level too). */
  severity?: Severity;
  /** Replaces the one-line reason. */
  reason?: string;
  /** Stable code of what decided the grade (tests, filters, the docs tables). */
  grade?: string;
  /** What the enricher found (e.g. the certreq intent); kept as `context.enrichments[name]`. */
  fields?: F;
}

export interface Enricher<F = unknown> {
  /**
   * Key of its fields in `context.enrichments` and in outputs (`procwatch.<name>`), and the value a rule names in
   * its `procwatch: { enrich: <name> }` attribute to ask for it. Lower-case letters, digits, underscores.
   */
  readonly name: string;
  /** Whether alerts of this rule are enriched (besides rules that ask for it by name). Decided once per rule. */
  appliesTo(rule: RuleMeta): boolean;
  /** Undefined when it has nothing to say about this alert. Must not throw for odd events: they are attacker data. */
  enrich(alert: EnrichTarget, context: EnrichContext): Enrichment<F> | undefined;
}
