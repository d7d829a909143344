/**
 * Alert → OCSF Detection Finding (class_uid 2004, category Findings) — the shape Amazon Security Lake,
 * Splunk, Sentinel and other OCSF consumers ingest. One document per alert. OCSF times are epoch milliseconds;
 * procwatch's own context (reason, certreq intent, tree, lifetime, incident) is kept under `unmapped.procwatch`.
 */
import { readFileSync } from 'node:fs';
import type { Alert, Severity } from '../model/alert.js';
import { contextDocument } from '../model/alert.js';
import { attackFromTags } from './attack.js';

export const OCSF_VERSION = '1.3.0';

export type OcsfDocument = Record<string, unknown>;

const SEVERITY_ID: Record<Severity, number> = { informational: 1, low: 2, medium: 3, high: 4, critical: 5 };
const SEVERITY_NAME: Record<Severity, string> = { informational: 'Informational', low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' };

/** OCSF observable type ids. */
const OBS = { hostname: 1, ip: 2, user: 4, url: 6, file: 7, process: 9, command_line: 13 } as const;

let productVersion: string | undefined;
function version(): string {
  if (productVersion === undefined) {
    try {
      productVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      productVersion = '0.0.0';
    }
  }
  return productVersion;
}

export function toOcsfFinding(alert: Alert): OcsfDocument {
  const { event, rule } = alert;
  const s = event.system;
  const ctx = alert.context ?? {};
  const severity = (ctx.severity ?? rule.level ?? 'medium') as Severity;
  const time = Date.parse(s.timeCreated);
  const suppressed = ctx.suppressed !== undefined;
  const proc = processOf(alert);
  const observables: Record<string, unknown>[] = [];
  const observe = (name: string, type_id: number, type: string, value: unknown): void => {
    if (typeof value === 'string' && value !== '') observables.push({ name, type_id, type, value });
  };
  observe('device.hostname', OBS.hostname, 'Hostname', s.computer);
  observe('actor.user.name', OBS.user, 'User Name', proc?.user?.name);
  observe('actor.process.name', OBS.process, 'Process Name', proc?.name);
  observe('actor.process.cmd_line', OBS.command_line, 'Command Line', proc?.cmd_line);

  const evidences: Record<string, unknown>[] = [];
  if (proc) evidences.push({ process: proc });
  const certreq = ctx.enrichments?.['certreq'] as { url?: string; upload_file?: string; response_file?: string; target?: { host?: string; port?: number; scheme?: string; path?: string } } | undefined;
  if (certreq?.url) {
    evidences.push({ url: compact({ url_string: certreq.url, hostname: certreq.target?.host, port: certreq.target?.port, scheme: certreq.target?.scheme, path: certreq.target?.path }) });
    observe('evidences.url.url_string', OBS.url, 'URL String', certreq.url);
  }
  if (certreq?.upload_file) evidences.push({ file: fileObject(certreq.upload_file), data: { role: 'uploaded' } });
  if (certreq?.response_file) evidences.push({ file: fileObject(certreq.response_file), data: { role: 'response written' } });
  const ev = ctx['evidence'] as { network?: Record<string, unknown>[]; dns?: Record<string, unknown>[]; files?: Record<string, unknown>[] } | undefined;
  for (const n of ev?.network ?? []) {
    evidences.push({ dst_endpoint: compact({ ip: n['destination_ip'], hostname: n['destination_hostname'], port: n['destination_port'] }) });
    observe('evidences.dst_endpoint.ip', OBS.ip, 'IP Address', n['destination_ip']);
  }
  for (const q of ev?.dns ?? []) evidences.push({ query: compact({ hostname: q['query'] }), data: compact({ results: q['results'] }) });
  for (const f of ev?.files ?? []) if (typeof f['path'] === 'string') evidences.push({ file: fileObject(f['path']) });

  const { tactics, techniques } = attackFromTags(rule.tags);
  const attacks = techniques.length > 0
    ? techniques.map((t) => compact({ technique: { uid: t.id, src_url: t.reference }, tactic: tactics[0] ? { uid: tactics[0].id, name: tactics[0].name } : undefined }))
    : tactics.map((t) => ({ tactic: { uid: t.id, name: t.name } }));

  return {
    activity_id: 1,
    activity_name: 'Create',
    category_uid: 2,
    category_name: 'Findings',
    class_uid: 2004,
    class_name: 'Detection Finding',
    type_uid: 200401,
    type_name: 'Detection Finding: Create',
    time: Number.isFinite(time) ? time : 0,
    time_dt: s.timeCreated,
    severity_id: SEVERITY_ID[severity] ?? 3,
    severity: SEVERITY_NAME[severity] ?? 'Medium',
    status_id: suppressed ? 3 : 1,
    status: suppressed ? 'Suppressed' : 'New',
    is_alert: !suppressed,
    message: typeof ctx.reason === 'string' ? ctx.reason : rule.title,
    metadata: compact({
      version: OCSF_VERSION,
      product: { name: 'procwatch', vendor_name: 'procwatch', version: version() },
      uid: alert.id,
      log_name: s.channel,
      log_provider: s.provider,
      original_time: s.timeCreated,
      profiles: ['host', 'datetime'],
      correlation_uid: ctx.incident?.id,
    }),
    finding_info: compact({
      uid: alert.id,
      title: rule.title,
      desc: rule.description,
      types: ['Process Activity'],
      analytic: { uid: rule.id, name: rule.title, type_id: 1, type: 'Rule' },
      attacks: attacks.length > 0 ? attacks : undefined,
      first_seen_time: Number.isFinite(time) ? time : undefined,
      last_seen_time: Number.isFinite(time) ? time : undefined,
      src_url: rule.references[0],
      data_sources: [`${s.provider}/${s.eventId}`],
      related_analytics: alert.matchedRules.length > 1 ? alert.matchedRules.filter((r) => r !== rule.id).map((uid) => ({ uid, type_id: 1, type: 'Rule' })) : undefined,
    }),
    device: { hostname: s.computer, name: s.computer, type_id: 0, type: 'Unknown', os: { name: 'Windows', type_id: 100, type: 'Windows' } },
    ...(proc ? { actor: compact({ process: proc, user: proc.user }) } : {}),
    evidences,
    observables,
    unmapped: compact({
      procwatch: { ...contextDocument(ctx), matched_rules: alert.matchedRules },
      winlog: compact({ event_id: s.eventId, record_id: s.recordId, event_data: event.data }),
      log: compact({ file: event.origin.file, line: event.origin.line }),
    }),
  };
}

interface OcsfProcess {
  pid?: number;
  uid?: string;
  name?: string;
  cmd_line?: string;
  file?: Record<string, unknown>;
  user?: { name?: string; domain?: string; uid?: string };
  parent_process?: Record<string, unknown>;
  created_time?: number;
  terminated_time?: number;
  integrity?: string;
}

/** The process from the ECS view when present, else from the event's original fields and the correlation tree. */
function processOf(alert: Alert): OcsfProcess | undefined {
  const p = alert.process?.process;
  const d = alert.event.data;
  const field = (k: string): string | undefined => (typeof d[k] === 'string' && d[k] !== '' ? (d[k] as string) : undefined);
  const path = p?.executable ?? field('Image') ?? field('NewProcessName');
  if (!p && !path) return undefined;
  const lifetime = alert.context?.lifetime as { end?: string } | undefined;
  const tree = alert.context?.process_tree as { process?: { pid?: number; entity_id?: string; user?: string }; parents?: { pid?: number; entity_id?: string; executable?: string; command_line?: string }[] } | undefined;
  const ecsUser = alert.process?.user;
  const user = ecsUser?.name
    ? compact({ name: ecsUser.name, domain: ecsUser.domain, uid: ecsUser.id })
    : tree?.process?.user ? splitUser(tree.process.user) : undefined;
  const parentPath = p?.parent?.executable ?? tree?.parents?.[0]?.executable ?? field('ParentImage') ?? field('ParentProcessName');
  const parent = compact({
    pid: p?.parent?.pid ?? tree?.parents?.[0]?.pid,
    uid: p?.parent?.entity_id ?? tree?.parents?.[0]?.entity_id,
    name: parentPath ? baseName(parentPath) : undefined,
    cmd_line: p?.parent?.command_line ?? tree?.parents?.[0]?.command_line ?? field('ParentCommandLine'),
    file: parentPath ? fileObject(parentPath) : undefined,
  });
  const created = Date.parse(alert.event.system.timeCreated);
  const ended = lifetime?.end ? Date.parse(lifetime.end) : NaN;
  return compact({
    pid: p?.pid ?? tree?.process?.pid,
    uid: p?.entity_id ?? tree?.process?.entity_id,
    name: path ? baseName(path) : undefined,
    cmd_line: p?.command_line ?? field('CommandLine'),
    file: path ? fileObject(path) : undefined,
    user,
    parent_process: Object.keys(parent).length > 0 ? parent : undefined,
    created_time: alert.process?.kind === 'start' || tree ? (Number.isFinite(created) ? created : undefined) : undefined,
    terminated_time: Number.isFinite(ended) ? ended : undefined,
    integrity: p?.integrity,
  }) as OcsfProcess;
}

function fileObject(path: string): Record<string, unknown> {
  return { path, name: baseName(path), type_id: 1, type: 'Regular File' };
}

function splitUser(u: string): { name: string; domain?: string } {
  const i = u.lastIndexOf('\\');
  return i === -1 ? { name: u } : { name: u.slice(i + 1), domain: u.slice(0, i) };
}

function baseName(path: string): string {
  return path.slice(Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) + 1);
}

function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}
