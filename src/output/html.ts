/**
 * `scan --format html`: one self-contained HTML file for an analyst without a running service. The console's
 * Preact views (built as dist/console/report.js and report.css) are inlined, the alerts are embedded as JSON in
 * a `<script type="application/json">` element that the report reads with textContent (never an HTML-parsing
 * sink), and a CSP meta tag allows exactly the inlined script and style by their SHA-256 (computed when the
 * console is built) and nothing else: no network, no other script, no plugin.
 */
import { readFileSync } from 'node:fs';
import type { Alert, Severity } from '../model/alert.js';
import { toEcsAlert } from './ecs.js';

/** Alerts embedded at most (the report says how many more the scan found); keeps a report openable. */
export const MAX_REPORT_ALERTS = 10_000;

export interface HtmlReportOptions {
  maxAlerts?: number;
  /** Time written into the report (tests pin it). */
  generatedAt?: Date;
}

interface ReportAssets {
  script: string;
  style: string;
  scriptSha256: string;
  styleSha256: string;
}

export class ReportAssetsMissing extends Error {}

/** The built report bundle and the hashes the build computed for it. */
function loadAssets(): ReportAssets {
  const dir = new URL('../../dist/console/', import.meta.url);
  try {
    const manifest = JSON.parse(readFileSync(new URL('report-manifest.json', dir), 'utf8')) as { script_sha256: string; style_sha256: string };
    return {
      script: readFileSync(new URL('report.js', dir), 'utf8'),
      style: readFileSync(new URL('report.css', dir), 'utf8'),
      scriptSha256: manifest.script_sha256,
      styleSha256: manifest.style_sha256,
    };
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ReportAssetsMissing(`the HTML report needs the built console (dist/console/report.js: ${why}); run npm run build`);
  }
}

/** JSON safe inside a script element: no `<` (so no `</script>` or `<!--`), and no line separators. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The alert as the console's list and detail views read it (the API's alert view, without triage state). */
function reportItem(a: Alert): Record<string, unknown> {
  const severity: Severity = a.context?.severity ?? a.rule.level ?? 'medium';
  return {
    id: a.id,
    status: a.context?.suppressed ? 'suppressed' : 'open',
    assignee: null,
    status_reason: null,
    severity,
    rule_id: a.rule.id,
    time: a.event.system.timeCreated,
    host: a.event.system.computer,
    user: a.process?.user?.name ?? null,
    incident_id: a.context?.incident?.id ?? null,
    suppressed: a.context?.suppressed !== undefined,
    alert: toEcsAlert(a),
  };
}

export async function renderHtmlReport(alerts: readonly Alert[], options: HtmlReportOptions = {}): Promise<string> {
  const assets = loadAssets();
  // The aggregation the console's overview uses (chart buckets, top lists), loaded only when a report is written.
  const { aggregate } = await import('./alertStats.js');
  const max = options.maxAlerts ?? MAX_REPORT_ALERTS;
  const kept = alerts.slice(0, max);
  // The overview counts every alert of the scan; the list and detail pages carry the first `max`.
  const stats = aggregate(
    alerts.map((a) => ({
      severity: a.context?.severity ?? a.rule.level ?? 'medium',
      ruleId: a.rule.id,
      doc: { rule: { name: a.rule.title } },
      host: a.event.system.computer,
      time: a.event.system.timeCreated,
    })),
  );
  const data = {
    generated_at: (options.generatedAt ?? new Date()).toISOString(),
    total: alerts.length,
    shown: kept.length,
    stats: { total: alerts.length, scanned: alerts.length, truncated: false, by_status: {}, ...stats },
    alerts: kept.map(reportItem),
  };
  const csp = [
    "default-src 'none'",
    `script-src 'sha256-${assets.scriptSha256}'`,
    `style-src 'sha256-${assets.styleSha256}'`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<title>procwatch scan report</title>',
    `<style>${assets.style}</style>`,
    '</head>',
    '<body>',
    '<div id="root"></div>',
    '<noscript>This report needs JavaScript (inlined; it makes no network requests).</noscript>',
    `<script type="application/json" id="procwatch-report">${scriptSafeJson(data)}</script>`,
    `<script>${assets.script}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
