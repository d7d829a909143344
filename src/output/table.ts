/** The terminal table view of alerts: one line per alert, columns sized to the terminal. */
import type { Alert } from '../model/alert.js';
import { shorten, terminalSafe } from './text.js';

interface Column {
  title: string;
  max: number;
  value(a: Alert): string;
}

const COLUMNS: Column[] = [
  { title: 'TIME', max: 24, value: (a) => a.event.system.timeCreated.replace('T', ' ').replace(/(\.\d{3})\d*Z$/, '$1Z') },
  { title: 'HOST', max: 24, value: (a) => a.event.system.computer },
  { title: 'USER', max: 24, value: (a) => userOf(a) },
  { title: 'RULE', max: 52, value: (a) => a.rule.title },
  { title: 'SEVERITY', max: 13, value: (a) => a.context?.severity ?? a.rule.level ?? '' },
  { title: 'IMAGE', max: 40, value: (a) => a.process?.process.executable ?? str(a.event.data['Image']) },
  { title: 'COMMAND LINE', max: Number.POSITIVE_INFINITY, value: (a) => a.process?.process.command_line ?? str(a.event.data['CommandLine']) },
];
const REASON: Column = { title: 'REASON', max: 60, value: (a) => a.context?.reason ?? '' };

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function userOf(a: Alert): string {
  const u = a.process?.user;
  if (u?.name) return u.domain ? `${u.domain}\\${u.name}` : u.name;
  return str(a.event.data['User'] ?? a.event.data['SubjectUserName']);
}

/** Renders the table; `width` is the terminal width (the command line takes what is left, at least 30). */
export function renderTable(alerts: readonly Alert[], width: number): string {
  const columns = alerts.some((a) => a.context?.reason) ? [...COLUMNS.slice(0, 5), REASON, ...COLUMNS.slice(5)] : COLUMNS;
  const cells = alerts.map((a) => columns.map((c) => terminalSafe(c.value(a))));
  const widths = columns.map((c, i) => Math.min(c.max, Math.max(c.title.length, ...cells.map((r) => r[i]!.length))));
  const fixed = widths.slice(0, -1).reduce((sum, w) => sum + w + 2, 0);
  widths[widths.length - 1] = Math.max(30, Math.min(widths[widths.length - 1]!, width - fixed));
  const line = (row: string[]): string =>
    row
      .map((cell, i) => (i === row.length - 1 ? shorten(cell, widths[i]!) : shorten(cell, widths[i]!).padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join('\n') + '\n';
}
