/**
 * Search and list: free text (`q`) plus the API's filters, all kept in the URL. The list is keyboard-driven:
 * j/k or arrows move, Enter opens.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, get, rulesById, str, type AlertItem, type Page, type RuleMeta } from '../api.js';
import { href, navigate, type Route } from '../route.js';
import { Failure, Loading, Sev, Time, X } from '../parts/common.js';
import { useListKeys } from '../parts/keys.js';

export const PAGE_SIZE = 50;
const FILTERS = ['q', 'status', 'severity', 'host', 'rule', 'incident', 'since', 'until'] as const;

function SearchForm({ params }: { params: URLSearchParams }) {
  const submit = (e: Event): void => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const k of FILTERS) {
      const v = String(data.get(k) ?? '').trim();
      if (!v) continue;
      // datetime-local inputs carry no zone: they are read as UTC, like every time the console shows.
      next[k] = (k === 'since' || k === 'until') && !/[zZ]|[+-]\d\d:\d\d$/.test(v) ? `${v}Z` : v;
    }
    navigate(href('alerts', undefined, next));
  };
  const p = (k: string): string => params.get(k) ?? '';
  return (
    <form class="search" onSubmit={submit} key={params.toString()}>
      <label class="grow">
        Search
        <input name="q" type="search" defaultValue={p('q')} maxLength={200} placeholder="command line, image, host, user, rule, URL…" />
      </label>
      <label>
        Status
        <select name="status" defaultValue={p('status')}>
          <option value="">any</option>
          <option>open</option>
          <option>acknowledged</option>
          <option>closed</option>
        </select>
      </label>
      <label>
        Severity ≥
        <select name="severity" defaultValue={p('severity')}>
          <option value="">any</option>
          <option>low</option>
          <option>medium</option>
          <option>high</option>
          <option>critical</option>
        </select>
      </label>
      <label>
        Host
        <input name="host" defaultValue={p('host')} size={14} />
      </label>
      <label>
        Rule id
        <input name="rule" defaultValue={p('rule')} size={14} />
      </label>
      <label>
        Since (UTC)
        <input name="since" defaultValue={p('since')} size={14} placeholder="2024-05-01T10:00Z" />
      </label>
      <label>
        Until (UTC)
        <input name="until" defaultValue={p('until')} size={14} />
      </label>
      {p('incident') ? <input type="hidden" name="incident" value={p('incident')} /> : null}
      <button type="submit">Search</button>
      <a class="button-link" href={href('alerts')}>
        Clear
      </a>
    </form>
  );
}

export function ruleTitle(a: AlertItem, rules: Map<string, RuleMeta> | null): string {
  return str(get(a.alert, 'rule.name')) ?? rules?.get(a.rule_id)?.title ?? a.rule_id;
}

/** The alert table shared by the list, incident and related views. */
export function AlertTable({ items, selected, compact, rules: given }: { items: AlertItem[]; selected?: number; compact?: boolean; rules?: Map<string, RuleMeta> }) {
  const [loaded, setRules] = useState<Map<string, RuleMeta> | null>(null);
  // Rule titles from the API, unless the caller has them (the offline report makes no requests).
  useEffect(() => {
    if (!given) rulesById().then(setRules, () => setRules(new Map()));
  }, [given]);
  const rules = given ?? loaded;
  return (
    <table class={compact ? 'alerts compact' : 'alerts'}>
      <thead>
        <tr>
          <th class="c-time">Time</th>
          <th class="c-sev">Severity</th>
          <th class="c-host">Host</th>
          <th class="c-user">User</th>
          <th class="c-rule">Rule</th>
          <th class="c-status">Status</th>
          <th class="c-cmd">Command line</th>
        </tr>
      </thead>
      <tbody>
        {items.map((a, i) => (
          <tr class={i === selected ? 'selected' : ''} data-id={a.id} onClick={() => navigate(href('alerts', a.id))}>
            <td class="c-time">
              <Time v={a.time} />
            </td>
            <td class="c-sev">
              <Sev v={a.severity} />
            </td>
            <td class="c-host">
              <X v={a.host} />
            </td>
            <td class="c-user">
              <X v={a.user} />
            </td>
            <td class="c-rule">
              <a href={href('alerts', a.id)} onClick={(e) => e.stopPropagation()}>
                <X v={ruleTitle(a, rules)} />
              </a>
            </td>
            <td class="c-status">
              {a.status}
              {a.suppressed ? ' (suppressed)' : ''}
            </td>
            <td class="c-cmd">
              <X v={str(get(a.alert, 'process.command_line'))} className="mono" />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Alerts({ route, reload }: { route: Route; reload: number }) {
  const [page, setPage] = useState<Page<AlertItem> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const offset = Math.max(0, Number(route.params.get('offset') ?? 0) || 0);
  const key = route.params.toString();
  useEffect(() => {
    const p = new URLSearchParams();
    for (const k of FILTERS) {
      const v = route.params.get(k);
      if (v) p.set(k, v);
    }
    p.set('limit', String(PAGE_SIZE));
    p.set('offset', String(offset));
    setErr(null);
    api<Page<AlertItem>>(`/api/alerts?${p}`).then(setPage, setErr);
  }, [key, reload]);
  const items = page?.items ?? [];
  const sel = useListKeys(items.length, (i) => navigate(href('alerts', items[i]!.id)), key);
  const go = (off: number): void => {
    const p = new URLSearchParams(route.params);
    p.set('offset', String(off));
    navigate(href('alerts', undefined, p));
  };
  return (
    <div class="list-view">
      <SearchForm params={route.params} />
      {err ? <Failure error={err} /> : null}
      {!page && !err ? <Loading /> : null}
      {page ? (
        <>
          <p class="muted count">
            {page.total === 0 ? 'No alerts match.' : `${offset + 1}–${Math.min(offset + PAGE_SIZE, page.total)} of ${page.total} alerts`}
            <span class="hint"> · j/k or ↑/↓ to move, Enter to open</span>
          </p>
          <AlertTable items={items} selected={sel} />
          <div class="pager">
            <button type="button" disabled={offset === 0} onClick={() => go(Math.max(0, offset - PAGE_SIZE))}>
              ◀ Newer
            </button>
            <button type="button" disabled={offset + PAGE_SIZE >= page.total} onClick={() => go(offset + PAGE_SIZE)}>
              Older ▶
            </button>
          </div>
        </>
      ) : null}
    </div>
  );
}
