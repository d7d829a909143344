/**
 * Webhook bodies built from the ECS alert document: a generic envelope and the TheHive 5 alert
 * (POST /api/v1/alert), whose `sourceRef` is our alert id so TheHive itself refuses a second copy.
 */
import { lookup } from './template.js';

type Doc = Record<string, unknown>;

export function genericPayload(doc: Doc, workflow: string): Doc {
  return { type: 'procwatch.alert', workflow, alert_id: lookup(doc, 'alert.id'), alert: doc };
}

/** TheHive severities: 1 low, 2 medium, 3 high, 4 critical. */
const THEHIVE_SEVERITY: Record<string, number> = { informational: 1, low: 1, medium: 2, high: 3, critical: 4 };

export function theHive5Payload(doc: Doc, externalBase?: string): Doc {
  const id = String(lookup(doc, 'alert.id') ?? '');
  const host = str(lookup(doc, 'host.name'));
  const ruleName = str(lookup(doc, 'rule.name')) ?? str(lookup(doc, 'rule.id')) ?? 'procwatch alert';
  const severity = str(lookup(doc, 'procwatch.severity')) ?? 'medium';
  const commandLine = str(lookup(doc, 'process.command_line'));
  const url = str(lookup(doc, 'procwatch.certreq.url'));
  const reason = str(lookup(doc, 'procwatch.reason'));
  const ts = Date.parse(str(lookup(doc, '@timestamp')) ?? '');
  const tags = [...stringList(lookup(doc, 'tags')), ...(host ? [`host:${host}`] : [])];
  const observables: Doc[] = [];
  if (host) observables.push({ dataType: 'hostname', data: host });
  if (url) observables.push({ dataType: 'url', data: url, ioc: true });
  if (commandLine) observables.push({ dataType: 'other', data: commandLine, message: 'command line' });
  const sha256 = str(lookup(doc, 'process.hash.sha256'));
  if (sha256) observables.push({ dataType: 'hash', data: sha256, message: 'process image SHA-256' });
  const record = lookup(doc, 'winlog.record_id');
  const lines = [
    `Rule ${str(lookup(doc, 'rule.id')) ?? '?'} matched ${str(lookup(doc, 'winlog.provider_name')) ?? ''} event ${str(lookup(doc, 'winlog.event_id')) ?? ''}${record !== undefined ? ` record ${String(record)}` : ''}.`,
    ...(reason ? ['', reason] : []),
    ...(commandLine ? ['', fence(commandLine)] : []),
  ];
  return {
    type: 'procwatch',
    source: 'procwatch',
    sourceRef: id,
    title: host ? `${ruleName} on ${host}` : ruleName,
    description: lines.join('\n'),
    severity: THEHIVE_SEVERITY[severity] ?? 2,
    date: Number.isFinite(ts) ? ts : Date.now(),
    tags,
    tlp: 2,
    pap: 2,
    ...(externalBase ? { externalLink: `${externalBase.replace(/\/$/, '')}/console/#alerts/${encodeURIComponent(id)}` } : {}),
    observables,
  };
}

/** Markdown code fence longer than any backtick run in the text, so a command line cannot close it. */
function fence(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = '`'.repeat(Math.max(3, longest + 1));
  return `${f}\n${text}\n${f}`;
}

function str(v: unknown): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : String(v);
}
function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
