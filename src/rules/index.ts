/**
 * Public surface of the rule loader: Sigma YAML files and directories (plus the built-in rules) → typed rules.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { RuleMeta, Severity } from '../model/alert.js';
import { SEVERITIES } from '../model/alert.js';
import { parseRuleFile, RULE_FILE_LIMITS } from './load.js';
import type { ParsedRule } from './model.js';

export type { ParsedRule, SigmaRule, SigmaCorrelation, LogSource } from './model.js';
export { parseRuleFile, RULE_FILE_LIMITS, MAX_VALUE_TESTS } from './load.js';

export interface RuleLoadError {
  /** File (and rule index within a multi-document YAML file) the error refers to. */
  source: string;
  ruleId?: string;
  reason: string;
  /** The path itself could not be read (as opposed to a rule in it being rejected). */
  unreadable?: boolean;
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
  /** Values for `|expand` placeholders (`%name%` → values); see loadPlaceholders. */
  placeholders?: Readonly<Record<string, readonly string[]>>;
}

/** A loaded rule: its metadata plus the parsed Sigma model (opaque outside src/rules and src/engine). */
export interface LoadedRule {
  meta: RuleMeta;
  rule: ParsedRule;
}

export interface LoadedRules {
  rules: LoadedRule[];
  errors: RuleLoadError[];
}

/**
 * The built-in rules live in src/rules/builtin as ordinary YAML. tsc does not copy YAML, so both the sources
 * (src/rules/index.ts under tsx) and the build (dist/rules/index.js) resolve the same directory in src/.
 */
export const BUILTIN_DIR = fileURLToPath(new URL('../../src/rules/builtin/', import.meta.url));

export async function loadRules(options: LoadRulesOptions): Promise<LoadedRules> {
  const out: LoadedRules = { rules: [], errors: [] };
  const parseOpts = options.placeholders ? { placeholders: options.placeholders } : {};
  const files: Array<{ path: string; source: string }> = [];
  if (options.builtin !== false) {
    for (const f of await listYaml(BUILTIN_DIR, out.errors)) files.push({ path: f, source: `builtin:${relative(BUILTIN_DIR, f)}` });
  }
  for (const p of options.paths) for (const f of await listYaml(p, out.errors)) files.push({ path: f, source: f });

  // Files are read a batch at a time (I/O overlaps) and parsed in order (deterministic ids and errors).
  const seen = new Map<string, string>();
  const BATCH = 64;
  for (let start = 0; start < files.length; start += BATCH) {
    const batch = files.slice(start, start + BATCH);
    const texts = await Promise.all(batch.map((f) => readRuleText(f.path).catch((err: Error) => err)));
    batch.forEach((file, i) => {
      const text = texts[i]!;
      if (text instanceof OversizedFile) {
        out.errors.push({ source: file.source, reason: text.message });
        return;
      }
      if (text instanceof Error) {
        out.errors.push({ source: file.source, reason: `cannot read: ${text.message}`, unreadable: true });
        return;
      }
      const parsed = parseRuleFile(text, file.source, parseOpts);
      out.errors.push(...parsed.errors);
      for (const rule of parsed.rules) {
        const previous = seen.get(rule.meta.id);
        if (previous !== undefined) {
          out.errors.push({ source: file.source, ruleId: rule.meta.id, reason: `duplicate rule id (already loaded from ${previous})` });
          continue;
        }
        seen.set(rule.meta.id, file.source);
        out.rules.push({ meta: rule.meta, rule });
      }
    });
  }
  checkCorrelationReferences(out);
  if (options.filter) out.rules = applyFilter(out.rules, options.filter);
  return out;
}

class OversizedFile extends Error {}

/** A rule file's text; a file over the size limit is refused without being read (OversizedFile). */
async function readRuleText(path: string): Promise<string> {
  const { size } = await stat(path);
  if (size > RULE_FILE_LIMITS.maxBytes) throw new OversizedFile(`file is ${size} bytes (limit ${RULE_FILE_LIMITS.maxBytes})`);
  return readFile(path, 'utf8');
}

/** Every rule a correlation names must be loaded; otherwise the correlation is rejected. */
function checkCorrelationReferences(out: LoadedRules): void {
  const known = new Set<string>();
  for (const r of out.rules) {
    known.add(r.meta.id);
    if (r.rule.name) known.add(r.rule.name);
  }
  out.rules = out.rules.filter((r) => {
    if (r.rule.kind !== 'correlation') return true;
    const missing = r.rule.rules.filter((ref) => !known.has(ref));
    if (missing.length === 0) return true;
    out.errors.push({ source: r.meta.source, ruleId: r.meta.id, reason: `correlation refers to rules that are not loaded: ${missing.join(', ')}` });
    return false;
  });
}

/** Keeps rules at or above minLevel, with one of the statuses, carrying one of the tags (prefix match). */
export function applyFilter(rules: LoadedRule[], filter: RuleFilter): LoadedRule[] {
  const min = filter.minLevel ? SEVERITIES.indexOf(filter.minLevel.toLowerCase() as Severity) : -1;
  const statuses = filter.statuses?.map((s) => s.toLowerCase());
  const tags = filter.tags?.map((t) => t.toLowerCase());
  return rules.filter((r) => {
    if (min >= 0 && SEVERITIES.indexOf(r.meta.level ?? 'informational') < min) return false;
    if (statuses && statuses.length > 0 && !statuses.includes((r.meta.status ?? '').toLowerCase())) return false;
    if (tags && tags.length > 0 && !r.meta.tags.some((t) => tags.some((want) => t.toLowerCase() === want || t.toLowerCase().startsWith(`${want}.`))))
      return false;
    return true;
  });
}

/** Reads a placeholder file: a YAML map of name → value or list of values (names without the % signs). */
export async function loadPlaceholders(path: string): Promise<Record<string, string[]>> {
  const doc: unknown = parseYaml(await readFile(path, 'utf8'));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${path}: placeholders must be a YAML map of name → values`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(doc)) out[k.replace(/^%|%$/g, '')] = (Array.isArray(v) ? v : [v]).map(String);
  return out;
}

/** Rule files under a path: the file itself, or every .yml/.yaml below a directory (sorted, recursive). */
async function listYaml(path: string, errors: RuleLoadError[]): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    errors.push({ source: path, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, unreadable: true });
    return [];
  }
  if (!info.isDirectory()) return [path];
  const out: string[] = [];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await listYaml(full, errors)));
    else if (/\.ya?ml$/i.test(e.name)) out.push(full);
  }
  return out;
}
