/** Alerts as CSV: one row per alert, flat columns an analyst can sort and filter. */
import type { Alert } from '../model/alert.js';
import { csvRow } from './text.js';

export const ALERT_CSV_HEADER = [
  'timestamp', 'host', 'user', 'rule_id', 'rule', 'severity', 'reason', 'provider', 'channel', 'event_id', 'record_id',
  'pid', 'image', 'original_file_name', 'command_line', 'parent_pid', 'parent_image', 'parent_command_line',
  'incident_id', 'matched_rules', 'alert_id', 'file', 'line',
];

export function alertCsvHeader(): string {
  return csvRow(ALERT_CSV_HEADER);
}

export function alertCsvRow(a: Alert): string {
  const s = a.event.system;
  const p = a.process?.process;
  const u = a.process?.user;
  return csvRow([
    s.timeCreated, s.computer, u?.name ? (u.domain ? `${u.domain}\\${u.name}` : u.name) : '', a.rule.id, a.rule.title,
    a.context?.severity ?? a.rule.level ?? '', a.context?.reason ?? '', s.provider, s.channel, s.eventId, s.recordId,
    p?.pid, p?.executable, p?.pe?.original_file_name, p?.command_line, p?.parent?.pid, p?.parent?.executable,
    p?.parent?.command_line, a.context?.incident?.id, a.matchedRules.join(' '), a.id, a.event.origin.file, a.event.origin.line,
  ]);
}
