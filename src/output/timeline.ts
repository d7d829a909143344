/**
 * Alerts → a CSV timeline: one row per event — the alerting events and the events correlation tied to them
 * (parent and child process starts, the termination, network connections, DNS queries, files written) —
 * sorted by time, like the super-timelines DFIR analysts load into a spreadsheet or Timesketch (the first
 * columns are Timesketch's `datetime`, `timestamp`, `timestamp_desc`, `message`). RFC 4180 quoting; cells a
 * spreadsheet would evaluate as formulas (= + - @) are prefixed with an apostrophe (see csvCell).
 */
import type { Alert } from '../model/alert.js';
import { csvRow } from './text.js';

export const TIMELINE_HEADER = [
  'datetime', 'timestamp', 'timestamp_desc', 'message', 'host', 'user', 'activity', 'provider', 'event_id', 'record_id',
  'pid', 'process_guid', 'image', 'command_line', 'parent_pid', 'parent_image', 'detail', 'severity', 'reason',
  'rule_ids', 'incident_id', 'alert_ids', 'relation', 'source_file', 'source_line',
] as const;

export interface TimelineRow {
  datetime: string;
  /** Microseconds since the epoch (Timesketch's `timestamp`). */
  timestamp: number;
  timestamp_desc: string;
  message: string;
  host: string;
  user?: string;
  activity: string;
  provider?: string;
  event_id?: number;
  record_id?: number;
  pid?: number;
  process_guid?: string;
  image?: string;
  command_line?: string;
  parent_pid?: number;
  parent_image?: string;
  detail?: string;
  severity?: string;
  reason?: string;
  rule_ids: string[];
  incident_id?: string;
  alert_ids: string[];
  /** How the row relates to the alert(s): 'alert', 'parent', 'grandparent+N', 'child', 'termination', 'network', ... */
  relation: string;
  source_file?: string;
  source_line?: number;
}

interface TreeNode {
  pid?: number;
  entity_id?: string;
  executable?: string;
  command_line?: string;
  user?: string;
  start?: string;
  end?: string;
  exit_code?: number;
  event?: { provider?: string; event_id?: number; record_id?: number };
}

const DESC: Record<string, string> = {
  start: 'Process Start', end: 'Process End', network: 'Network Connection', dns: 'DNS Query', file: 'File Created', other: 'Event',
};

/** The timeline rows of these alerts: de-duplicated per event, in time order. */
export function timelineRows(alerts: readonly Alert[]): TimelineRow[] {
  const rows = new Map<string, TimelineRow>();
  const add = (key: string, row: TimelineRow): void => {
    const have = rows.get(key);
    if (!have) {
      rows.set(key, row);
      return;
    }
    // Same event reached from several alerts (or two rules on one event): merge what the alerts say.
    for (const r of row.rule_ids) if (!have.rule_ids.includes(r)) have.rule_ids.push(r);
    for (const a of row.alert_ids) if (!have.alert_ids.includes(a)) have.alert_ids.push(a);
    if (row.relation === 'alert' && have.relation !== 'alert') {
      have.relation = 'alert';
      have.severity = row.severity;
      have.reason = row.reason;
    }
    have.incident_id ??= row.incident_id;
  };

  for (const a of alerts) {
    const s = a.event.system;
    const host = s.computer;
    const ctx = a.context ?? {};
    const incident = ctx.incident?.id;
    const tree = ctx.process_tree as { process?: TreeNode; parents?: TreeNode[]; children?: TreeNode[] } | undefined;
    const d = a.event.data;
    const field = (k: string): string | undefined => (typeof d[k] === 'string' && d[k] !== '' ? (d[k] as string) : undefined);
    const activity = activityName(s.provider, s.eventId);
    const image = a.process?.process.executable ?? field('Image') ?? field('NewProcessName') ?? tree?.process?.executable;
    const commandLine = a.process?.process.command_line ?? field('CommandLine');
    add(eventRowKey(host, s.provider, s.eventId, s.recordId, s.timeCreated, tree?.process?.pid), {
      datetime: s.timeCreated,
      timestamp: micros(s.timeCreated),
      timestamp_desc: DESC[activity] ?? 'Event',
      message: `[${ctx.severity ?? a.rule.level ?? 'medium'}] ${a.rule.title}: ${ctx.reason ?? commandLine ?? ''}`,
      host,
      user: userOf(a) ?? tree?.process?.user,
      activity,
      provider: s.provider,
      event_id: s.eventId,
      record_id: s.recordId,
      pid: a.process?.process.pid ?? tree?.process?.pid,
      process_guid: a.process?.process.entity_id ?? tree?.process?.entity_id,
      image,
      command_line: commandLine,
      parent_pid: a.process?.process.parent?.pid ?? tree?.parents?.[0]?.pid,
      parent_image: a.process?.process.parent?.executable ?? field('ParentImage') ?? field('ParentProcessName') ?? tree?.parents?.[0]?.executable,
      severity: ctx.severity ?? a.rule.level,
      reason: ctx.reason,
      rule_ids: [...a.matchedRules],
      incident_id: incident,
      alert_ids: [a.id],
      relation: 'alert',
      source_file: a.event.origin.file,
      source_line: a.event.origin.line,
    });
    if (!tree) continue;
    const related = (node: TreeNode, relation: string, parent?: TreeNode): void => {
      if (!node.start) return;
      add(eventRowKey(host, node.event?.provider, node.event?.event_id, node.event?.record_id, node.start, node.pid), nodeRow(node, host, relation, a, incident, parent));
    };
    const parents = tree.parents ?? [];
    parents.forEach((p, i) => related(p, i === 0 ? 'parent' : `ancestor-${i + 1}`, parents[i + 1]));
    for (const c of tree.children ?? []) related(c, 'child', tree.process);
    const life = ctx.lifetime as { end?: string; exit_code?: number; exit_status?: string; end_event?: { provider?: string; event_id?: number; record_id?: number } } | undefined;
    if (life?.end) {
      add(eventRowKey(host, life.end_event?.provider, life.end_event?.event_id, life.end_event?.record_id, life.end, tree.process?.pid), {
        datetime: life.end, timestamp: micros(life.end), timestamp_desc: DESC['end']!,
        message: `process ${tree.process?.executable ?? tree.process?.pid ?? ''} ended${life.exit_status ? ` with status ${life.exit_status}` : ''}`,
        host, activity: 'end', provider: life.end_event?.provider, event_id: life.end_event?.event_id, record_id: life.end_event?.record_id,
        pid: tree.process?.pid, process_guid: tree.process?.entity_id, image: tree.process?.executable,
        detail: life.exit_status ? `exit status ${life.exit_status}` : undefined,
        rule_ids: [], incident_id: incident, alert_ids: [a.id], relation: 'termination',
      });
    }
    const evidence = ctx['evidence'] as Record<string, Record<string, unknown>[] | number> | undefined;
    for (const [kind, items] of Object.entries(evidence ?? {})) {
      if (!Array.isArray(items)) continue;
      const activityKind = kind === 'files' ? 'file' : kind;
      for (const item of items) {
        const time = typeof item['time'] === 'string' ? item['time'] : undefined;
        if (!time) continue;
        const detail = evidenceText(activityKind, item);
        add(eventRowKey(host, 'Microsoft-Windows-Sysmon', item['event_id'] as number | undefined, item['record_id'] as number | undefined, time, tree.process?.pid, detail), {
          datetime: time, timestamp: micros(time), timestamp_desc: DESC[activityKind] ?? 'Event',
          message: `${tree.process?.executable ?? 'process'}: ${detail}`,
          host, activity: activityKind, provider: 'Microsoft-Windows-Sysmon', event_id: item['event_id'] as number | undefined, record_id: item['record_id'] as number | undefined,
          pid: tree.process?.pid, process_guid: tree.process?.entity_id, image: tree.process?.executable, detail,
          rule_ids: [], incident_id: incident, alert_ids: [a.id], relation: activityKind,
        });
      }
    }
  }
  return [...rows.values()]
    .map((row, i) => ({ row, i }))
    .sort((x, y) => x.row.timestamp - y.row.timestamp || x.i - y.i)
    .map((x) => x.row);
}

export function timelineCsvHeader(): string {
  return csvRow([...TIMELINE_HEADER]);
}

export function timelineCsvRow(r: TimelineRow): string {
  return csvRow([
    r.datetime, r.timestamp, r.timestamp_desc, r.message, r.host, r.user, r.activity, r.provider, r.event_id, r.record_id,
    r.pid, r.process_guid, r.image, r.command_line, r.parent_pid, r.parent_image, r.detail, r.severity, r.reason,
    r.rule_ids.join(' '), r.incident_id, r.alert_ids.join(' '), r.relation, r.source_file, r.source_line,
  ]);
}

/** The whole timeline as one CSV string (header first). */
export function timelineCsv(alerts: readonly Alert[]): string {
  return timelineCsvHeader() + timelineRows(alerts).map(timelineCsvRow).join('');
}

function nodeRow(node: TreeNode, host: string, relation: string, a: Alert, incident: string | undefined, parent?: TreeNode): TimelineRow {
  return {
    datetime: node.start!, timestamp: micros(node.start!), timestamp_desc: DESC['start']!,
    message: `${relation} process ${node.executable ?? node.pid ?? ''} started: ${node.command_line ?? ''}`,
    host, user: node.user, activity: 'start', provider: node.event?.provider, event_id: node.event?.event_id, record_id: node.event?.record_id,
    pid: node.pid, process_guid: node.entity_id, image: node.executable, command_line: node.command_line,
    parent_pid: parent?.pid, parent_image: parent?.executable,
    rule_ids: [], incident_id: incident, alert_ids: [a.id], relation,
  };
}

function evidenceText(kind: string, item: Record<string, unknown>): string {
  if (kind === 'network') {
    const dest = item['destination_hostname'] ?? item['destination_ip'] ?? '?';
    return `connection to ${String(dest)}${item['destination_ip'] && item['destination_hostname'] ? ` (${String(item['destination_ip'])})` : ''}:${String(item['destination_port'] ?? '?')}${item['protocol'] ? `/${String(item['protocol'])}` : ''}`;
  }
  if (kind === 'dns') return `DNS query ${String(item['query'] ?? '?')}${item['results'] ? ` → ${String(item['results'])}` : ''}`;
  return `file created ${String(item['path'] ?? '?')}`;
}

function eventRowKey(host: string, provider: string | undefined, eventId: number | undefined, recordId: number | undefined, time: string, pid?: number, detail?: string): string {
  const h = host.toLowerCase();
  if (recordId !== undefined && eventId !== undefined) return `${h}|${provider ?? ''}|${eventId}|${recordId}`;
  return `${h}|${provider ?? ''}|${eventId ?? ''}|${time}|${pid ?? ''}|${detail ?? ''}`;
}

function activityName(provider: string, eventId: number): string {
  if (provider === 'Microsoft-Windows-Sysmon') return ({ 1: 'start', 5: 'end', 3: 'network', 22: 'dns', 11: 'file' } as Record<number, string>)[eventId] ?? 'other';
  if (provider === 'Microsoft-Windows-Security-Auditing') return eventId === 4688 ? 'start' : eventId === 4689 ? 'end' : 'other';
  return 'other';
}

function userOf(a: Alert): string | undefined {
  const u = a.process?.user;
  if (u?.name) return u.domain ? `${u.domain}\\${u.name}` : u.name;
  const d = a.event.data;
  const name = d['User'] ?? d['TargetUserName'] ?? d['SubjectUserName'];
  return typeof name === 'string' && name !== '' ? name : undefined;
}

/** ISO time → epoch microseconds, keeping the sub-millisecond digits Windows records. */
function micros(iso: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return 0;
  const frac = /\.(\d+)/.exec(iso)?.[1] ?? '';
  const extra = Number((frac.slice(3, 6) || '0').padEnd(3, '0'));
  return ms * 1000 + extra;
}
