/**
 * Alert → ECS alert document (the JSON shape of `scan --format json|jsonl` and of the service's API).
 * Every field outside `procwatch.*` and `winlog.*` (Winlogbeat's namespace) is an ECS field of ECS_VERSION,
 * with its ECS type (test/output/ecs-conformance.test.ts checks this). What ECS has no field for lives under
 * `procwatch`: severity, reason, certreq intent, tree, lifetime, incident, the rule's own metadata, the
 * input line, the process's integrity level and token elevation.
 */
import type { Alert, RuleMeta } from '../model/alert.js';
import { contextDocument } from '../model/alert.js';
import type { ProcessFields, ProcessEvent } from '../model/process.js';
import { attackFromTags } from './attack.js';

export type EcsDocument = Record<string, unknown>;

/** The ECS release the documents follow (every field used is checked against its field reference). */
export const ECS_VERSION = '8.17.0';
/** `event.module` / `event.dataset`: procwatch's alerts, whatever log the event came from (that is `event.provider`). */
export const EVENT_MODULE = 'procwatch';
export const EVENT_DATASET = 'procwatch.alert';

/** Hash names ECS has under `*.hash.*`; Sysmon's IMPHASH goes to `*.pe.imphash`, anything else is not emitted. */
const ECS_HASHES = new Set(['md5', 'sha1', 'sha256', 'sha384', 'sha512', 'ssdeep', 'tlsh', 'cdhash']);

export function toEcsAlert(alert: Alert): EcsDocument {
  const { event, rule } = alert;
  const s = event.system;
  const severity = alert.context?.severity ?? rule.level ?? 'medium';
  const doc: EcsDocument = {
    '@timestamp': s.timeCreated,
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'alert',
      module: EVENT_MODULE,
      dataset: EVENT_DATASET,
      id: alert.id,
      code: String(s.eventId),
      provider: s.provider,
      severity: RISK_SCORE[severity] ?? 47,
      risk_score: RISK_SCORE[severity] ?? 47,
      ...(alert.process ? { category: ['process'], type: [alert.process.kind === 'start' ? 'start' : 'end'] } : {}),
    },
    rule: ecsRule(rule),
    threat: ecsThreat(rule.tags),
    host: { name: s.computer, os: { type: 'windows', family: 'windows' } },
    ...(alert.process?.user ? { user: compact(alert.process.user) } : {}),
    ...(alert.process ? { process: ecsProcess(alert.process) } : {}),
    winlog: compact({
      channel: s.channel,
      provider_name: s.provider,
      event_id: s.eventId,
      record_id: s.recordId,
      computer_name: s.computer,
      event_data: event.data,
    }),
    // ECS has the log file's path but no line number (log.origin.file.line is the emitting source code's line).
    log: { file: { path: event.origin.file } },
    tags: rule.tags,
    procwatch: {
      severity,
      ...(alert.context ? contextDocument(alert.context) : {}),
      matched_rules: alert.matchedRules,
      rule: ruleExtras(rule),
      ...(event.origin.line !== undefined ? { log: { line: event.origin.line } } : {}),
      ...(alert.process ? nonEcsProcess(alert.process) : {}),
    },
  };
  return doc;
}

/** `event.severity` / `event.risk_score` of a severity (an alert escalated later gets them anew). */
export function riskScore(severity: string): number {
  return RISK_SCORE[severity] ?? 47;
}

/** ECS risk scores as Elastic maps Sigma levels. */
const RISK_SCORE: Record<string, number> = { informational: 21, low: 21, medium: 47, high: 73, critical: 99 };

function ecsRule(rule: RuleMeta): Record<string, unknown> {
  return compact({
    id: rule.id,
    name: rule.title,
    description: rule.description,
    reference: rule.references[0],
    author: rule.author,
    ruleset: rule.source.startsWith('builtin:') ? 'procwatch' : 'sigma',
  });
}

function ecsThreat(tags: readonly string[]): Record<string, unknown>[] {
  const { tactics, techniques } = attackFromTags(tags);
  if (tactics.length === 0 && techniques.length === 0) return [];
  return [
    {
      framework: 'MITRE ATT&CK',
      tactic: { id: tactics.map((t) => t.id), name: tactics.map((t) => t.name), reference: tactics.map((t) => t.reference) },
      technique: { id: techniques.map((t) => t.id), reference: techniques.map((t) => t.reference) },
    },
  ];
}

function ecsProcess(pe: ProcessEvent): Record<string, unknown> {
  const { parent, exit_code, user: _user, ...own } = pe.process;
  return compact({
    ...processFields(own),
    ...(parent ? { parent: compact(processFields(parent)) } : {}),
    exit_code,
  });
}

function processFields(p: ProcessFields): Record<string, unknown> {
  const { imphash, ...hashes } = p.hash ?? {};
  const ecsHashes = Object.fromEntries(Object.entries(hashes).filter(([alg]) => ECS_HASHES.has(alg)));
  const pe = p.pe || imphash ? compact({ ...p.pe, imphash }) : undefined;
  return compact({
    pid: p.pid,
    entity_id: p.entity_id,
    executable: p.executable,
    name: p.name,
    command_line: p.command_line,
    pe,
    hash: Object.keys(ecsHashes).length > 0 ? ecsHashes : undefined,
    working_directory: p.working_directory,
  });
}

/** Integrity level and token elevation: no ECS field (Elastic Endpoint's process.Ext.* is not ECS). */
function nonEcsProcess(pe: ProcessEvent): Record<string, unknown> {
  const own = tokenFields(pe.process);
  const parent = pe.process.parent ? tokenFields(pe.process.parent) : undefined;
  if (!own && !parent) return {};
  return { process: compact({ ...own, ...(parent ? { parent } : {}) }) };
}

function tokenFields(p: ProcessFields): Record<string, unknown> | undefined {
  return p.integrity || p.elevation ? compact({ integrity_level: p.integrity, token_elevation_type: p.elevation }) : undefined;
}

/** The rule's own metadata beyond what ECS `rule.*` carries (NIST mapping, false positives, next steps, ...). */
function ruleExtras(rule: RuleMeta): Record<string, unknown> {
  return compact({
    level: rule.level,
    status: rule.status,
    source: rule.source,
    references: rule.references.length > 0 ? rule.references : undefined,
    falsepositives: rule.falsepositives.length > 0 ? rule.falsepositives : undefined,
    ...rule.extra,
  });
}

/** Drops undefined members so documents stay small and stable. */
function compact<T extends object>(obj: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}
