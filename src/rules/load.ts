/**
 * YAML → typed Sigma model (./model.ts). Every problem is found here, at load time, and reported with the
 * file, the document, the rule id and the place in the rule (path and line) — never while matching.
 */
import { LineCounter, parseAllDocuments, isMap, isSeq, type Document } from 'yaml';
import { RE2JS } from 're2js';
import type { RuleMeta, Severity } from '../model/alert.js';
import { SEVERITIES } from '../model/alert.js';
import { parseCondition, ConditionError } from './condition.js';
import { applyModifiers, typedValue, ModifierError, type ModValue } from './modifiers.js';
import type {
  CompareOp,
  ConditionNode,
  CorrelationType,
  DetectionItem,
  LogSource,
  ParsedRule,
  SearchIdentifier,
  SigmaCorrelation,
  SigmaRule,
} from './model.js';

/** A rule that could not be loaded: where, which rule, why. */
export interface LoadProblem {
  source: string;
  ruleId?: string;
  reason: string;
}

export interface ParseOptions {
  placeholders?: Readonly<Record<string, readonly string[]>>;
}

export interface ParsedFile {
  rules: ParsedRule[];
  errors: LoadProblem[];
}

/** Keys the Sigma standard defines; every other top-level key is kept as a custom attribute. */
const STANDARD_KEYS = new Set([
  'title', 'id', 'name', 'related', 'status', 'description', 'license', 'author', 'references', 'date', 'modified',
  'logsource', 'detection', 'fields', 'falsepositives', 'level', 'tags', 'scope', 'taxonomy', 'correlation',
  'generate', 'filter',
]);

class RuleError extends Error {
  constructor(message: string, readonly line?: number) {
    super(message);
  }
}

/** Parses every YAML document of one rule file. `source` names the file in metadata and errors. */
export function parseRuleFile(text: string, source: string, options: ParseOptions = {}): ParsedFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const out: ParsedFile = { rules: [], errors: [] };
  if (!Array.isArray(docs)) {
    out.errors.push({ source, reason: 'not a YAML stream' });
    return out;
  }
  const multi = docs.length > 1;
  docs.forEach((doc, index) => {
    const where = multi ? `${source} (document ${index + 1})` : source;
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const pos = lineCounter.linePos(e.pos[0]);
      out.errors.push({ source: where, reason: `YAML error at line ${pos.line}: ${e.message.split('\n')[0]}` });
      return;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // empty document (e.g. a trailing `---`)
    const id = isRecord(value) && typeof value.id === 'string' ? value.id : undefined;
    try {
      out.rules.push(parseDocument(value, doc, lineCounter, source, options));
    } catch (err) {
      // A rule file is untrusted input: whatever goes wrong is that rule's load error, never a crash.
      const reason = err instanceof RuleError ? `${err.message}${err.line !== undefined ? ` (line ${err.line})` : ''}` : `cannot load: ${(err as Error).message}`;
      out.errors.push({ source: where, ...(id !== undefined ? { ruleId: id } : {}), reason });
    }
  });
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseDocument(value: unknown, doc: Document, lines: LineCounter, source: string, options: ParseOptions): ParsedRule {
  if (!isRecord(value)) throw new RuleError('a rule must be a YAML map');
  const lineOf = (path: (string | number)[]): number | undefined => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    return node?.range ? lines.linePos(node.range[0]).line : undefined;
  };
  if ('action' in value) throw new RuleError(`'action: ${String(value.action)}' rule collections are Sigma v1 and not supported`);
  if ('filter' in value && !('detection' in value)) throw new RuleError('Sigma meta filters are not supported; add the filter to the rule instead');
  const meta = parseMeta(value, source, lineOf);
  if ('correlation' in value) return parseCorrelation(value, meta, lineOf);
  return parseSigmaRule(value, meta, lineOf, options);
}

type LineOf = (path: (string | number)[]) => number | undefined;

function optString(obj: Record<string, unknown>, key: string, lineOf: LineOf): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'number') return String(v);
  throw new RuleError(`'${key}' must be a string`, lineOf([key]));
}

function stringList(obj: Record<string, unknown>, key: string, lineOf: LineOf): string[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
  throw new RuleError(`'${key}' must be a list of strings`, lineOf([key]));
}

function parseMeta(value: Record<string, unknown>, source: string, lineOf: LineOf): RuleMeta {
  const title = optString(value, 'title', lineOf);
  if (!title) throw new RuleError("missing 'title'");
  const id = optString(value, 'id', lineOf) ?? optString(value, 'name', lineOf);
  if (!id) throw new RuleError("missing 'id'");
  const level = optString(value, 'level', lineOf)?.toLowerCase();
  if (level !== undefined && !SEVERITIES.includes(level as Severity))
    throw new RuleError(`'level' must be one of ${SEVERITIES.join(', ')}, not '${level}'`, lineOf(['level']));
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (STANDARD_KEYS.has(k)) continue;
    // The procwatch block holds our own attributes; they are surfaced flat (extra.nist_csf, extra.next_steps...).
    if (k === 'procwatch' && isRecord(v)) Object.assign(extra, v);
    else extra[k] = v;
  }
  const meta: RuleMeta = {
    id,
    title,
    references: stringList(value, 'references', lineOf),
    tags: stringList(value, 'tags', lineOf),
    falsepositives: stringList(value, 'falsepositives', lineOf),
    source,
    extra,
  };
  const description = optString(value, 'description', lineOf);
  if (description !== undefined) meta.description = description;
  if (level !== undefined) meta.level = level as Severity;
  const status = optString(value, 'status', lineOf);
  if (status !== undefined) meta.status = status;
  const author = optString(value, 'author', lineOf);
  if (author !== undefined) meta.author = author;
  return meta;
}

function parseSigmaRule(value: Record<string, unknown>, meta: RuleMeta, lineOf: LineOf, options: ParseOptions): SigmaRule {
  const ls = value.logsource;
  if (!isRecord(ls)) throw new RuleError("missing 'logsource' map", lineOf(['logsource']));
  const logsource: LogSource = {};
  for (const key of ['product', 'category', 'service', 'definition'] as const) {
    const v = optString(ls, key, (p) => lineOf(['logsource', ...p]));
    if (v !== undefined) logsource[key] = v;
  }
  const det = value.detection;
  if (!isRecord(det)) throw new RuleError("missing 'detection' map", lineOf(['detection']));
  const detections = new Map<string, SearchIdentifier>();
  for (const [name, body] of Object.entries(det)) {
    if (name === 'condition' || name === 'timeframe') continue;
    detections.set(name, parseSearchIdentifier(name, body, lineOf, options));
  }
  const condRaw = det.condition;
  const conditionText =
    typeof condRaw === 'string' ? [condRaw] : Array.isArray(condRaw) && condRaw.every((c) => typeof c === 'string') ? (condRaw as string[]) : null;
  if (!conditionText || conditionText.length === 0) throw new RuleError("'detection.condition' must be a string or a list of strings", lineOf(['detection', 'condition']));
  if ('timeframe' in det) throw new RuleError("'detection.timeframe' is Sigma v1 aggregation; write a correlation rule instead", lineOf(['detection', 'timeframe']));
  const names = [...detections.keys()];
  const trees: ConditionNode[] = conditionText.map((text) => {
    try {
      return parseCondition(text, names);
    } catch (err) {
      if (err instanceof ConditionError) throw new RuleError(`detection.condition '${text}': ${err.message}`, lineOf(['detection', 'condition']));
      throw err;
    }
  });
  const rule: SigmaRule = {
    kind: 'rule',
    meta,
    logsource,
    detections,
    conditionText,
    condition: trees.length === 1 ? trees[0]! : { op: 'or', args: trees },
  };
  const name = optString(value, 'name', lineOf);
  if (name !== undefined) rule.name = name;
  return rule;
}

function parseSearchIdentifier(name: string, body: unknown, lineOf: LineOf, options: ParseOptions): SearchIdentifier {
  const base = ['detection', name];
  if (isRecord(body)) return { name, groups: [parseItemMap(body, base, lineOf, options)] };
  if (Array.isArray(body)) {
    if (body.length === 0) throw new RuleError(`detection.${name} is an empty list`, lineOf(base));
    const groups: DetectionItem[][] = [];
    const keywords: unknown[] = [];
    body.forEach((entry, i) => {
      if (isRecord(entry)) groups.push(parseItemMap(entry, [...base, i], lineOf, options));
      else keywords.push(entry);
    });
    if (keywords.length > 0) groups.push([parseItem(null, [], keywords, [...base], lineOf, options)]);
    return { name, groups };
  }
  if (typeof body === 'string' || typeof body === 'number') return { name, groups: [[parseItem(null, [], [body], base, lineOf, options)]] };
  throw new RuleError(`detection.${name} must be a map, a list of maps or a list of keywords`, lineOf(base));
}

function parseItemMap(map: Record<string, unknown>, path: (string | number)[], lineOf: LineOf, options: ParseOptions): DetectionItem[] {
  if (Object.keys(map).length === 0) throw new RuleError(`${path.join('.')} is an empty map`, lineOf(path));
  const items: DetectionItem[] = [];
  for (const [key, raw] of Object.entries(map)) {
    const [field, ...modifiers] = key.split('|');
    items.push(parseItem(field === '' ? null : field!, modifiers, raw, [...path, key], lineOf, options));
  }
  return items;
}

function parseItem(
  field: string | null,
  modifiers: string[],
  raw: unknown,
  path: (string | number)[],
  lineOf: LineOf,
  options: ParseOptions,
): DetectionItem {
  const pathText = path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.');
  const line = lineOf(path);
  const rawValues = Array.isArray(raw) ? raw : [raw];
  if (rawValues.length === 0) throw new RuleError(`${pathText}: empty list of values`, line);
  const flags = { all: false, neq: false };
  let groups;
  try {
    const typed: ModValue[] = rawValues.map(typedValue);
    const ctx = { flags, placeholders: options.placeholders ?? {} };
    groups = typed.map((t) => applyModifiers(modifiers, [t], ctx));
  } catch (err) {
    if (err instanceof ModifierError) throw new RuleError(`${pathText}: ${err.message}`, line);
    throw err;
  }
  const values = groups.flat();
  for (const v of values) {
    if (v.kind !== 'regex') continue;
    try {
      RE2JS.compile(v.pattern, regexFlags(v));
    } catch (err) {
      throw new RuleError(`${pathText}: invalid regular expression /${v.pattern}/: ${(err as Error).message}`, line);
    }
  }
  const item: DetectionItem = { field, modifiers, values, groups, all: flags.all, neq: flags.neq, location: { path: pathText } };
  if (line !== undefined) item.location.line = line;
  return item;
}

/** RE2JS flags for a Sigma regex value. */
export function regexFlags(v: { ignoreCase: boolean; multiLine: boolean; dotAll: boolean }): number {
  return (v.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (v.multiLine ? RE2JS.MULTILINE : 0) | (v.dotAll ? RE2JS.DOTALL : 0);
}

// ---- correlation rules ----------------------------------------------------------------------------------

const CORRELATION_TYPES: CorrelationType[] = ['event_count', 'value_count', 'temporal', 'temporal_ordered'];

/** Sigma timespans: a number followed by s, m, h, d, w, M or y. */
export function parseTimespan(text: string): number {
  const m = /^(\d+)\s*([smhdwMy])$/.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a timespan (e.g. 5m, 1h, 2d)`);
  const unit: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, M: 30 * 86400e3, y: 365 * 86400e3 };
  return Number(m[1]) * unit[m[2]!]!;
}

function parseCorrelation(value: Record<string, unknown>, meta: RuleMeta, lineOf: LineOf): SigmaCorrelation {
  const c = value.correlation;
  const at = (...p: string[]): number | undefined => lineOf(['correlation', ...p]);
  if (!isRecord(c)) throw new RuleError("'correlation' must be a map", at());
  const type = c.type as CorrelationType;
  if (!CORRELATION_TYPES.includes(type)) throw new RuleError(`correlation.type must be one of ${CORRELATION_TYPES.join(', ')}`, at('type'));
  const rules = typeof c.rules === 'string' ? [c.rules] : Array.isArray(c.rules) ? c.rules.map(String) : [];
  if (rules.length === 0) throw new RuleError('correlation.rules must name at least one rule', at('rules'));
  const groupBy = typeof c['group-by'] === 'string' ? [c['group-by']] : Array.isArray(c['group-by']) ? c['group-by'].map(String) : [];
  if (typeof c.timespan !== 'string' && typeof c.timespan !== 'number') throw new RuleError('correlation.timespan is required', at('timespan'));
  let timespanMs: number;
  try {
    timespanMs = parseTimespan(String(c.timespan));
  } catch (err) {
    throw new RuleError(`correlation.timespan: ${(err as Error).message}`, at('timespan'));
  }
  const out: SigmaCorrelation = {
    kind: 'correlation',
    meta,
    type,
    rules,
    groupBy,
    timespanMs,
    generate: c.generate === true || value.generate === true,
    aliases: {},
  };
  const name = typeof value.name === 'string' ? value.name : undefined;
  if (name !== undefined) out.name = name;
  if (c.condition !== undefined) {
    if (!isRecord(c.condition)) throw new RuleError('correlation.condition must be a map such as {gte: 10}', at('condition'));
    const ops = ['gt', 'gte', 'lt', 'lte', 'eq'] as const;
    const found = ops.filter((op) => typeof (c.condition as Record<string, unknown>)[op] === 'number');
    if (found.length !== 1) throw new RuleError('correlation.condition needs exactly one of gt, gte, lt, lte, eq with a number', at('condition'));
    const op = found[0]! as CompareOp | 'eq';
    out.condition = { op, value: c.condition[op] as number };
    if (typeof c.condition.field === 'string') out.condition.field = c.condition.field;
  }
  if ((type === 'event_count' || type === 'value_count') && !out.condition)
    throw new RuleError(`correlation.condition is required for ${type}`, at('condition'));
  if (type === 'value_count' && !out.condition?.field) throw new RuleError('value_count needs correlation.condition.field', at('condition'));
  if (c.aliases !== undefined) {
    if (!isRecord(c.aliases)) throw new RuleError('correlation.aliases must be a map', at('aliases'));
    for (const [alias, mapping] of Object.entries(c.aliases)) {
      if (!isRecord(mapping)) throw new RuleError(`correlation.aliases.${alias} must map rule names to fields`, at('aliases', alias));
      out.aliases[alias] = Object.fromEntries(Object.entries(mapping).map(([k, v]) => [k, String(v)]));
    }
  }
  return out;
}
