/**
 * Suppressions managed through the API (the config-file ones are applied by correlation). A suppressed alert
 * is still stored, counted and listable (`suppressed=true`); it only triggers no response workflow.
 * Patterns are case-insensitive wildcards (`*`, `?`) compiled to RE2 (linear time on 32k command lines).
 */
import { RE2JS } from 're2js';
import type { Suppression } from '../store/types.js';
import { lookup } from '../respond/template.js';

interface Compiled {
  s: Suppression;
  expires: number;
  commandLine?: RE2JS;
  parentImage?: RE2JS;
}

export function wildcard(pattern: string): RE2JS {
  const re = pattern
    .split(/([*?])/)
    .map((part) => (part === '*' ? '.*' : part === '?' ? '.' : RE2JS.quote(part)))
    .join('');
  return RE2JS.compile(re, RE2JS.CASE_INSENSITIVE | RE2JS.DOTALL);
}

export class SuppressionIndex {
  private compiled: Compiled[] = [];

  constructor(list: Suppression[] = []) {
    this.replace(list);
  }

  replace(list: Suppression[]): void {
    this.compiled = list.map((s) => ({
      s,
      expires: s.expiresAt ? Date.parse(s.expiresAt) : Infinity,
      ...(s.commandLine ? { commandLine: wildcard(s.commandLine) } : {}),
      ...(s.parentImage ? { parentImage: wildcard(s.parentImage) } : {}),
    }));
  }

  /** The first live suppression that matches the ECS alert document. */
  match(doc: Record<string, unknown>, now = Date.now()): Suppression | undefined {
    for (const c of this.compiled) {
      if (c.expires <= now) continue;
      const s = c.s;
      if (s.ruleId && !eq(lookup(doc, 'rule.id'), s.ruleId)) continue;
      if (s.host && !eq(lookup(doc, 'host.name'), s.host)) continue;
      if (s.user) {
        const name = lookup(doc, 'user.name');
        const domain = lookup(doc, 'user.domain');
        const full = typeof domain === 'string' && typeof name === 'string' ? `${domain}\\${name}` : undefined;
        if (!eq(name, s.user) && !eq(full, s.user)) continue;
      }
      if (c.parentImage && !c.parentImage.matches(String(lookup(doc, 'process.parent.executable') ?? ''))) continue;
      if (c.commandLine && !c.commandLine.matches(String(lookup(doc, 'process.command_line') ?? ''))) continue;
      return s;
    }
    return undefined;
  }
}

function eq(v: unknown, want: string): boolean {
  return typeof v === 'string' && v.toLowerCase() === want.toLowerCase();
}
