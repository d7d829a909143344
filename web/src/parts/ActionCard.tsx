/**
 * One response action: what it will run exactly as the runner runs it (the stored argv/env/stdin or
 * method/URL/body), the decision (approve/reject with a confirmation naming the target and what verification
 * finds), its result and its audit trail. Approve/reject appear only for a token with the respond scope.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type AuditItem, type Doc } from '../api.js';
import { FINAL_STATUSES, toAction, verificationOf, type ActionView, type Verification } from '../actions.js';
import { useCan } from '../me.js';
import { href } from '../route.js';
import { Failure, Fields, Time, X } from './common.js';

/** Characters of stdout/stderr/response/body shown (the store keeps up to the workflow's output cap). */
export const EXCERPT_CHARS = 4000;
/** Re-reads of a running action before the card stops polling (about a minute). */
const MAX_POLLS = 60;

function excerpt(s: string | undefined): string | undefined {
  if (s === undefined || s === '') return undefined;
  return s.length > EXCERPT_CHARS ? `${s.slice(0, EXCERPT_CHARS)}\n… (${s.length - EXCERPT_CHARS} more characters)` : s;
}

function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch (err) {
    if (err instanceof SyntaxError) return body; // not JSON: shown as sent
    throw err;
  }
}

function WillRun({ a }: { a: ActionView }) {
  const r = a.request;
  if (r.refused) return <p class="failure-text">Nothing will run: <X v={r.refused} /></p>;
  if (r.command) {
    return (
      <div class="will-run">
        <p class="muted">Runs without a shell; each line below is one argument.</p>
        <ol class="argv mono">
          {r.command.argv.map((x) => (
            <li>
              <X v={x} />
            </li>
          ))}
        </ol>
        <Fields
          rows={[
            ['Environment', r.command.env.length ? <ul class="plain mono">{r.command.env.map(([k, v]) => <li>{k}=<X v={v} /></li>)}</ul> : undefined],
            ['Standard input', `the alert document as JSON (${r.command.stdinBytes} bytes)`],
          ]}
        />
      </div>
    );
  }
  if (r.webhook) {
    return (
      <div class="will-run">
        <p class="mono">
          {r.webhook.method} <X v={r.webhook.url} />
        </p>
        <pre class="json">
          <X v={excerpt(prettyBody(r.webhook.body))} />
        </pre>
      </div>
    );
  }
  return <p class="muted">no request stored</p>;
}

function Result({ a }: { a: ActionView }) {
  const res = a.result;
  if (!res && !a.lastError) return null;
  const rows: [string, ComponentChildren][] = [];
  if (res?.['exit_code'] !== undefined) rows.push(['Exit code', res['exit_code'] === null ? 'none (killed)' : String(res['exit_code'])]);
  if (typeof res?.['status'] === 'number') rows.push(['HTTP status', String(res['status'])]);
  if (typeof res?.['ms'] === 'number') rows.push(['Took', `${res['ms']} ms`]);
  if (a.updatedAt) rows.push(['Finished', <Time v={a.updatedAt} />]);
  if (a.lastError) rows.push(['Error', <span class="failure-text"><X v={a.lastError} /></span>]);
  const out = (label: string, v: unknown, cls: string) =>
    typeof v === 'string' && v !== '' ? (
      <div class={cls}>
        <h5>{label}</h5>
        <pre class="output">
          <X v={excerpt(v)} />
        </pre>
      </div>
    ) : null;
  return (
    <div class="action-result">
      <h4>Result</h4>
      <Fields rows={rows} />
      {out('stdout', res?.['stdout'], 'stdout')}
      {out('stderr', res?.['stderr'], 'stderr')}
      {out('response', res?.['response'], 'response')}
      {a.status === 'dry_run' ? <p class="muted">Dry run: nothing was executed; the request above is what would have run.</p> : null}
    </div>
  );
}

export function AuditTrail({ items }: { items: AuditItem[] }) {
  if (items.length === 0) return <p class="muted">no entries</p>;
  return (
    <ol class="audit plain">
      {items.map((e) => (
        <li>
          <Time v={e.time} /> <strong>{e.action}</strong> by <X v={e.actor} /> <X v={auditSummary(e.detail)} className="muted" />
        </li>
      ))}
    </ol>
  );
}

/** The detail fields an analyst reads in a trail line (the rest is in the JSON of the API). */
function auditSummary(d: Doc): string {
  const keep = ['reason', 'status', 'assignee', 'error', 'attempt', 'retry_in_ms', 'stage'];
  return keep
    .filter((k) => d[k] !== undefined && d[k] !== null && d[k] !== '')
    .map((k) => `${k}: ${typeof d[k] === 'string' ? d[k] : JSON.stringify(d[k])}`)
    .join('; ');
}

function TargetLine({ a }: { a: ActionView }) {
  const t = a.request.target;
  if (!t) return null;
  return (
    <span class="mono">
      <X v={t.host} /> PID {t.pid ?? '?'} <X v={t.image ?? t.name} />
    </span>
  );
}

function decisionMessage(err: unknown, verb: string): string {
  if (err instanceof ApiError && err.status === 409) return `Not ${verb}: someone decided this action meanwhile (${err.message}). The view now shows its current state.`;
  if (err instanceof ApiError && err.status === 422) return `Refused: the target is not corroborated by what procwatch observed, so nothing runs (${err.message}). The action is now failed.`;
  return err instanceof Error ? err.message : String(err);
}

function Decide({ a, verification, onDone }: { a: ActionView; verification: Verification | undefined; onDone: (problem: string) => void }) {
  const [asking, setAsking] = useState<'approve' | 'reject' | null>(null);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const send = async (): Promise<void> => {
    if (!asking) return;
    setBusy(true);
    try {
      await api(`/api/actions/${encodeURIComponent(a.id)}/${asking}`, { method: 'POST', body: reason ? { reason } : {} });
      onDone('');
    } catch (error) {
      onDone(decisionMessage(error, asking === 'approve' ? 'approved' : 'rejected'));
    } finally {
      setBusy(false);
      setAsking(null);
    }
  };
  return (
    <div class="decide">
      {!asking ? (
        <div class="buttons">
          <button type="button" class="approve" onClick={() => setAsking('approve')}>
            Approve…
          </button>
          <button type="button" class="reject" onClick={() => setAsking('reject')}>
            Reject…
          </button>
        </div>
      ) : (
        <div class="confirm" role="group" aria-label={`confirm ${asking}`}>
          <p>
            <strong>{asking === 'approve' ? 'Run' : 'Reject'}</strong> <X v={a.workflow} /> ({a.kind})
            {a.request.target ? (
              <>
                {' '}
                against <TargetLine a={a} />
              </>
            ) : null}
            ?
          </p>
          {a.kind === 'stop_process' ? (
            <p class={verification?.ok ? 'verified' : 'failure-text'}>
              {verification === undefined ? 'Verification: not known yet' : verification.ok ? `Verified: ${verification.evidence}` : `Not corroborated: ${verification.reason}`}
            </p>
          ) : null}
          <label>
            Reason
            <input value={reason} maxLength={1000} onInput={(e) => setReason(e.currentTarget.value)} />
          </label>
          <div class="buttons">
            <button type="button" class={asking === 'approve' ? 'approve confirm-yes' : 'reject confirm-yes'} disabled={busy} onClick={() => void send()}>
              {asking === 'approve' ? 'Approve and run' : 'Reject'}
            </button>
            <button type="button" onClick={() => setAsking(null)} disabled={busy}>
              Cancel
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

/** An action with its request, decision, result and audit; reads its own detail (audit, verification). */
export function ActionCard({ raw, showAlert, onChanged }: { raw: Doc; showAlert?: boolean; onChanged?: () => void }) {
  const [detail, setDetail] = useState<Doc>(raw);
  const [bump, setBump] = useState(0);
  const [polls, setPolls] = useState(0);
  const [err, setErr] = useState<unknown>(null);
  /** Why the last decision did not go through (409/422), kept after the card re-reads the action. */
  const [problem, setProblem] = useState('');
  const a = toAction(detail);
  const canRespond = useCan('respond');
  useEffect(() => {
    api<Doc>(`/api/actions/${encodeURIComponent(toAction(raw).id)}`).then(setDetail, setErr);
  }, [raw, bump]);
  // Follow an approved action until it finishes (bounded), so its result and audit appear without a reload.
  useEffect(() => {
    if (FINAL_STATUSES.has(a.status) || a.status === 'pending_approval' || polls >= MAX_POLLS) return;
    const t = setTimeout(() => {
      setPolls((p) => p + 1);
      setBump((b) => b + 1);
    }, 1000);
    return () => clearTimeout(t);
  }, [a.status, bump]);
  const audit = Array.isArray(detail['audit']) ? (detail['audit'] as AuditItem[]) : undefined;
  const changed = (why: string): void => {
    setProblem(why);
    setPolls(0);
    setBump((b) => b + 1);
    onChanged?.();
  };
  return (
    <article class={`action-card status-${a.status}`} data-action-id={a.id}>
      <header>
        <h4>
          <a href={href('actions', a.id)}>
            <X v={a.workflow} />
          </a>{' '}
          <span class="muted">{a.kind}</span> <span class={`action-status st-${a.status}`}>{a.status.replace(/_/g, ' ')}</span>
          {a.dryRun ? <span class="flag">dry-run</span> : null}
          {a.destructive ? <span class="flag flag-warn">destructive</span> : null}
        </h4>
        <Fields
          rows={[
            ['Target', a.request.target ? <TargetLine a={a} /> : undefined],
            ['Alert', showAlert && a.alertId ? <a href={href('alerts', a.alertId)} class="mono">{a.alertId}</a> : undefined],
            ['Planned', a.createdAt ? <Time v={a.createdAt} /> : undefined],
            ['Attempts', `${a.attempts} of ${a.maxAttempts}`],
          ]}
        />
      </header>
      <h4>{FINAL_STATUSES.has(a.status) && a.status !== 'dry_run' ? 'What ran' : 'What will run'}</h4>
      <WillRun a={a} />
      {a.status === 'pending_approval' ? (
        canRespond ? (
          <Decide a={a} verification={verificationOf(detail)} onDone={changed} />
        ) : (
          <p class="muted">Awaiting approval by a token with the respond scope.</p>
        )
      ) : null}
      {problem ? (
        <p class="failure decision-problem" role="alert">
          {problem}
        </p>
      ) : null}
      <Result a={a} />
      <div class="action-audit">
        <h4>Audit</h4>
        {err ? <Failure error={err} /> : audit ? <AuditTrail items={audit} /> : <p class="muted">Loading…</p>}
      </div>
    </article>
  );
}
