import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { formatTime, parseTime, useZone, visible } from '../format.js';

/** Event-supplied text: rendered as text, direction-isolated, invisible controls shown. */
export function X({ v, className }: { v: unknown; className?: string }) {
  if (v === undefined || v === null || v === '') return null;
  return <bdi class={className ? `x ${className}` : 'x'}>{visible(String(v))}</bdi>;
}

const SEVERITY_NAMES = new Set(['informational', 'low', 'medium', 'high', 'critical']);
export function Sev({ v }: { v: unknown }) {
  const s = typeof v === 'string' && SEVERITY_NAMES.has(v) ? v : 'unknown';
  return <span class={`sev sev-${s}`}>{s}</span>;
}

export function Time({ v }: { v: string | number | undefined | null }) {
  const zone = useZone();
  const ms = typeof v === 'number' ? v : parseTime(v);
  if (ms === undefined) return null;
  return <time dateTime={new Date(ms).toISOString()}>{formatTime(ms, zone)}</time>;
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="panel" {...(id ? { id } : {})}>
      <h3>{title}</h3>
      {children}
    </section>
  );
}

/** A definition list; rows whose value is empty are left out. */
export function Fields({ rows }: { rows: [string, ComponentChildren][] }) {
  const kept = rows.filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false && !isEmptyText(v));
  return (
    <dl class="fields">
      {kept.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </>
      ))}
    </dl>
  );
}

/** An <X> with nothing to show (it renders nothing, so its row is left out too). */
function isEmptyText(v: ComponentChildren): boolean {
  if (v === null || typeof v !== 'object' || !('type' in v) || v.type !== X) return false;
  const inner = (v.props as { v?: unknown }).v;
  return inner === undefined || inner === null || inner === '';
}

export function Loading() {
  return <p class="muted">Loading…</p>;
}

export function Failure({ error }: { error: unknown }) {
  return (
    <p class="failure" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </p>
  );
}

/** Status, assignee and reason of an alert or incident (closing needs a reason, as the API says). */
export function StatusForm({ kind, id, status, assignee, onSaved }: { kind: 'alerts' | 'incidents'; id: string; status: string; assignee: string | null; onSaved: () => void }) {
  const [st, setSt] = useState(status);
  const [who, setWho] = useState(assignee ?? '');
  const [reason, setReason] = useState('');
  const [err, setErr] = useState<unknown>(null);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setErr(null);
    try {
      await api(`/api/${kind}/${encodeURIComponent(id)}`, { method: 'PATCH', body: { status: st, assignee: who || null, ...(reason ? { reason } : {}) } });
      setReason('');
      onSaved();
    } catch (error) {
      setErr(error);
    }
  };
  return (
    <form class="status-form" onSubmit={submit}>
      <label>
        Status
        <select value={st} onChange={(e) => setSt(e.currentTarget.value)}>
          {['open', 'acknowledged', 'closed'].map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Assignee
        <input value={who} maxLength={200} onInput={(e) => setWho(e.currentTarget.value)} />
      </label>
      <label class="grow">
        Reason
        <input value={reason} maxLength={1000} placeholder="required to close" onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <button type="submit">Save</button>
      {err ? <Failure error={err} /> : null}
    </form>
  );
}
