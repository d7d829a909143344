/** Writes finalised alerts in the chosen output format, respecting stream back-pressure. */
import type { Writable } from 'node:stream';
import type { Alert, Severity } from '../model/alert.js';
import { SEVERITIES } from '../model/alert.js';
import { toEcsAlert } from '../output/ecs.js';
import { alertCsvHeader, alertCsvRow } from '../output/csv.js';
import { toOcsfFinding } from '../output/ocsf.js';
import { renderHtmlReport } from '../output/html.js';
import { timelineCsvHeader, timelineCsvRow, timelineRows } from '../output/timeline.js';

export const OUTPUT_FORMATS = ['table', 'jsonl', 'json', 'csv', 'ocsf', 'timeline', 'html'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface RenderOptions {
  group?: 'incidents';
  /** Terminal width for the table view: no line of it is wider. */
  width: number;
  /** Severity colours in the table view (decided by the caller from the destination, NO_COLOR and FORCE_COLOR). */
  colour?: boolean;
  /**
   * Completes an alert just before it is written (Correlator.complete: its tree, lifetime, evidence and process
   * view). Line formats call it per alert and keep nothing; the others complete every alert first.
   */
  complete?: (alert: Alert) => Alert;
}

export async function writeAlerts(out: Writable, alerts: readonly Alert[], format: OutputFormat, options: RenderOptions): Promise<void> {
  const w = new ChunkedWriter(out);
  const complete = options.complete;
  if (options.group === 'incidents') await writeIncidents(w, groupIncidents(complete ? alerts.map(complete) : alerts), format, options);
  else if (complete && !STREAMED.has(format)) await writeFlat(w, alerts.map(complete), format, options);
  else await writeFlat(w, alerts, format, options, complete ?? same);
  await w.flush();
}

/** The table view, loaded when used: it brings string-width and a grapheme segmenter (start-up time). */
const tableView = (): Promise<typeof import('../output/table.js')> => import('../output/table.js');

/** Formats written one alert at a time, from that alert alone. */
const STREAMED: ReadonlySet<OutputFormat> = new Set(['jsonl', 'json', 'csv', 'ocsf']);
const same = (a: Alert): Alert => a;

async function writeFlat(w: ChunkedWriter, alerts: readonly Alert[], format: OutputFormat, options: RenderOptions, one: (a: Alert) => Alert = same): Promise<void> {
  switch (format) {
    case 'table':
      if (alerts.length > 0) await w.write((await tableView()).renderTable(alerts, { width: options.width, colour: options.colour }));
      return;
    case 'jsonl':
      for (const a of alerts) await w.write(`${JSON.stringify(toEcsAlert(one(a)))}\n`);
      return;
    case 'json':
      await w.write('[');
      for (let i = 0; i < alerts.length; i++) await w.write(`${i === 0 ? '\n' : ',\n'}${JSON.stringify(toEcsAlert(one(alerts[i]!)))}`);
      await w.write(alerts.length > 0 ? '\n]\n' : ']\n');
      return;
    case 'csv':
      await w.write(alertCsvHeader());
      for (const a of alerts) await w.write(alertCsvRow(one(a)));
      return;
    case 'ocsf':
      for (const a of alerts) await w.write(`${JSON.stringify(toOcsfFinding(one(a)))}\n`);
      return;
    case 'timeline':
      await w.write(timelineCsvHeader());
      for (const r of timelineRows(alerts)) await w.write(timelineCsvRow(r));
      return;
    case 'html':
      await w.write(await renderHtmlReport(alerts));
      return;
  }
}

export interface IncidentGroup {
  id: string;
  host: string;
  severity: Severity;
  first: string;
  last: string;
  alerts: Alert[];
}

/** Groups alerts by the incident correlation assigned them (alerts without one form their own group). */
export function groupIncidents(alerts: readonly Alert[]): IncidentGroup[] {
  const groups = new Map<string, IncidentGroup>();
  for (const a of alerts) {
    const id = a.context?.incident?.id ?? `alert-${a.id}`;
    const sev = (a.context?.severity ?? a.rule.level ?? 'medium') as Severity;
    const t = a.event.system.timeCreated;
    let g = groups.get(id);
    if (!g) {
      g = { id, host: a.event.system.computer, severity: sev, first: t, last: t, alerts: [] };
      groups.set(id, g);
    }
    g.alerts.push(a);
    if (SEVERITIES.indexOf(sev) > SEVERITIES.indexOf(g.severity)) g.severity = sev;
    if (t < g.first) g.first = t;
    if (t > g.last) g.last = t;
  }
  return [...groups.values()].sort((x, y) => (x.first < y.first ? -1 : x.first > y.first ? 1 : 0));
}

const INDENT = '  ';

async function writeIncidents(w: ChunkedWriter, groups: IncidentGroup[], format: OutputFormat, options: RenderOptions): Promise<void> {
  if (format === 'table') {
    const { layoutTable, renderIncidentHeader, renderRows } = await tableView();
    // One layout for every incident's table (indented by two), so the columns line up down the whole output.
    const layout = layoutTable(groups.flatMap((g) => g.alerts), options.width - INDENT.length);
    for (const g of groups) {
      const heading = { id: g.id, severity: g.severity, host: g.host, first: g.first, last: g.last, alertCount: g.alerts.length };
      await w.write(`${renderIncidentHeader(heading, options.width, options.colour)}\n`);
      for (const line of renderRows(g.alerts, layout, options.colour)) await w.write(`${INDENT}${line}\n`);
      await w.write('\n');
    }
    return;
  }
  if (format === 'csv' || format === 'timeline' || format === 'ocsf' || format === 'html') return writeFlat(w, groups.flatMap((g) => g.alerts), format, options);
  const docs = groups.map((g) => ({
    incident: { id: g.id, host: g.host, severity: g.severity, first: g.first, last: g.last, alert_count: g.alerts.length },
    alerts: g.alerts.map(toEcsAlert),
  }));
  if (format === 'jsonl') for (const d of docs) await w.write(`${JSON.stringify(d)}\n`);
  else await w.write(`${JSON.stringify(docs, null, 0)}\n`);
}

/** Batches small writes into larger ones and waits for 'drain' when the destination is full. */
class ChunkedWriter {
  private buffer: string[] = [];
  private size = 0;
  constructor(private readonly out: Writable) {}

  async write(s: string): Promise<void> {
    this.buffer.push(s);
    this.size += s.length;
    if (this.size >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.size === 0) return;
    const chunk = this.buffer.join('');
    this.buffer = [];
    this.size = 0;
    if (!this.out.write(chunk)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }
}
