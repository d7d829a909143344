/**
 * The service's index of the suppressions made through the API, on the one engine (triage/suppress.ts) the
 * config file uses too. A suppressed alert is still stored, counted and listable (`suppressed=true`); it only
 * triggers no response workflow.
 */
import type { Suppression as StoredSuppression } from '../store/types.js';
import { fromStoredCriteria, subjectOfEcsAlert, Suppressor, type Suppression } from '../triage/suppress.js';

/** The engine's id of an API suppression (also what `procwatch.suppressed.by` of a marked alert says). */
export function suppressionRef(id: number): string {
  return `suppression:${id}`;
}

/** A stored (API) suppression in the engine's terms. */
export function engineSuppression(s: Omit<StoredSuppression, 'id' | 'createdAt' | 'hits' | 'createdBy'> & { id: number }): Suppression {
  return fromStoredCriteria({ ...s, id: suppressionRef(s.id) });
}

export class SuppressionIndex {
  private suppressor = new Suppressor({ suppressions: [], groups: new Map() });
  private byRef = new Map<string, StoredSuppression>();

  constructor(list: StoredSuppression[] = []) {
    this.replace(list);
  }

  replace(list: StoredSuppression[]): void {
    this.byRef = new Map(list.map((s) => [suppressionRef(s.id), s]));
    this.suppressor = new Suppressor({ suppressions: list.map(engineSuppression), groups: new Map() });
  }

  /** The first live suppression that matches the ECS alert document. */
  match(doc: Record<string, unknown>, now = Date.now()): StoredSuppression | undefined {
    const hit = this.suppressor.find(subjectOfEcsAlert(doc), now);
    return hit ? this.byRef.get(hit.id) : undefined;
  }
}
