/**
 * Public surface of the rule loader. PLACEHOLDER (owner: Sigma/rules). Keep the signatures.
 */
import type { RuleMeta } from '../model/alert.js';

export interface RuleLoadError {
  /** File (and rule index within a multi-document YAML file) the error refers to. */
  source: string;
  ruleId?: string;
  reason: string;
}

export interface RuleFilter {
  minLevel?: string;
  statuses?: string[];
  tags?: string[];
}

export interface LoadRulesOptions {
  /** Files or directories of Sigma YAML rules. */
  paths: string[];
  /** Load the built-in rules (src/rules/builtin) too. Default true. */
  builtin?: boolean;
  filter?: RuleFilter;
}

/** A loaded rule: its metadata plus the parsed Sigma model (opaque outside src/rules and src/engine). */
export interface LoadedRule {
  meta: RuleMeta;
}

export interface LoadedRules {
  rules: LoadedRule[];
  errors: RuleLoadError[];
}

export async function loadRules(_options: LoadRulesOptions): Promise<LoadedRules> {
  return { rules: [], errors: [{ source: 'builtin', reason: 'rule loader not built yet' }] };
}
