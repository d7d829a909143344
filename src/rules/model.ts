/**
 * The typed model of a Sigma rule, built once from YAML by ./load.ts and consumed by the engine.
 *
 * Values are typed at load time (pySigma-style): a Sigma string keeps its wildcards as tokens, so escaping is
 * decided once while parsing and never again while matching; modifiers have already been applied, so a
 * `contains` value is simply a string pattern with a leading and trailing `*`.
 */
import type { RuleMeta } from '../model/alert.js';

/** The two wildcard tokens of a Sigma string, and the one character class `windash` puts where a flag's dash was. */
export const ANY_CHARS = 0; // `*`
export const ONE_CHAR = 1; // `?`
export const WINDASH = 2; // one of WINDASH_CHARS
export type WildcardToken = typeof ANY_CHARS | typeof ONE_CHAR | typeof WINDASH;

/**
 * The characters Windows accepts where a command-line flag starts with `-` or `/` (the Sigma specification's
 * windash set: hyphen-minus, slash, en dash U+2013, em dash U+2014, horizontal bar U+2015).
 */
export const WINDASH_CHARS: readonly string[] = ['-', '/', '\u2013', '\u2014', '\u2015'];
/** A Sigma string is a sequence of literal runs and wildcard tokens. */
export type StringPart = string | WildcardToken;

export interface LogSource {
  product?: string;
  category?: string;
  service?: string;
  definition?: string;
}

/** A value after every modifier has been applied: what one field value is compared with. */
export type SigmaValue =
  /** A string pattern (wildcards as tokens); `raw` is the text as written while no modifier changed it. */
  | { kind: 'string'; parts: StringPart[]; cased: boolean; raw?: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  /** `Field: null`: the field is absent, null or empty. */
  | { kind: 'null' }
  | { kind: 'regex'; pattern: string; ignoreCase: boolean; multiLine: boolean; dotAll: boolean }
  | { kind: 'cidr'; version: 4 | 6; network: bigint; prefix: number; text: string }
  | { kind: 'compare'; op: CompareOp; value: number }
  | { kind: 'fieldref'; field: string; match: 'equals' | 'contains' | 'startswith' | 'endswith'; cased: boolean }
  | { kind: 'exists'; value: boolean }
  | { kind: 'timepart'; part: TimePart; op: CompareOp | 'eq'; value: number };

export type CompareOp = 'lt' | 'lte' | 'gt' | 'gte';
export type TimePart = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

/** Where in the rule file an item was written (for errors and warnings). */
export interface ItemLocation {
  /** Path inside the rule, e.g. `detection.selection_cli.CommandLine|contains|all`. */
  path: string;
  /** 1-based line in the YAML file when known. */
  line?: number;
}

/**
 * One `field|modifiers: values` entry, or a keyword (field null: matched against every field's value).
 * Values are ORed, or ANDed with `all`; `neq` turns the item into "the field exists and equals none of them".
 * A modifier may expand one written value into several (windash, base64offset, expand): `groups` keeps the
 * expansions of each written value together, since `all` ANDs written values but ORs their expansions.
 */
export interface DetectionItem {
  field: string | null;
  modifiers: string[];
  /** Every value, expansions included (the groups flattened). */
  values: SigmaValue[];
  /** One group per written value: its expansions. */
  groups: SigmaValue[][];
  all: boolean;
  neq: boolean;
  location: ItemLocation;
}

/** A named search identifier: an OR of AND-groups of items (a map is one group, a list of maps several). */
export interface SearchIdentifier {
  name: string;
  groups: DetectionItem[][];
}

export type ConditionNode =
  | { op: 'and' | 'or'; args: ConditionNode[] }
  | { op: 'not'; arg: ConditionNode }
  /** `N of x*` for N > 1: at least N of the args. */
  | { op: 'atleast'; n: number; args: ConditionNode[] }
  | { op: 'ref'; name: string }
  | { op: 'const'; value: boolean };

export interface SigmaRule {
  kind: 'rule';
  meta: RuleMeta;
  /** Sigma `name` (used by correlation rules to refer to it), when given. */
  name?: string;
  logsource: LogSource;
  detections: Map<string, SearchIdentifier>;
  /** The condition(s) as written; a list of conditions is ORed. */
  conditionText: string[];
  /** The parsed condition, with `1 of x*` etc. already expanded over the detection names. */
  condition: ConditionNode;
}

export type CorrelationType = 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered';

export interface SigmaCorrelation {
  kind: 'correlation';
  meta: RuleMeta;
  name?: string;
  type: CorrelationType;
  /** Ids or names of the referenced rules, in the order written (temporal_ordered uses it). */
  rules: string[];
  groupBy: string[];
  timespanMs: number;
  /** event_count / value_count threshold; temporal types default to "all rules seen". */
  condition?: { op: CompareOp | 'eq'; value: number; field?: string };
  /** Whether the referenced rules also produce their own detections (Sigma default: false). */
  generate: boolean;
  /** alias → (rule id or name → field of that rule's events). */
  aliases: Record<string, Record<string, string>>;
}

export type ParsedRule = SigmaRule | SigmaCorrelation;
