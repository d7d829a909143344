/**
 * The triage/correlation config file (YAML): incident grouping, index size, user groups and suppressions.
 * Every problem is reported with the file and the path of the entry (`suppressions[2].expires: ...`).
 *
 *   incidents: { group_by_user: false, gap: 30m, span: 24h }
 *   index: { capacity: 200000 }
 *   groups: { pki-admins: ['CONTOSO\alice', 'CONTOSO\svc_pki*'] }
 *   suppressions:
 *     - id: pki-renewals
 *       reason: scheduled certificate renewal by the PKI team
 *       rule: certreq-download-upload        # string or list; rule ids
 *       user: 'CONTOSO\svc_pki'              # glob(s); without a backslash, matches the name part only
 *       group: pki-admins                    # name(s) from `groups`
 *       host: 'CA01*'                        # glob(s)
 *       parent_image: '*\taskhostw.exe'      # glob(s)
 *       image: '*\certreq.exe'               # glob(s)
 *       command_line: 'certreq* -enroll *'   # glob(s)
 *       command_line_regex: '-enroll\s+-machine'  # RE2 regex(es), unanchored
 *       expires: 2027-01-01                  # ISO date/time; after it the suppression no longer applies
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../configError.js';
import { globPattern, regexPattern, userPattern, type Pattern } from './glob.js';

export interface IncidentSettings {
  groupByUser: boolean;
  gapMs: number;
  spanMs: number;
}

export interface Suppression {
  id: string;
  reason?: string;
  rules?: string[];
  users?: Pattern[];
  groups?: string[];
  hosts?: Pattern[];
  parentImages?: Pattern[];
  images?: Pattern[];
  commandLines?: Pattern[];
  expires?: Date;
}

export interface TriageConfig {
  incidents: Partial<IncidentSettings>;
  indexCapacity?: number;
  /** Caps of the live extent in serve/worker (`extent:` mapping; see correlate/extentLive.ts). */
  extent?: Partial<Record<ExtentCap, number>>;
  groups: Map<string, Pattern[]>;
  suppressions: Suppression[];
}

/** The `extent:` keys (YAML, snake case) and the LiveExtentLimits field each sets. */
const EXTENT_KEYS = { followed: 'followed', destinations: 'destinations', destination_entries: 'destinationEntries', resolved: 'resolved' } as const;
export type ExtentCap = (typeof EXTENT_KEYS)[keyof typeof EXTENT_KEYS];

/** The YAML shape, as a user writes it. */
export interface TriageConfigInput {
  incidents?: { group_by_user?: boolean; gap?: string | number; span?: string | number };
  index?: { capacity?: number };
  extent?: { followed?: number; destinations?: number; destination_entries?: number; resolved?: number };
  groups?: Record<string, string | string[]>;
  suppressions?: Record<string, unknown>[];
}

/** A problem in the config file; the message names the file and the entry. Callers print it and exit 2. */
export const DEFAULT_INCIDENTS: IncidentSettings = { groupByUser: false, gapMs: 30 * 60_000, spanMs: 24 * 3_600_000 };

export function loadTriageConfig(path: string): TriageConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read: ${(err as Error).message}`, { file: path });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`invalid YAML: ${(err as Error).message.split('\n')[0]}`, { file: path });
  }
  return parseTriageConfig(doc ?? {}, path);
}

export function parseTriageConfig(doc: unknown, source = 'config'): TriageConfig {
  const fail = (where: string, msg: string): never => {
    throw new ConfigError(msg, { file: source, at: where });
  };
  if (!isObject(doc)) fail('top level', 'expected a mapping');
  const root = doc as Record<string, unknown>;
  for (const key of Object.keys(root)) if (!['incidents', 'index', 'extent', 'groups', 'suppressions'].includes(key)) fail(key, 'unknown key (expected incidents, index, extent, groups, suppressions)');

  const incidents: Partial<IncidentSettings> = {};
  if (root['incidents'] !== undefined) {
    const inc = root['incidents'];
    if (!isObject(inc)) fail('incidents', 'expected a mapping');
    const i = inc as Record<string, unknown>;
    if (i['group_by_user'] !== undefined) {
      if (typeof i['group_by_user'] !== 'boolean') fail('incidents.group_by_user', 'expected true or false');
      incidents.groupByUser = i['group_by_user'] as boolean;
    }
    if (i['gap'] !== undefined) incidents.gapMs = durationOrFail(i['gap'], 'incidents.gap', fail);
    if (i['span'] !== undefined) incidents.spanMs = durationOrFail(i['span'], 'incidents.span', fail);
  }

  let indexCapacity: number | undefined;
  if (root['index'] !== undefined) {
    const idx = root['index'];
    if (!isObject(idx)) fail('index', 'expected a mapping');
    const cap = (idx as Record<string, unknown>)['capacity'];
    if (cap !== undefined) {
      if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1) fail('index.capacity', 'expected a positive integer');
      indexCapacity = cap as number;
    }
  }

  let extent: TriageConfig['extent'];
  if (root['extent'] !== undefined) {
    const ext = root['extent'];
    if (!isObject(ext)) fail('extent', 'expected a mapping');
    extent = {};
    for (const [key, v] of Object.entries(ext as Record<string, unknown>)) {
      const field = EXTENT_KEYS[key as keyof typeof EXTENT_KEYS];
      if (!field) fail(`extent.${key}`, `unknown key (expected ${Object.keys(EXTENT_KEYS).join(', ')})`);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`extent.${key}`, 'expected a positive integer');
      extent[field] = v as number;
    }
  }

  const groups = new Map<string, Pattern[]>();
  if (root['groups'] !== undefined) {
    if (!isObject(root['groups'])) fail('groups', 'expected a mapping of group name to user patterns');
    for (const [name, members] of Object.entries(root['groups'] as Record<string, unknown>)) {
      groups.set(name.toLowerCase(), stringList(members, `groups.${name}`, fail).map((m) => userPattern(m)));
    }
  }

  const suppressions: Suppression[] = [];
  if (root['suppressions'] !== undefined) {
    if (!Array.isArray(root['suppressions'])) fail('suppressions', 'expected a list');
    (root['suppressions'] as unknown[]).forEach((entry, n) => suppressions.push(parseSuppression(entry, `suppressions[${n}]`, groups, fail)));
  }
  return { incidents, indexCapacity, ...(extent ? { extent } : {}), groups, suppressions };
}

type Fail = (where: string, msg: string) => never;

const SUPPRESSION_KEYS = ['id', 'reason', 'rule', 'user', 'group', 'host', 'parent_image', 'image', 'command_line', 'command_line_regex', 'expires'];

function parseSuppression(entry: unknown, where: string, groups: Map<string, Pattern[]>, fail: Fail): Suppression {
  if (!isObject(entry)) fail(where, 'expected a mapping');
  const e = entry as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!SUPPRESSION_KEYS.includes(key)) fail(`${where}.${key}`, `unknown key (expected one of ${SUPPRESSION_KEYS.join(', ')})`);
  const s: Suppression = { id: e['id'] !== undefined ? String(e['id']) : where };
  if (e['reason'] !== undefined) s.reason = String(e['reason']);
  if (e['rule'] !== undefined) s.rules = stringList(e['rule'], `${where}.rule`, fail);
  if (e['user'] !== undefined) s.users = stringList(e['user'], `${where}.user`, fail).map(userPattern);
  if (e['group'] !== undefined) {
    s.groups = stringList(e['group'], `${where}.group`, fail).map((g) => g.toLowerCase());
    for (const g of s.groups) if (!groups.has(g)) fail(`${where}.group`, `unknown group "${g}" (define it under groups:)`);
  }
  if (e['host'] !== undefined) s.hosts = globs(e['host'], `${where}.host`, fail);
  if (e['parent_image'] !== undefined) s.parentImages = globs(e['parent_image'], `${where}.parent_image`, fail);
  if (e['image'] !== undefined) s.images = globs(e['image'], `${where}.image`, fail);
  const cmd: Pattern[] = [];
  if (e['command_line'] !== undefined) cmd.push(...globs(e['command_line'], `${where}.command_line`, fail));
  if (e['command_line_regex'] !== undefined) {
    for (const r of stringList(e['command_line_regex'], `${where}.command_line_regex`, fail)) {
      try {
        cmd.push(regexPattern(r));
      } catch (err) {
        fail(`${where}.command_line_regex`, `invalid RE2 regex "${r}": ${(err as Error).message}`);
      }
    }
  }
  if (cmd.length > 0) s.commandLines = cmd;
  if (e['expires'] !== undefined) {
    const raw = e['expires'];
    const d = raw instanceof Date ? raw : new Date(String(raw));
    if (Number.isNaN(d.getTime())) fail(`${where}.expires`, `not a date: "${String(raw)}" (use ISO 8601, e.g. 2027-01-01 or 2027-01-01T00:00:00Z)`);
    s.expires = d;
  }
  const criteria = [s.rules, s.users, s.groups, s.hosts, s.parentImages, s.images, s.commandLines].filter((c) => c !== undefined);
  if (criteria.length === 0) fail(where, 'a suppression needs at least one of rule, user, group, host, parent_image, image, command_line, command_line_regex');
  return s;
}

/** '30m', '24h', '90s', '2d', '1500ms' or a number of seconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(v);
  if (!m) return undefined;
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 86_400_000;
  return Number(m[1]) * factor;
}

function durationOrFail(v: unknown, where: string, fail: Fail): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) return fail(where, `not a duration: "${String(v)}" (e.g. 30m, 24h, 90s, 2d)`);
  return ms;
}

function globs(v: unknown, where: string, fail: Fail): Pattern[] {
  return stringList(v, where, fail).map(globPattern);
}

function stringList(v: unknown, where: string, fail: Fail): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) fail(where, 'empty list');
  return list.map((x) => {
    if (typeof x !== 'string' && typeof x !== 'number') return fail(where, 'expected a string or a list of strings');
    return String(x);
  });
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
