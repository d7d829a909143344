/**
 * Alert → ECS-style alert document (the JSON shape of `scan --format json|jsonl` and of the service's API).
 * ECS names where ECS has them; procwatch's own context (severity, reason, certreq intent, tree, lifetime,
 * incident, the rule's NIST/false-positive/next-step metadata) lives under the `procwatch` object.
 */
import type { Alert, RuleMeta } from '../model/alert.js';
import type { ProcessFields, ProcessEvent } from '../model/process.js';
import { attackFromTags } from './attack.js';

export type EcsDocument = Record<string, unknown>;

export function toEcsAlert(alert: Alert): EcsDocument {
  const { event, rule } = alert;
  const s = event.system;
  const severity = alert.context?.severity ?? rule.level ?? 'medium';
  const doc: EcsDocument = {
    '@timestamp': s.timeCreated,
    event: {
      kind: 'alert',
      id: alert.id,
      code: String(s.eventId),
      provider: s.provider,
      severity: RISK_SCORE[severity] ?? 47,
      risk_score: RISK_SCORE[severity] ?? 47,
      ...(alert.process ? { category: ['process'], type: [alert.process.kind === 'start' ? 'start' : 'end'] } : {}),
    },
    rule: ecsRule(rule),
    threat: ecsThreat(rule.tags),
    host: { name: s.computer },
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
    log: { file: compact({ path: event.origin.file, line: event.origin.line }) },
    tags: rule.tags,
    procwatch: {
      severity,
      ...(alert.context ?? {}),
      matched_rules: alert.matchedRules,
      rule: ruleExtras(rule),
    },
  };
  return doc;
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
  return compact({
    pid: p.pid,
    entity_id: p.entity_id,
    executable: p.executable,
    name: p.name,
    command_line: p.command_line,
    pe: p.pe ? compact({ ...p.pe }) : undefined,
    hash: p.hash,
    working_directory: p.working_directory,
    Ext: p.integrity || p.elevation ? compact({ integrity_level: p.integrity, token_elevation_type: p.elevation }) : undefined,
  });
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
