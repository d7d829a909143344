import { useEffect, useState } from 'preact/hooks';
import { api, type Stats } from '../api.js';
import { href, navigate } from '../route.js';
import { Failure, Loading, X } from '../parts/common.js';
import { TimeChart } from '../parts/TimeChart.js';

export function BarList({ title, rows, id }: { title: string; id: string; rows: { label: unknown; count: number; to: string }[] }) {
  const max = Math.max(1, ...rows.map((r) => r.count));
  return (
    <section class="panel" id={id}>
      <h3>{title}</h3>
      {rows.length === 0 ? <p class="muted">none</p> : null}
      <ol class="barlist">
        {rows.map((r) => (
          <li>
            <a href={r.to} class="barlist-row">
              <span class="barlist-label">
                <X v={r.label} />
              </span>
              <span class="barlist-count">{r.count}</span>
              <meter class="barlist-bar" min={0} max={max} value={r.count} />
            </a>
          </li>
        ))}
      </ol>
    </section>
  );
}

export function Overview({ reload }: { reload: number }) {
  const [stats, setStats] = useState<Stats | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    api<Stats>('/api/stats').then(setStats, setErr);
  }, [reload]);
  if (err) return <Failure error={err} />;
  if (!stats) return <Loading />;
  return (
    <div class="overview">
      <section class="panel wide" id="over-time">
        <h3>Alerts over time by severity</h3>
        {stats.total === 0 ? (
          <p class="muted">No alerts yet. Send events to /ingest (or a shipper) and they appear here.</p>
        ) : (
          <TimeChart stats={stats} onPick={(a, b) => navigate(href('alerts', undefined, { since: new Date(a).toISOString(), until: new Date(b).toISOString() }))} />
        )}
        {stats.truncated ? <p class="muted">Chart and top lists from the newest {stats.scanned} of {stats.total} alerts.</p> : null}
      </section>
      <section class="panel" id="by-status">
        <h3>By status</h3>
        <ul class="status-counts">
          {Object.entries(stats.by_status).map(([s, n]) => (
            <li>
              <a href={href('alerts', undefined, { status: s })}>
                <span class="big">{n}</span> {s}
              </a>
            </li>
          ))}
        </ul>
      </section>
      <BarList id="top-rules" title="Top rules" rows={stats.top_rules.map((r) => ({ label: r.title, count: r.count, to: href('alerts', undefined, { rule: r.rule_id }) }))} />
      <BarList id="top-hosts" title="Top hosts" rows={stats.top_hosts.map((h) => ({ label: h.host, count: h.count, to: href('alerts', undefined, { host: h.host }) }))} />
    </div>
  );
}
