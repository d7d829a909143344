import { useEffect, useState } from 'preact/hooks';
import { api, type Doc, type Page } from '../api.js';
import { toAction } from '../actions.js';
import { href } from '../route.js';
import { ActionCard } from '../parts/ActionCard.js';
import { Failure, Loading, Time, X } from '../parts/common.js';

const STATUSES = ['pending_approval', 'pending', 'running', 'retrying', 'succeeded', 'failed', 'rejected', 'dead_letter', 'dry_run'];

/** Response actions, newest first, filterable by status; a row opens the action. */
export function Actions({ reload, status }: { reload: number; status: string | undefined }) {
  const [page, setPage] = useState<Page<Doc> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    setErr(null);
    const p = new URLSearchParams({ limit: '100' });
    if (status) p.set('status', status);
    api<Page<Doc>>(`/api/actions?${p}`).then(setPage, setErr);
  }, [reload, status]);
  if (err) return <Failure error={err} />;
  if (!page) return <Loading />;
  const items = page.items.map(toAction);
  return (
    <div class="list-view">
      <nav class="status-filter" aria-label="filter by status">
        <a href={href('actions')} class={!status ? 'active' : undefined}>
          all
        </a>
        {STATUSES.map((s) => (
          <a href={href('actions', undefined, { status: s })} class={status === s ? 'active' : undefined}>
            {s.replace(/_/g, ' ')}
          </a>
        ))}
      </nav>
      <p class="muted count">{page.total === 0 ? 'No response actions.' : `${items.length} of ${page.total} actions`}</p>
      <table class="actions">
        <thead>
          <tr>
            <th class="c-time">Created</th>
            <th>Workflow</th>
            <th>Kind</th>
            <th class="c-status">Status</th>
            <th>Target</th>
            <th>Alert</th>
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr data-id={a.id}>
              <td class="c-time">
                <Time v={a.createdAt} />
              </td>
              <td>
                <a href={href('actions', a.id)}>
                  <X v={a.workflow} />
                </a>
              </td>
              <td>{a.kind}</td>
              <td class={`c-status st-${a.status}`}>
                {a.status.replace(/_/g, ' ')}
                {a.dryRun ? ' (dry-run)' : ''}
              </td>
              <td class="mono">{a.request.target ? <X v={`${a.request.target.host ?? '?'} PID ${a.request.target.pid ?? '?'}`} /> : null}</td>
              <td>
                <a href={href('alerts', a.alertId)} class="mono">
                  {a.alertId.slice(0, 12)}
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One action on its own page (linked from the list and from its alert). */
export function ActionDetail({ id, reload }: { id: string; reload: number }) {
  const [raw, setRaw] = useState<Doc | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    setErr(null);
    api<Doc>(`/api/actions/${encodeURIComponent(id)}`).then(setRaw, setErr);
  }, [id, reload]);
  if (err) return <Failure error={err} />;
  if (!raw) return <Loading />;
  return (
    <article class="detail action-detail">
      <p class="back">
        <a href={href('actions')}>← actions</a>
      </p>
      <ActionCard raw={raw} showAlert />
    </article>
  );
}
