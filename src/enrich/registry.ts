/**
 * The enrichers an alert can get, chosen per rule by rule metadata: the enricher's own `appliesTo(rule)` (e.g. the
 * rule ids it was written for) or the rule's `procwatch: { enrich: <name> | [names] }` attribute. The choice is made
 * once per rule and cached, so matching many rules costs nothing per alert.
 */
import type { RuleMeta } from '../model/alert.js';
import type { Enricher } from './types.js';

/**
 * Names an enricher cannot take: the keys the context already has and those outputs add beside it under
 * `procwatch` (src/output/ecs.ts), so `procwatch.<name>` never overwrites one.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'severity', 'reason', 'grade', 'enrichments', 'process_tree', 'lifetime', 'evidence', 'incident', 'suppressed',
  'extent', 'related', 'matched_rules', 'rule', 'log', 'process',
]);

const NAME = /^[a-z][a-z0-9_]{0,63}$/;

export class EnricherRegistry {
  private readonly list: Enricher[] = [];
  private readonly chosen = new WeakMap<RuleMeta, readonly Enricher[]>();

  /** Adds an enricher; enrichers run in registration order (a later grade replaces an earlier one). */
  register(enricher: Enricher): this {
    if (!NAME.test(enricher.name)) throw new Error(`enricher name ${JSON.stringify(enricher.name)}: lower-case letters, digits and _ only`);
    if (RESERVED_NAMES.has(enricher.name)) throw new Error(`enricher name ${JSON.stringify(enricher.name)} is a context key of its own`);
    if (this.list.some((e) => e.name === enricher.name)) throw new Error(`enricher ${JSON.stringify(enricher.name)} is registered twice`);
    this.list.push(enricher);
    return this;
  }

  get names(): string[] {
    return this.list.map((e) => e.name);
  }

  /** The enrichers of this rule's alerts, in registration order. */
  forRule(rule: RuleMeta): readonly Enricher[] {
    let found = this.chosen.get(rule);
    if (found === undefined) {
      const asked = requested(rule);
      found = this.list.filter((e) => asked.has(e.name) || e.appliesTo(rule));
      this.chosen.set(rule, found);
    }
    return found;
  }
}

/** The enricher names a rule asks for in its `procwatch:` block (`enrich: certreq` or `enrich: [a, b]`). */
export function requested(rule: RuleMeta): ReadonlySet<string> {
  const v = rule.extra['enrich'];
  if (typeof v === 'string') return new Set([v]);
  if (Array.isArray(v)) return new Set(v.filter((x): x is string => typeof x === 'string'));
  return EMPTY;
}

const EMPTY: ReadonlySet<string> = new Set();
