/**
 * Suppressions: tuning for known false positives. A suppressed alert is marked, counted and listable — never
 * dropped — so an analyst can always see what tuning hid and why.
 */
import type { Pattern } from './glob.js';
import type { Suppression, TriageConfig } from './config.js';

/** What a suppression can look at. */
export interface SuppressionSubject {
  ruleIds: readonly string[];
  host: string;
  user?: string;
  image?: string;
  parentImage?: string;
  commandLine?: string;
}

export interface SuppressionHit {
  by: string;
  reason?: string;
}

export class Suppressor {
  constructor(
    private readonly config: Pick<TriageConfig, 'suppressions' | 'groups'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get size(): number {
    return this.config.suppressions.length;
  }

  /** The first suppression that applies (not expired, every given criterion matches), or undefined. */
  match(subject: SuppressionSubject): SuppressionHit | undefined {
    const now = this.now().getTime();
    for (const s of this.config.suppressions) {
      if (s.expires && s.expires.getTime() <= now) continue;
      if (this.applies(s, subject)) return { by: s.id, ...(s.reason !== undefined ? { reason: s.reason } : {}) };
    }
    return undefined;
  }

  /** Suppressions past their expiry (worth a warning: tuning silently ended). */
  expired(): Suppression[] {
    const now = this.now().getTime();
    return this.config.suppressions.filter((s) => s.expires && s.expires.getTime() <= now);
  }

  private applies(s: Suppression, x: SuppressionSubject): boolean {
    if (s.rules && !s.rules.some((r) => x.ruleIds.includes(r))) return false;
    if (s.users && !anyMatch(s.users, x.user)) return false;
    if (s.groups && !s.groups.some((g) => anyMatch(this.config.groups.get(g) ?? [], x.user))) return false;
    if (s.hosts && !anyMatch(s.hosts, x.host)) return false;
    if (s.parentImages && !anyMatch(s.parentImages, x.parentImage)) return false;
    if (s.images && !anyMatch(s.images, x.image)) return false;
    if (s.commandLines && !anyMatch(s.commandLines, x.commandLine)) return false;
    return true;
  }
}

/** A missing value never matches a pattern (a suppression by user does not hide alerts without a user). */
function anyMatch(patterns: readonly Pattern[], value: string | undefined): boolean {
  return value !== undefined && patterns.some((p) => p.test(value));
}
