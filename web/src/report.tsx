/**
 * The offline scan report (`procwatch scan --format html`): the console's overview chart, alert list and alert
 * views over data embedded in the page. The data is read from a `<script type="application/json">` element
 * with textContent and parsed as JSON (no HTML parsing); event text reaches the page only as Preact text
 * children. The page makes no requests: its CSP allows only the inlined script and style.
 */
import { render } from 'preact';
import { useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { get, str, type AlertItem, type RuleMeta, type Stats } from './api.js';
import { parseTime, ZoneContext, type Zone } from './format.js';
import { href, navigate, useRoute, type Route } from './route.js';
import { Failure, Section, Sev, Time, X } from './parts/common.js';
import { TimeChart } from './parts/TimeChart.js';
import { ProcessTree } from './parts/ProcessTree.js';
import { BarList } from './views/Overview.js';
import { AlertTable } from './views/Alerts.js';
import { EvidencePanel, IntentPanel, WhyPanel } from './views/AlertDetail.js';
import { AlertHead } from './parts/AlertHead.js';

interface ReportData {
  generated_at: string;
  total: number;
  shown: number;
  stats: Stats;
  alerts: AlertItem[];
}

/** Rows of the list page (the list is filtered in the page; the detail pages carry the rest). */
const LIST_LIMIT = 500;
const SEVERITY_ORDER = ['informational', 'low', 'medium', 'high', 'critical'];

function readData(): ReportData {
  const text = document.getElementById('procwatch-report')?.textContent ?? '';
  const data = JSON.parse(text) as ReportData;
  if (!data || !Array.isArray(data.alerts) || !data.stats) throw new Error('the report data is incomplete');
  return data;
}

/** The list filters a chart bar or a top-list row sets (the console's URL parameters, applied here). */
function filtered(items: AlertItem[], p: URLSearchParams): AlertItem[] {
  const since = parseTime(p.get('since'));
  const until = parseTime(p.get('until'));
  const host = p.get('host');
  const rule = p.get('rule');
  const minSev = SEVERITY_ORDER.indexOf(p.get('severity') ?? '');
  return items.filter((a) => {
    const t = parseTime(a.time);
    if (host && a.host !== host) return false;
    if (rule && a.rule_id !== rule) return false;
    if (minSev > 0 && SEVERITY_ORDER.indexOf(a.severity) < minSev) return false;
    if (since !== undefined && (t === undefined || t < since)) return false;
    if (until !== undefined && (t === undefined || t >= until)) return false;
    return true;
  });
}

function Overview({ data }: { data: ReportData }) {
  const s = data.stats;
  return (
    <div class="overview">
      <section class="panel wide" id="over-time">
        <h3>Alerts over time by severity</h3>
        {s.total === 0 ? <p class="muted">The scan raised no alerts.</p> : <TimeChart stats={s} onPick={(a, b) => navigate(href('alerts', undefined, { since: new Date(a).toISOString(), until: new Date(b).toISOString() }))} />}
      </section>
      <section class="panel" id="by-severity">
        <h3>By severity</h3>
        <ul class="status-counts">
          {Object.entries(s.by_severity)
            .filter(([, n]) => n > 0)
            .sort(([a], [b]) => SEVERITY_ORDER.indexOf(b) - SEVERITY_ORDER.indexOf(a))
            .map(([sev, n]) => (
              <li>
                <a href={href('alerts', undefined, { severity: sev })}>
                  <span class="big">{n}</span> <Sev v={sev} />
                </a>
              </li>
            ))}
        </ul>
      </section>
      <BarList id="top-rules" title="Top rules" rows={s.top_rules.map((r) => ({ label: r.title, count: r.count, to: href('alerts', undefined, { rule: r.rule_id }) }))} />
      <BarList id="top-hosts" title="Top hosts" rows={s.top_hosts.map((h) => ({ label: h.host, count: h.count, to: href('alerts', undefined, { host: h.host }) }))} />
    </div>
  );
}

function AlertList({ data, route, rules }: { data: ReportData; route: Route; rules: Map<string, RuleMeta> }) {
  const items = filtered(data.alerts, route.params);
  const shown = items.slice(0, LIST_LIMIT);
  const filters = [...route.params.entries()].map(([k, v]) => `${k}=${v}`).join(', ');
  return (
    <div class="list-view">
      <p class="muted count">
        {shown.length} of {items.length} alerts{filters ? <> matching <X v={filters} /> — <a href={href('alerts')}>all</a></> : null}
        {data.shown < data.total ? ` (the report carries the first ${data.shown} of the scan's ${data.total})` : ''}
      </p>
      <AlertTable items={shown} rules={rules} />
    </div>
  );
}

function AlertView({ item, rules }: { item: AlertItem; rules: Map<string, RuleMeta> }) {
  const d = item.alert;
  return (
    <article class="detail alert-detail">
      <AlertHead item={item} rules={rules} back={<a href={href('alerts')}>← alerts</a>} incident={<X v={item.incident_id} className="mono" />} />
      <div class="detail-grid">
        <IntentPanel alert={d} />
        <WhyPanel item={{ ...item, actions: [], audit: [] }} rules={rules} />
      </div>
      <Section title="Process tree" id="tree">
        <ProcessTree alert={d} />
      </Section>
      <EvidencePanel alert={d} />
      <details class="panel">
        <summary>Alert document (JSON)</summary>
        <pre class="json">
          <X v={JSON.stringify(d, null, 2)} />
        </pre>
      </details>
    </article>
  );
}

function Report({ data }: { data: ReportData }) {
  const route = useRoute();
  const [zone, setZone] = useState<Zone>('utc');
  const rules = new Map<string, RuleMeta>();
  const tab = (view: string, label: string) => (
    <a href={href(view)} class={route.view === view ? 'tab active' : 'tab'} aria-current={route.view === view ? 'page' : undefined}>
      {label}
    </a>
  );
  let body;
  if (route.view === 'alerts' && route.id) {
    const item = data.alerts.find((a) => a.id === route.id);
    body = item ? <AlertView item={item} rules={rules} /> : <Failure error={`no alert ${route.id} in this report`} />;
  } else if (route.view === 'alerts') body = <AlertList data={data} route={route} rules={rules} />;
  else body = <Overview data={data} />;
  return (
    <ZoneContext.Provider value={zone}>
      <header class="top">
        <h1>
          <a href={href('overview')}>procwatch scan report</a>
        </h1>
        <nav>
          {tab('overview', 'Overview')}
          {tab('alerts', `Alerts (${data.total})`)}
        </nav>
        <div class="top-tools">
          <span class="generated">
            generated <Time v={data.generated_at} />
          </span>
          <button type="button" class="zone" onClick={() => setZone(zone === 'utc' ? 'local' : 'utc')} title="show times in UTC or local time">
            {zone === 'utc' ? 'UTC' : 'Local'}
          </button>
        </div>
      </header>
      <main class="content">{body}</main>
    </ZoneContext.Provider>
  );
}

const root = document.getElementById('root')!;
try {
  render(<Report data={readData()} />, root);
} catch (err) {
  // A damaged or hand-edited report: say so instead of a blank page.
  render(<Failure error={err instanceof Error ? `This report cannot be shown: ${err.message}` : String(err)} />, root);
}
