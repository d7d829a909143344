import { useEffect, useState } from 'preact/hooks';
import { api, type ActionItem, type Page } from '../api.js';
import { href } from '../route.js';
import { Failure, Loading, Time, X } from '../parts/common.js';

/** Response actions, newest first (approval from the console is a later task; the API has it). */
export function Actions({ reload }: { reload: number }) {
  const [page, setPage] = useState<Page<ActionItem> | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    api<Page<ActionItem>>('/api/actions?limit=100').then(setPage, setErr);
  }, [reload]);
  if (err) return <Failure error={err} />;
  if (!page) return <Loading />;
  return (
    <div class="list-view">
      <p class="muted count">{page.total === 0 ? 'No response actions.' : `${page.items.length} of ${page.total} actions`}</p>
      <table class="actions">
        <thead>
          <tr>
            <th class="c-time">Created</th>
            <th>Workflow</th>
            <th>Kind</th>
            <th class="c-status">Status</th>
            <th>Attempts</th>
            <th>Alert</th>
          </tr>
        </thead>
        <tbody>
          {page.items.map((a) => (
            <tr>
              <td class="c-time">
                <Time v={a.created_at} />
              </td>
              <td>
                <X v={a.workflow} />
              </td>
              <td>{a.kind}</td>
              <td class="c-status">
                {a.status}
                {a.dry_run ? ' (dry-run)' : ''}
              </td>
              <td>
                {a.attempts}/{a.max_attempts}
              </td>
              <td>
                <a href={href('alerts', a.alert_id)} class="mono">
                  {a.alert_id.slice(0, 12)}
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
