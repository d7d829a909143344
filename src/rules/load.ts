/**
 * YAML → typed Sigma model (./model.ts). Every problem is found here, at load time, and reported with the
 * file, the document, the rule id and the place in the rule (path and line) — never while matching.
 */
import { LineCounter, parseAllDocuments, isMap, isScalar, isSeq, visit, type Document, type YAMLMap } from 'yaml';
import { RE2JS } from 're2js';
import type { RuleMeta, Severity } from '../model/alert.js';
import { SEVERITIES } from '../model/alert.js';
import { parseCondition, ConditionError } from './condition.js';
import { applyModifiers, typedValue, ExpandLimitError, ModifierError, type ModValue } from './modifiers.js';
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
  SigmaValue,
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

/**
 * Value tests (values after modifiers, expansions included) one rule may hold: the largest SigmaHQ rule (a
 * list of driver hashes) has a few thousand; more is a hostile or generated rule that would slow every event.
 */
export const MAX_VALUE_TESTS = 65_536;

/** Parse options plus what one rule has used of its limits so far. */
type RuleParseOptions = ParseOptions & { budget: { valueTests: number } };

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

/**
 * Limits on one rule file. A rule file is untrusted input: these bound the time and memory one file can take,
 * and a file over a limit is one located error while the other files load.
 */
export const RULE_FILE_LIMITS = {
  /** Bytes of one file (the largest SigmaHQ rule is under 300 KB). */
  maxBytes: 1024 * 1024,
  /** YAML documents (`---`) in one file. */
  maxDocuments: 256,
  /** Alias (`*name`) resolutions while building one document: an alias bomb stops here, not in memory. */
  maxAliasCount: 100,
  /** Nesting of YAML flow collections (`[`/`{`); the YAML parser recurses once per level. */
  maxFlowDepth: 64,
} as const;

/** Parses every YAML document of one rule file. `source` names the file in metadata and errors. */
export function parseRuleFile(text: string, source: string, options: ParseOptions = {}): ParsedFile {
  const out: ParsedFile = { rules: [], errors: [] };
  const refusal = fileRefusal(text);
  if (refusal !== null) {
    out.errors.push({ source, reason: refusal });
    return out;
  }
  const lineCounter = new LineCounter();
  // uniqueKeys is checked by duplicateKey (linear); the YAML library's own check is quadratic in the keys of a map.
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  if (!Array.isArray(docs)) {
    out.errors.push({ source, reason: 'not a YAML stream' });
    return out;
  }
  if (docs.length > RULE_FILE_LIMITS.maxDocuments) {
    out.errors.push({ source, reason: `${docs.length} YAML documents (limit ${RULE_FILE_LIMITS.maxDocuments} per file)` });
    return out;
  }
  const multi = docs.length > 1;
  docs.forEach((doc, index) => {
    const where = multi ? `${source} (document ${index + 1})` : source;
    const yamlError = doc.errors[0] ?? duplicateKey(doc);
    if (yamlError) {
      const pos = lineCounter.linePos(yamlError.pos[0]);
      out.errors.push({ source: where, reason: `YAML error at line ${pos.line}: ${yamlError.message.split('\n')[0]}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: RULE_FILE_LIMITS.maxAliasCount });
    } catch (err) {
      // The yaml package throws a ReferenceError when aliases resolve more than maxAliasCount times.
      const reason = err instanceof ReferenceError ? `YAML aliases expand more than ${RULE_FILE_LIMITS.maxAliasCount} times (alias bomb?)` : `YAML error: ${(err as Error).message}`;
      out.errors.push({ source: where, reason });
      return;
    }
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

/** Why a file is refused before YAML parsing (size, flow nesting), or null. */
function fileRefusal(text: string): string | null {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > RULE_FILE_LIMITS.maxBytes) return `file is ${bytes} bytes (limit ${RULE_FILE_LIMITS.maxBytes})`;
  const depth = flowDepth(text);
  if (depth.max > RULE_FILE_LIMITS.maxFlowDepth) return `YAML nested deeper than ${RULE_FILE_LIMITS.maxFlowDepth} levels at line ${depth.line}`;
  return null;
}

/**
 * Deepest nesting of flow collections, counted conservatively in one pass: a `[`/`{` opens a level where a flow
 * collection can start (line start, after whitespace, `:`, `,`, `-` or another opener), so brackets inside
 * words and quoted regexes (`'\[a-z]'`) rarely count; closers close a level.
 */
export function flowDepth(text: string): { max: number; line: number } {
  let depth = 0;
  let max = 0;
  let line = 1;
  let maxLine = 1;
  let prev = '\n';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if ((c === '[' || c === '{') && (prev === '\n' || prev === ' ' || prev === '\t' || prev === ':' || prev === ',' || prev === '-' || prev === '[' || prev === '{')) {
      if (++depth > max) {
        max = depth;
        maxLine = line;
      }
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
    prev = c;
  }
  return { max, line: maxLine };
}

/** The first key written twice in one map of the document, as a YAML error (one pass, one Set per map). */
function duplicateKey(doc: Document): { pos: [number, number]; message: string } | undefined {
  let found: { pos: [number, number]; message: string } | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const k: unknown = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(k)) {
          const range = isScalar(pair.key) ? pair.key.range : undefined;
          found = { pos: [range?.[0] ?? 0, range?.[1] ?? 0], message: `Map keys must be unique ('${String(k)}' is repeated)` };
          return visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return found;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseDocument(value: unknown, doc: Document, lines: LineCounter, source: string, options: ParseOptions): ParsedRule {
  if (!isRecord(value)) throw new RuleError('a rule must be a YAML map');
  const lineOf = lineFinder(doc, lines);
  if ('action' in value) throw new RuleError(`'action: ${String(value.action)}' rule collections are Sigma v1 and not supported`);
  if ('filter' in value && !('detection' in value)) throw new RuleError('Sigma meta filters are not supported; add the filter to the rule instead');
  const meta = parseMeta(value, source, lineOf);
  if ('correlation' in value) return parseCorrelation(value, meta, lineOf);
  return parseSigmaRule(value, meta, lineOf, options);
}

type LineOf = (path: (string | number)[]) => number | undefined;

/**
 * Line of the node at a path. Document.getIn searches a map's keys one by one, which made a rule with thousands of
 * search identifiers load in quadratic time; here each map's keys are indexed once, on first use.
 */
function lineFinder(doc: Document, lines: LineCounter): LineOf {
  const indexes = new WeakMap<YAMLMap, Map<unknown, unknown>>();
  const child = (node: unknown, key: string | number): unknown => {
    if (isSeq(node)) return typeof key === 'number' ? node.items[key] : undefined;
    if (!isMap(node)) return undefined;
    let index = indexes.get(node);
    if (!index) {
      index = new Map();
      for (const pair of node.items) {
        const k: unknown = isScalar(pair.key) ? pair.key.value : pair.key;
        if (!index.has(k)) index.set(k, pair.value);
      }
      indexes.set(node, index);
    }
    return index.get(key);
  };
  return (path) => {
    let node: unknown = doc.contents;
    for (const key of path) node = child(node, key);
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? lines.linePos(range[0]).line : undefined;
  };
}

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
  const ruleOptions: RuleParseOptions = { ...options, budget: { valueTests: 0 } };
  if (!isRecord(det)) throw new RuleError("missing 'detection' map", lineOf(['detection']));
  const detections = new Map<string, SearchIdentifier>();
  for (const [name, body] of Object.entries(det)) {
    if (name === 'condition' || name === 'timeframe') continue;
    detections.set(name, parseSearchIdentifier(name, body, lineOf, ruleOptions));
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

function parseSearchIdentifier(name: string, body: unknown, lineOf: LineOf, options: RuleParseOptions): SearchIdentifier {
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

function parseItemMap(map: Record<string, unknown>, path: (string | number)[], lineOf: LineOf, options: RuleParseOptions): DetectionItem[] {
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
  options: RuleParseOptions,
): DetectionItem {
  const pathText = path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.');
  const line = lineOf(path);
  const rawValues = Array.isArray(raw) ? raw : [raw];
  if (rawValues.length === 0) throw new RuleError(`${pathText}: empty list of values`, line);
  const flags = { all: false, neq: false };
  const groups: SigmaValue[][] = [];
  try {
    const typed: ModValue[] = rawValues.map(typedValue);
    const ctx = { flags, placeholders: options.placeholders ?? {} };
    for (const t of typed) {
      const group = applyModifiers(modifiers, [t], ctx);
      // Counted as each written value expands, so an oversized rule stops before it is built.
      options.budget.valueTests += group.length;
      if (options.budget.valueTests > MAX_VALUE_TESTS)
        throw new RuleError(`${pathText}: the rule has more than ${MAX_VALUE_TESTS} value tests (limit per rule); split it`, line);
      groups.push(group);
    }
  } catch (err) {
    if (err instanceof ExpandLimitError) throw new RuleError(`${pathText}: |expand of field ${field ?? '(keywords)'} ${err.message}`, line);
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
