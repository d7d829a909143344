/**
 * One alert, in the order an analyst reads it: severity and reason, what certreq was told to do, why it fired,
 * the process tree and its evidence, related alerts, then status, response actions, audit and the raw document.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, arr, get, obj, rulesById, str, type AlertDetail as Detail, type AlertItem, type Doc, type Page, type RuleMeta } from '../api.js';
import { parseTime } from '../format.js';
import { href } from '../route.js';
import { Failure, Fields, Loading, Section, Sev, StatusForm, Time, X } from '../parts/common.js';
import { ProcessTree } from '../parts/ProcessTree.js';
import { ActionCard, AuditTrail } from '../parts/ActionCard.js';
import { useCan } from '../me.js';
import { Timeline, type TimelineItem } from '../parts/Timeline.js';
import { AlertTable } from './Alerts.js';
import { SuppressFromAlert } from './suppress.js';
import { AlertHead } from '../parts/AlertHead.js';

const SENSITIVE = new Set(['registry_hive', 'ad_database', 'password_database', 'memory_dump', 'private_key', 'credential_store', 'browser_data', 'user_documents', 'system_config']);
const FLAG_LABELS: Record<string, string> = {
  remote_share: 'UNC share',
  staging_directory: 'staging directory',
  executable_content: 'executable content',
  windows_ini: 'win.ini dummy body',
  alternate_data_stream: 'alternate data stream',
  unexpanded_variable: 'unexpanded variable',
  user_profile: 'user profile',
};

function Flags({ flags }: { flags: string[] }) {
  if (flags.length === 0) return <span class="muted">no flags</span>;
  const sensitive = flags.filter((f) => SENSITIVE.has(f));
  return (
    <span class="flags">
      {sensitive.length > 0 ? <span class="flag flag-bad">sensitive ({sensitive.map((f) => f.replace(/_/g, ' ')).join(', ')})</span> : null}
      {flags
        .filter((f) => !SENSITIVE.has(f))
        .map((f) => (
          <span class={`flag ${f === 'windows_ini' ? '' : 'flag-warn'}`}>{FLAG_LABELS[f] ?? f.replace(/_/g, ' ')}</span>
        ))}
    </span>
  );
}

function FileLine({ path, files, role }: { path: string | undefined; files: Doc[]; role: string }) {
  if (!path) return <span class="muted">none</span>;
  const f = files.find((x) => str(x['path']) === path && str(x['role']) === role) ?? files.find((x) => str(x['path']) === path);
  const flags = arr(f?.['flags']).map((x) => String(x));
  return (
    <span class="file">
      <X v={path} className="mono" /> <Flags flags={flags} />
    </span>
  );
}

export function IntentPanel({ alert }: { alert: Doc }) {
  const c = obj(get(alert, 'procwatch.certreq'));
  if (!c) return null;
  const target = obj(c['target']);
  const files = arr(c['files']).map(obj).filter((x): x is Doc => x !== undefined);
  const url = str(c['url']);
  const other = files.filter((f) => str(f['path']) !== str(c['upload_file']) && str(f['path']) !== str(c['response_file']));
  return (
    <Section title="What certreq was told to do" id="intent">
      <Fields
        rows={[
          ['Verb', <span class="verb">{`-${str(c['verb']) ?? '?'}${c['verb_explicit'] === false ? ' (implicit)' : ''}`}</span>],
          ['URL', url ? <X v={url} className="mono url" /> : str(c['config']) ? <X v={str(c['config'])} className="mono" /> : <span class="muted">none</span>],
          ['Scheme', str(target?.['scheme'])],
          ['Host', target ? <X v={str(target['host'])} className="mono" /> : undefined],
          ['Port', str(target?.['port'])],
          ['File sent', <FileLine path={str(c['upload_file'])} files={files} role="upload" />],
          ['File written', <FileLine path={str(c['response_file'])} files={files} role="response" />],
          [
            'Other files',
            other.length ? (
              <ul class="plain">
                {other.map((f) => (
                  <li>
                    <span class="muted">{str(f['role'])}</span> <FileLine path={str(f['path'])} files={[f]} role={str(f['role']) ?? ''} />
                  </li>
                ))}
              </ul>
            ) : undefined,
          ],
          ['Obfuscation', arr(c['obfuscation']).join(', ')],
          ['Run via', <X v={str(c['invoked_via'])} className="mono" />],
          ['Unknown switches', <X v={arr(c['unknown_switches']).join(' ')} className="mono" />],
          ['Truncated', c['truncated'] === true ? 'the command line was longer than the parser reads' : undefined],
        ]}
      />
    </Section>
  );
}

export function WhyPanel({ item, rules }: { item: Detail; rules: Map<string, RuleMeta> | null }) {
  const matched = arr(get(item.alert, 'procwatch.matched_rules')).map(String);
  const ids = matched.length ? matched : [item.rule_id];
  const rule = obj(get(item.alert, 'rule'));
  return (
    <Section title="Why it fired" id="why">
      <ul class="rules">
        {ids.map((id) => {
          const m = rules?.get(id);
          const level = m?.level ?? (id === item.rule_id ? str(get(item.alert, 'procwatch.rule.level')) : undefined);
          return (
            <li>
              <Sev v={level} /> <X v={m?.title ?? (id === item.rule_id ? str(rule?.['name']) : undefined) ?? id} /> <span class="muted mono">{id}</span>
            </li>
          );
        })}
      </ul>
      <Fields
        rows={[
          ['Grade', str(get(item.alert, 'procwatch.grade'))?.replace(/_/g, ' ')],
          ['Rule says', <X v={str(rule?.['description'])} />],
          ['False positives', <X v={arr(get(item.alert, 'procwatch.rule.falsepositives')).join('; ')} />],
        ]}
      />
    </Section>
  );
}

function evidenceItems(alert: Doc): { items: TimelineItem[]; rows: { kind: string; time: string | undefined; text: string }[] } {
  const ev = obj(get(alert, 'procwatch.evidence')) ?? {};
  const items: TimelineItem[] = [];
  const rows: { kind: string; time: string | undefined; text: string }[] = [];
  const push = (kind: string, d: Doc, text: string): void => {
    const t = str(d['time']);
    rows.push({ kind, time: t, text });
    const ms = parseTime(t);
    if (ms !== undefined) items.push({ ms, lane: kind, label: text, cls: `tl-${kind}` });
  };
  for (const n of arr(ev['network']).map(obj)) {
    if (n) push('network', n, `${str(n['protocol']) ?? ''} ${str(n['source_ip']) ?? ''} → ${str(n['destination_hostname']) ?? ''} ${str(n['destination_ip']) ?? ''}:${str(n['destination_port']) ?? ''}`.trim());
  }
  for (const n of arr(ev['dns']).map(obj)) if (n) push('dns', n, `${str(n['query']) ?? ''} → ${str(n['results']) ?? ''}`);
  for (const n of arr(ev['files']).map(obj)) if (n) push('file', n, str(n['path']) ?? '');
  const lifetime = obj(get(alert, 'procwatch.lifetime'));
  const s = parseTime(str(lifetime?.['start']));
  const e = parseTime(str(lifetime?.['end']));
  if (s !== undefined) items.push({ ms: s, lane: 'process', label: 'process start', cls: 'tl-start' });
  if (e !== undefined) items.push({ ms: e, lane: 'process', label: 'process end', cls: 'tl-end' });
  return { items, rows };
}

export function EvidencePanel({ alert }: { alert: Doc }) {
  const { items, rows } = evidenceItems(alert);
  const ev = obj(get(alert, 'procwatch.evidence')) ?? {};
  const more = ['network_total', 'dns_total', 'files_total'].map((k) => (typeof ev[k] === 'number' ? `${k.replace('_total', '')}: ${ev[k]} in all` : '')).filter(Boolean);
  return (
    <Section title="Evidence" id="evidence">
      {rows.length === 0 ? <p class="muted">No network, DNS or file events were seen from this process.</p> : null}
      {items.length > 0 ? <Timeline items={items} lanes={['process', 'network', 'dns', 'file']} label="process lifetime and evidence" /> : null}
      {rows.length > 0 ? (
        <table class="evidence">
          <tbody>
            {rows.map((r) => (
              <tr>
                <td class="c-time">
                  <Time v={r.time} />
                </td>
                <td>{r.kind}</td>
                <td>
                  <X v={r.text} className="mono" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {more.length ? <p class="muted">Only the first records are kept in the alert ({more.join(', ')}).</p> : null}
    </Section>
  );
}

const HOUR = 3_600_000;
/** Alerts listed per related group. */
const RELATED_LIMIT = 20;

function Related({ item }: { item: Detail }) {
  const [groups, setGroups] = useState<{ title: string; items: AlertItem[]; total: number; more: string }[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    const t = parseTime(item.time) ?? Date.now();
    const entity = str(get(item.alert, 'process.entity_id'));
    const queries: { title: string; params: Record<string, string | undefined> }[] = [];
    if (entity) queries.push({ title: 'Same process tree', params: { host: item.host, q: entity } });
    if (item.incident_id) queries.push({ title: 'Same incident', params: { incident: item.incident_id } });
    queries.push({ title: 'Same host within an hour', params: { host: item.host, since: new Date(t - HOUR).toISOString(), until: new Date(t + HOUR).toISOString() } });
    Promise.all(
      queries.map(async (qq) => {
        const p = new URLSearchParams();
        for (const [k, v] of Object.entries(qq.params)) if (v) p.set(k, v);
        p.set('limit', String(RELATED_LIMIT + 1));
        const page = await api<Page<AlertItem>>(`/api/alerts?${p}`);
        const items = page.items.filter((a) => a.id !== item.id).slice(0, RELATED_LIMIT);
        return { title: qq.title, items, total: page.total - (page.items.some((a) => a.id === item.id) ? 1 : 0), more: href('alerts', undefined, qq.params) };
      }),
    ).then(setGroups, setErr);
  }, [item.id]);
  return (
    <Section title="Related alerts" id="related">
      {err ? <Failure error={err} /> : null}
      {!groups && !err ? <Loading /> : null}
      {groups?.map((g) => (
        <div class="related-group">
          <h4>
            {g.title} <span class="muted">({g.total})</span> {g.total > g.items.length ? <a href={g.more}>all</a> : null}
          </h4>
          {g.items.length ? <AlertTable items={g.items} compact /> : <p class="muted">none</p>}
        </div>
      ))}
    </Section>
  );
}

export function AlertDetail({ id, reload }: { id: string; reload: number }) {
  const [item, setItem] = useState<Detail | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [rules, setRules] = useState<Map<string, RuleMeta> | null>(null);
  const [bump, setBump] = useState(0);
  const canTriage = useCan('triage');
  useEffect(() => {
    setErr(null);
    api<Detail>(`/api/alerts/${encodeURIComponent(id)}`).then(setItem, setErr);
  }, [id, reload, bump]);
  useEffect(() => {
    rulesById().then(setRules, () => setRules(new Map()));
  }, []);
  if (err) return <Failure error={err} />;
  if (!item || item.id !== id) return <Loading />;
  const d = item.alert;
  return (
    <article class="detail alert-detail">
      <AlertHead
        item={item}
        rules={rules}
        back={
          <a href="#/alerts" onClick={(e) => (history.length > 1 ? (e.preventDefault(), history.back()) : undefined)}>
            ← back
          </a>
        }
        status={`${item.status}${item.assignee ? ` — ${item.assignee}` : ''}${item.status_reason ? ` (${item.status_reason})` : ''}${item.suppressed ? ' — suppressed' : ''}`}
        incident={item.incident_id ? <a href={href('incidents', item.incident_id)}><X v={item.incident_id} className="mono" /></a> : undefined}
      />
      <div class="detail-grid">
        <IntentPanel alert={d} />
        <WhyPanel item={item} rules={rules} />
      </div>
      <Section title="Process tree" id="tree">
        <ProcessTree alert={d} />
      </Section>
      <EvidencePanel alert={d} />
      <Related item={item} />
      {canTriage ? (
        <Section title="Status" id="status">
          <StatusForm kind="alerts" id={item.id} status={item.status} assignee={item.assignee} onSaved={() => setBump((b) => b + 1)} />
        </Section>
      ) : null}
      <SuppressFromAlert item={item} />
      <Section title="Response actions" id="actions">
        {item.actions.length === 0 ? <p class="muted">none</p> : null}
        {item.actions.map((a) => (
          <ActionCard raw={a} onChanged={() => setBump((b) => b + 1)} />
        ))}
      </Section>
      <Section title="Audit" id="audit">
        <AuditTrail items={item.audit} />
      </Section>
      <details class="panel">
        <summary>Alert document (JSON)</summary>
        <pre class="json">
          <X v={JSON.stringify(d, null, 2)} />
        </pre>
      </details>
    </article>
  );
}
