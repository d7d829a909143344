import { useEffect, useState } from 'preact/hooks';
import { api, type IncidentDetail as Detail, type IncidentItem, type Page } from '../api.js';
import { parseTime } from '../format.js';
import { href, navigate, type Route } from '../route.js';
import { IfCan } from '../me.js';
import { Failure, Fields, Loading, Section, Sev, StatusForm, Time, X } from '../parts/common.js';
import { useListKeys } from '../parts/keys.js';
import { Timeline } from '../parts/Timeline.js';
import { Containment } from '../parts/Containment.js';
import { AlertTable } from './Alerts.js';
import { PAGE_SIZE } from './Alerts.js';

export function Incidents({ route, reload }: { route: Route; reload: number }) {
  const [page, setPage] = useState<Page<IncidentItem> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const offset = Math.max(0, Number(route.params.get('offset') ?? 0) || 0);
  const key = route.params.toString();
  useEffect(() => {
    const p = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
    for (const k of ['status', 'severity', 'host']) {
      const v = route.params.get(k);
      if (v) p.set(k, v);
    }
    api<Page<IncidentItem>>(`/api/incidents?${p}`).then(setPage, setErr);
  }, [key, reload]);
  const items = page?.items ?? [];
  const sel = useListKeys(items.length, (i) => navigate(href('incidents', items[i]!.id)), key);
  const go = (off: number): void => {
    const p = new URLSearchParams(route.params);
    p.set('offset', String(off));
    navigate(href('incidents', undefined, p));
  };
  if (err) return <Failure error={err} />;
  if (!page) return <Loading />;
  return (
    <div class="list-view">
      <p class="muted count">
        {page.total === 0 ? 'No incidents.' : `${offset + 1}–${Math.min(offset + PAGE_SIZE, page.total)} of ${page.total} incidents`}
        <span class="hint"> · j/k or ↑/↓ to move, Enter to open</span>
      </p>
      <table class="incidents">
        <thead>
          <tr>
            <th class="c-time">Last seen</th>
            <th class="c-sev">Severity</th>
            <th class="c-host">Host</th>
            <th class="c-user">User</th>
            <th>Alerts</th>
            <th class="c-status">Status</th>
            <th>Assignee</th>
          </tr>
        </thead>
        <tbody>
          {items.map((i, n) => (
            <tr class={n === sel ? 'selected' : ''} data-id={i.id} onClick={() => navigate(href('incidents', i.id))}>
              <td class="c-time">
                <a href={href('incidents', i.id)} onClick={(e) => e.stopPropagation()}>
                  <Time v={i.last_seen} />
                </a>
              </td>
              <td class="c-sev">
                <Sev v={i.severity} />
              </td>
              <td class="c-host">
                <X v={i.host} />
              </td>
              <td class="c-user">
                <X v={i.user} />
              </td>
              <td>{i.alert_count}</td>
              <td class="c-status">{i.status}</td>
              <td>
                <X v={i.assignee} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        <button type="button" disabled={offset === 0} onClick={() => go(Math.max(0, offset - PAGE_SIZE))}>
          ◀ Newer
        </button>
        <button type="button" disabled={offset + PAGE_SIZE >= page.total} onClick={() => go(offset + PAGE_SIZE)}>
          Older ▶
        </button>
      </div>
    </div>
  );
}

const SEVERITY_LANES = ['critical', 'high', 'medium', 'low', 'informational'];

export function IncidentDetail({ id, reload }: { id: string; reload: number }) {
  const [item, setItem] = useState<Detail | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [bump, setBump] = useState(0);
  useEffect(() => {
    setErr(null);
    api<Detail>(`/api/incidents/${encodeURIComponent(id)}`).then(setItem, setErr);
  }, [id, reload, bump]);
  if (err) return <Failure error={err} />;
  if (!item || item.id !== id) return <Loading />;
  const hosts = [...new Set(item.alerts.map((a) => a.host))];
  const users = [...new Set(item.alerts.map((a) => a.user).filter((u): u is string => !!u))];
  const items = item.alerts.flatMap((a) => {
    const ms = parseTime(a.time);
    return ms === undefined ? [] : [{ ms, lane: SEVERITY_LANES.includes(a.severity) ? a.severity : 'low', label: `${a.severity} ${a.host} ${a.rule_id}`, route: href('alerts', a.id), cls: `sev-fill-${a.severity}` }];
  });
  return (
    <article class="detail incident-detail">
      <header class="detail-head">
        <p class="back">
          <a href={href('incidents')}>← incidents</a>
        </p>
        <h2>
          <Sev v={item.severity} /> Incident <X v={item.id} className="mono" />
        </h2>
        <Fields
          rows={[
            ['Status', `${item.status}${item.assignee ? ` — ${item.assignee}` : ''}${item.status_reason ? ` (${item.status_reason})` : ''}`],
            ['First seen', <Time v={item.first_seen} />],
            ['Last seen', <Time v={item.last_seen} />],
            ['Alerts', String(item.alert_count)],
            [
              'Hosts',
              <span class="chips">
                {hosts.map((h) => (
                  <a class="chip" href={href('alerts', undefined, { host: h })}>
                    <X v={h} />
                  </a>
                ))}
              </span>,
            ],
            [
              'Users',
              users.length ? (
                <span class="chips">
                  {users.map((u) => (
                    <span class="chip">
                      <X v={u} />
                    </span>
                  ))}
                </span>
              ) : undefined,
            ],
          ]}
        />
      </header>
      <Section title="Timeline" id="incident-timeline">
        <Timeline items={items} lanes={SEVERITY_LANES} label="alerts of this incident over time" />
      </Section>
      <Section title="Alerts" id="incident-alerts">
        <AlertTable items={item.alerts} />
      </Section>
      <Section title="Containment" id="incident-containment">
        <Containment incidentId={item.id} workflows={item.policy_workflows ?? []} actions={item.actions ?? []} onChanged={() => setBump((b) => b + 1)} />
      </Section>
      <IfCan scope="triage">
        <Section title="Status" id="status">
          <StatusForm kind="incidents" id={item.id} status={item.status} assignee={item.assignee} onSaved={() => setBump((b) => b + 1)} />
        </Section>
      </IfCan>
    </article>
  );
}
