/**
 * Public surface of the rule engine. PLACEHOLDER (owner: Sigma/engine). Keep the signatures.
 */
import type { Detection } from '../model/alert.js';
import type { WinEvent } from '../model/event.js';
import type { LoadedRule } from '../rules/index.js';

export interface EngineWarning {
  ruleId: string;
  source: string;
  message: string;
}

export interface Engine {
  /** Every rule that matches this event (hot path: synchronous, allocation-light). */
  match(event: WinEvent): Detection[];
  /** Correlation rules: detections still pending at end of input. */
  flush(): Detection[];
  /**
   * Case-insensitive literals of which at least one must occur in any event that can match some rule,
   * or null when no such sound set exists (e.g. a rule with `not` or a keyword-free selection).
   */
  prefilterLiterals(): string[] | null;
  /** Unknown fields, unsupported log sources, ... per rule. */
  warnings: EngineWarning[];
}

export function compileEngine(_rules: LoadedRule[]): Engine {
  return { match: () => [], flush: () => [], prefilterLiterals: () => null, warnings: [] };
}
