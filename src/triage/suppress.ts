/**
 * Suppressions: tuning for known false positives. A suppressed alert is marked, counted and listable — never
 * dropped — so an analyst can always see what tuning hid and why.
 *
 * ONE engine for both sources: the scan/correlation config file (triage/config.ts parses it) and the API
 * (stored rows, turned into the same `Suppression` by `fromStoredCriteria`). Both compile their patterns with
 * triage/glob.ts and are matched by `Suppressor.match` against the same `SuppressionSubject`.
 */
import { globPattern, userPattern } from './glob.js';
import type { Suppression, TriageConfig } from './config.js';

export type { Suppression } from './config.js';

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
    const s = this.find(subject);
    return s ? { by: s.id, ...(s.reason !== undefined ? { reason: s.reason } : {}) } : undefined;
  }

  /** The first suppression that applies at `at` (default: now), itself. */
  find(subject: SuppressionSubject, at?: number): Suppression | undefined {
    const now = at ?? this.now().getTime();
    for (const s of this.config.suppressions) {
      if (s.expires && s.expires.getTime() <= now) continue;
      if (this.applies(s, subject)) return s;
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
function anyMatch(patterns: readonly { test(v: string): boolean }[], value: string | undefined): boolean {
  return value !== undefined && patterns.some((p) => p.test(value));
}

/**
 * The criteria of an API suppression (one value per field, as stored) in the config file's terms:
 * rule_id → rule, host/user/image/parent_image/command_line → the same-named globs.
 */
export interface StoredCriteria {
  id: string;
  reason?: string;
  ruleId?: string | null;
  host?: string | null;
  user?: string | null;
  image?: string | null;
  parentImage?: string | null;
  commandLine?: string | null;
  expiresAt?: string | null;
}

/** An API suppression as the engine's `Suppression`. Throws on an expiry that is not a time. */
export function fromStoredCriteria(c: StoredCriteria): Suppression {
  const s: Suppression = { id: c.id };
  if (c.reason !== undefined) s.reason = c.reason;
  if (c.ruleId) s.rules = [c.ruleId];
  if (c.user) s.users = [userPattern(c.user)];
  if (c.host) s.hosts = [globPattern(c.host)];
  if (c.parentImage) s.parentImages = [globPattern(c.parentImage)];
  if (c.image) s.images = [globPattern(c.image)];
  if (c.commandLine) s.commandLines = [globPattern(c.commandLine)];
  if (c.expiresAt) {
    const d = new Date(c.expiresAt);
    if (Number.isNaN(d.getTime())) throw new Error(`expires_at: not a time: "${c.expiresAt}"`);
    s.expires = d;
  }
  return s;
}

/** The subject of a stored ECS alert document (what the service's suppressions look at). */
export function subjectOfEcsAlert(doc: Record<string, unknown>): SuppressionSubject {
  const text = (path: string): string | undefined => {
    let cur: unknown = doc;
    for (const k of path.split('.')) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[k];
    }
    return typeof cur === 'string' && cur !== '' ? cur : undefined;
  };
  const name = text('user.name');
  const domain = text('user.domain');
  const user = name !== undefined && domain !== undefined ? `${domain}\\${name}` : name;
  const rule = text('rule.id');
  const subject: SuppressionSubject = { ruleIds: rule ? [rule] : [], host: text('host.name') ?? '' };
  if (user !== undefined) subject.user = user;
  const image = text('process.executable');
  if (image !== undefined) subject.image = image;
  const parentImage = text('process.parent.executable');
  if (parentImage !== undefined) subject.parentImage = parentImage;
  const commandLine = text('process.command_line');
  if (commandLine !== undefined) subject.commandLine = commandLine;
  return subject;
}
