/**
 * The terminal table view of alerts: exactly one line per alert, never wider than the terminal.
 *
 * Widths are display columns (string-width: wide East Asian characters and emoji take 2, combining marks 0), and
 * are handed out by priority: time, severity, host, rule and command line are always shown; the command line gets
 * a fixed share and then the rest, keeping both of its ends; user, reason and image are shown only when they fit.
 */
import type { Alert } from '../model/alert.js';
import { terminalSafe } from './text.js';
import { displayWidth, fits, shorten, truncateEnd, widthWithin } from './width.js';
import { bold, colourSeverity } from './colour.js';

const GAP = 2;
/** The command line's share of the width, reserved before the other columns grow past their minimum. */
const COMMAND_SHARE = 0.36;
/** What it grows to once the others have their preferred widths, before they grow further. */
const COMMAND_COMFORT = 0.45;

type Key = 'time' | 'severity' | 'host' | 'user' | 'rule' | 'reason' | 'image' | 'command';
type Cells = Record<Key, string>;

interface Column {
  key: Key;
  title: string;
  /** Title used when the full one does not fit. */
  short?: string;
  /** Always shown (squeezed if need be) or shown only when its minimum fits. */
  required: boolean;
  /** Narrowest useful width; `floor` is how far a required column is squeezed on a very narrow terminal. */
  min: number;
  floor: number;
  /** Width it grows to before the command line takes the rest; `max` caps it after that. */
  pref: number;
  max: number;
  fit(text: string, width: number): string;
}

const TIME: Column = { key: 'time', title: 'TIME', required: true, min: 14, floor: 8, pref: 20, max: 24, fit: fitTime };
const SEVERITY: Column = { key: 'severity', title: 'SEVERITY', short: 'SEV', required: true, min: 4, floor: 4, pref: 8, max: 13, fit: fitSeverity };
const HOST: Column = { key: 'host', title: 'HOST', required: true, min: 8, floor: 6, pref: 12, max: 24, fit: fitHost };
const RULE: Column = { key: 'rule', title: 'RULE', required: true, min: 16, floor: 10, pref: 32, max: 52, fit: truncateEnd };
const COMMAND: Column = { key: 'command', title: 'COMMAND LINE', short: 'COMMAND', required: true, min: 16, floor: 10, pref: 16, max: Number.MAX_SAFE_INTEGER, fit: shorten };
const USER: Column = { key: 'user', title: 'USER', required: false, min: 8, floor: 8, pref: 16, max: 24, fit: truncateEnd };
const REASON: Column = { key: 'reason', title: 'REASON', required: false, min: 16, floor: 16, pref: 40, max: 60, fit: truncateEnd };
const IMAGE: Column = { key: 'image', title: 'IMAGE', required: false, min: 12, floor: 12, pref: 20, max: 40, fit: fitImage };

/** Left to right on screen. */
const DISPLAY_ORDER: readonly Column[] = [TIME, SEVERITY, HOST, USER, RULE, REASON, IMAGE, COMMAND];
/** The order in which required columns grow toward `pref`, and later toward `max`. */
const GROW_ORDER: readonly Column[] = [SEVERITY, TIME, HOST, RULE];
const GROW_MORE_ORDER: readonly Column[] = [RULE, HOST, TIME, SEVERITY];
/** Optional columns, most wanted first. */
const OPTIONAL_ORDER: readonly Column[] = [USER, REASON, IMAGE];
/** Squeezed first when even the minimums do not fit: the command line, read first, gives way after rule and host. */
const SQUEEZE_ORDER: readonly Column[] = [RULE, HOST, COMMAND, TIME, SEVERITY];

export interface TableOptions {
  /** Terminal width in columns; no line is wider. */
  width: number;
  /** Colour the severity and the header (the caller decides: TTY, NO_COLOR, FORCE_COLOR). */
  colour?: boolean;
}

/** Column widths computed once for a set of alerts, so several tables (one per incident) line up. */
export interface TableLayout {
  width: number;
  columns: Array<{ column: Column; width: number }>;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function userOf(a: Alert): string {
  const u = a.process?.user;
  if (u?.name) return u.domain ? `${u.domain}\\${u.name}` : u.name;
  return str(a.event.data['User'] ?? a.event.data['SubjectUserName']);
}

export function severityOf(a: Alert): string {
  return a.context?.severity ?? a.rule.level ?? '';
}

/** Every cell of an alert, made terminal-safe (the only way event text reaches the table). */
function cellsOf(a: Alert): Cells {
  return {
    time: terminalSafe(a.event.system.timeCreated),
    severity: terminalSafe(severityOf(a)),
    host: terminalSafe(a.event.system.computer),
    user: terminalSafe(userOf(a)),
    rule: terminalSafe(a.rule.title),
    reason: terminalSafe(a.context?.reason ?? ''),
    image: terminalSafe(a.process?.process.executable ?? str(a.event.data['Image'])),
    command: terminalSafe(a.process?.process.command_line ?? str(a.event.data['CommandLine'])),
  };
}

const ISO = /^(\d{4})-(\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?Z?$/;

/** The time in the widest of its forms that fits: 2024-05-01 10:15:30.123Z, 2024-05-01 10:15:30Z, 05-01 10:15:30, 10:15:30. */
export function fitTime(iso: string, width: number): string {
  const m = ISO.exec(iso);
  if (!m) return truncateEnd(iso, width);
  const [, year, monthDay, clock, fraction] = m;
  const forms = [
    `${year}-${monthDay} ${clock}${fraction ? fraction.slice(0, 4) : ''}Z`,
    `${year}-${monthDay} ${clock}Z`,
    `${monthDay} ${clock}`,
    `${clock}`,
  ];
  return forms.find((f) => f.length <= width) ?? clock!.slice(0, Math.max(0, width));
}

const SEVERITY_ABBREVIATION: Record<string, string> = { critical: 'crit', high: 'high', medium: 'med', low: 'low', informational: 'info' };

function fitSeverity(severity: string, width: number): string {
  if (fits(severity, width)) return severity;
  return truncateEnd(SEVERITY_ABBREVIATION[severity] ?? severity, width);
}

/** The full name if it fits, else its first label (`WS01.corp.example` → `WS01`): the domain is mostly the same. */
function fitHost(host: string, width: number): string {
  if (fits(host, width)) return host;
  const dot = host.indexOf('.');
  return truncateEnd(dot > 0 ? host.slice(0, dot) : host, width);
}

/** The full path if it fits, else the file name (both ends kept): `C:\Users\Public\cr.exe` → `cr.exe`. */
function fitImage(path: string, width: number): string {
  if (fits(path, width)) return path;
  const name = path.slice(Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/')) + 1);
  return shorten(name, width);
}

/** The width a column would take with nothing else on screen: its widest cell or title, capped at `max` and the table. */
function naturalWidth(column: Column, rows: readonly Cells[], tableWidth: number): number {
  const cap = Math.min(column.max, tableWidth);
  let widest = displayWidth(column.title);
  for (const r of rows) {
    widest = Math.max(widest, widthWithin(r[column.key], cap));
    if (widest >= cap) return cap;
  }
  return widest;
}

/**
 * Hands out `width` columns by priority: every required column its minimum (squeezed on a very narrow terminal);
 * the command line 36% of the width; time, severity, host and rule their preferred widths; the command line up to
 * 45% of the width; the required columns up to their caps; then user, reason and image if their minimum still fits;
 * the command line all that is left.
 */
export function layoutTable(alerts: readonly Alert[], width: number): TableLayout {
  return layoutRows(alerts.map(cellsOf), width);
}

function layoutRows(rows: readonly Cells[], requestedWidth: number): TableLayout {
  const width = Math.max(1, Math.floor(requestedWidth));
  const natural = new Map<Column, number>(DISPLAY_ORDER.map((c) => [c, naturalWidth(c, rows, width)]));
  const widths = new Map<Column, number>();
  for (const c of SQUEEZE_ORDER) widths.set(c, Math.min(c.min, natural.get(c)!));
  const used = (): number => [...widths.values()].reduce((s, w) => s + w, 0) + GAP * (widths.size - 1);
  squeeze(widths, width, used);

  let free = width - used();
  const grow = (c: Column, target: number): void => {
    const w = widths.get(c);
    if (w === undefined) return;
    const by = Math.max(0, Math.min(free, Math.min(target, natural.get(c)!) - w));
    widths.set(c, w + by);
    free -= by;
  };
  grow(COMMAND, Math.floor(width * COMMAND_SHARE));
  for (const c of GROW_ORDER) grow(c, c.pref);
  free += reclaim(widths, rows);
  grow(COMMAND, Math.floor(width * COMMAND_COMFORT));
  for (const c of GROW_MORE_ORDER) grow(c, c.max);
  for (const c of OPTIONAL_ORDER) {
    const start = Math.min(c.min, natural.get(c)!);
    if (free < GAP + start || !rows.some((r) => r[c.key] !== '')) continue;
    widths.set(c, start);
    free -= GAP + start;
    grow(c, c.pref);
  }
  grow(COMMAND, COMMAND.max);
  for (const c of OPTIONAL_ORDER) grow(c, c.max);
  free += reclaim(widths, rows);
  grow(COMMAND, COMMAND.max);
  return { width, columns: DISPLAY_ORDER.filter((c) => widths.has(c)).map((c) => ({ column: c, width: widths.get(c)! })) };
}

/**
 * Columns whose fitted cells come out narrower than the column (a host shown by its first label, "crit" for
 * critical) give the difference back; returns how much.
 */
function reclaim(widths: Map<Column, number>, rows: readonly Cells[]): number {
  let freed = 0;
  for (const [c, w] of widths) {
    if (c === COMMAND) continue;
    const shown = rows.reduce((widest, r) => Math.max(widest, displayWidth(c.fit(r[c.key], w))), displayWidth(titleFor(c, w)));
    if (shown < w) {
      widths.set(c, shown);
      freed += w - shown;
    }
  }
  return freed;
}

/** Narrows required columns until the minimums fit: to their floors, then to one column each, then drops some. */
function squeeze(widths: Map<Column, number>, width: number, used: () => number): void {
  for (const target of [(c: Column) => c.floor, () => 1]) {
    for (const c of SQUEEZE_ORDER) {
      const over = used() - width;
      if (over <= 0) return;
      const w = widths.get(c)!;
      widths.set(c, Math.max(Math.min(w, target(c)), w - over));
    }
  }
  for (const c of SQUEEZE_ORDER) {
    if (used() <= width || widths.size === 1) return;
    widths.delete(c);
  }
}

function titleFor(column: Column, width: number): string {
  if (fits(column.title, width)) return column.title;
  return truncateEnd(column.short ?? column.title, width);
}

/** One line: cells fitted and padded to their widths, the last one unpadded. */
function renderLine(layout: TableLayout, cellText: (column: Column, width: number) => string, decorate: (column: Column, text: string) => string): string {
  const last = layout.columns.length - 1;
  return layout.columns
    .map(({ column, width }, i) => {
      const text = cellText(column, width);
      const padding = i === last ? '' : ' '.repeat(Math.max(0, width - displayWidth(text)));
      return decorate(column, text) + padding;
    })
    .join(' '.repeat(GAP))
    .trimEnd();
}

/** The header line and one line per alert, each at most `layout.width` columns. */
export function renderRows(alerts: readonly Alert[], layout: TableLayout, colour = false): string[] {
  const header = renderLine(layout, titleFor, (_, t) => (colour ? bold(t) : t));
  const lines = alerts.map((a) => {
    const cells = cellsOf(a);
    const severity = severityOf(a);
    return renderLine(
      layout,
      (column, width) => column.fit(cells[column.key], width),
      (column, text) => (colour && column === SEVERITY ? colourSeverity(severity, text) : text),
    );
  });
  return [header, ...lines];
}

/** Renders the table for a terminal `width` columns wide (a header line, then one line per alert). */
export function renderTable(alerts: readonly Alert[], options: TableOptions): string {
  const layout = layoutTable(alerts, options.width);
  return `${renderRows(alerts, layout, options.colour).join('\n')}\n`;
}

export interface IncidentHeading {
  id: string;
  severity: string;
  host: string;
  first: string;
  last: string;
  alertCount: number;
}

/**
 * `INCIDENT inc-…  high  host WS01  2024-05-01 10:15:30Z .. 2024-05-01 10:31:44Z  3 alerts`, fitted to `width`:
 * the richest variant that fits (shorter times, then a shorter host and id), cut at the end as a last resort.
 */
export function renderIncidentHeader(h: IncidentHeading, width: number, colour = false): string {
  const id = terminalSafe(h.id);
  const host = terminalSafe(h.host);
  const severity = terminalSafe(h.severity);
  const count = `${h.alertCount} alert${h.alertCount === 1 ? '' : 's'}`;
  const variants: Array<[timeWidth: number, hostWidth: number, idWidth: number]> = [
    [24, 64, 64],
    [20, 64, 64],
    [20, 24, 24],
    [14, 24, 24],
    [14, 16, 12],
    [8, 12, 8],
  ];
  const build = ([timeWidth, hostWidth, idWidth]: [number, number, number], sev: string): string =>
    `INCIDENT ${truncateEnd(id, idWidth)}  ${sev}  host ${fitHost(host, hostWidth)}  ${fitTime(terminalSafe(h.first), timeWidth)} .. ${fitTime(terminalSafe(h.last), timeWidth)}  ${count}`;
  for (const v of variants) {
    const plain = build(v, severity);
    if (fits(plain, width)) return colour ? build(v, colourSeverity(h.severity, severity)) : plain;
  }
  return truncateEnd(build(variants[variants.length - 1]!, severity), width);
}
