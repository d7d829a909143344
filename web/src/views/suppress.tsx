/**
 * Suppress from an alert: a form prefilled from the alert's fields (rule, host, user, image, command line as a
 * glob), editable, that shows how many stored alerts it would match (POST /api/suppressions/preview) and
 * creates the suppression with an optional expiry; below it, the suppressions with their expiry. Shown only to
 * tokens with the triage scope (GET /api/me).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, get, str, type AlertItem, type Me, type SuppressionBody, type SuppressionCreated, type SuppressionList, type SuppressionPreview } from '../api.js';
import { Failure, Time, X } from '../parts/common.js';
import { href } from '../route.js';

const EXPIRY_DAYS: { label: string; days: number | null }[] = [
  { label: '1 day', days: 1 },
  { label: '7 days', days: 7 },
  { label: '30 days', days: 30 },
  { label: '90 days', days: 90 },
  { label: 'never', days: null },
];

type Criteria = Required<Pick<SuppressionBody, 'rule_id' | 'host' | 'user' | 'image' | 'command_line'>>;
const FIELDS: { key: keyof Criteria; label: string; max: number }[] = [
  { key: 'rule_id', label: 'Rule', max: 200 },
  { key: 'host', label: 'Host (glob)', max: 255 },
  { key: 'user', label: 'User (glob)', max: 255 },
  { key: 'image', label: 'Image (glob)', max: 1000 },
  { key: 'command_line', label: 'Command line (glob)', max: 4000 },
];

/** The criteria an alert suggests: every field it has (empty a field to widen the suppression). */
function prefill(item: AlertItem): Criteria {
  const name = str(get(item.alert, 'user.name'));
  const domain = str(get(item.alert, 'user.domain'));
  return {
    rule_id: item.rule_id,
    host: item.host,
    user: name && domain ? `${domain}\\${name}` : (name ?? item.user ?? ''),
    image: str(get(item.alert, 'process.executable')) ?? '',
    command_line: str(get(item.alert, 'process.command_line')) ?? '',
  };
}

function bodyOf(c: Criteria, reason: string, days: number | null): SuppressionBody {
  const body: SuppressionBody = { reason };
  for (const f of FIELDS) if (c[f.key].trim() !== '') body[f.key] = c[f.key];
  if (days !== null) body.expires_at = new Date(Date.now() + days * 86_400_000).toISOString();
  return body;
}

function SuppressForm({ item, onCreated }: { item: AlertItem; onCreated: () => void }) {
  const [criteria, setCriteria] = useState<Criteria>(() => prefill(item));
  const [reason, setReason] = useState('');
  const [days, setDays] = useState<number | null>(30);
  const [preview, setPreview] = useState<SuppressionPreview | null>(null);
  const [previewErr, setPreviewErr] = useState<unknown>(null);
  const [created, setCreated] = useState<SuppressionCreated | null>(null);
  const [err, setErr] = useState<unknown>(null);

  // The preview follows the criteria (debounced: each one is a bounded scan of the stored alerts).
  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      api<SuppressionPreview>('/api/suppressions/preview', { method: 'POST', body: bodyOf(criteria, reason || 'preview', days) }).then(
        (p) => live && (setPreview(p), setPreviewErr(null)),
        (e: unknown) => live && (setPreview(null), setPreviewErr(e)),
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [criteria, days]);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setErr(null);
    try {
      setCreated(await api<SuppressionCreated>('/api/suppressions', { method: 'POST', body: bodyOf(criteria, reason, days) }));
      onCreated();
    } catch (error) {
      setErr(error);
    }
  };

  return (
    <form class="status-form" id="suppress-form" onSubmit={submit}>
      {FIELDS.map((f) => (
        <label class={f.key === 'command_line' || f.key === 'image' ? 'grow' : ''}>
          {f.label}
          <input
            name={f.key}
            value={criteria[f.key]}
            maxLength={f.max}
            placeholder="any"
            onInput={(e) => setCriteria({ ...criteria, [f.key]: e.currentTarget.value })}
          />
        </label>
      ))}
      <label>
        Expires after
        <select name="expiry" value={days === null ? 'never' : String(days)} onChange={(e) => setDays(e.currentTarget.value === 'never' ? null : Number(e.currentTarget.value))}>
          {EXPIRY_DAYS.map((o) => (
            <option value={o.days === null ? 'never' : String(o.days)}>{o.label}</option>
          ))}
        </select>
      </label>
      <label class="grow">
        Reason
        <input name="reason" value={reason} maxLength={1000} required placeholder="why these alerts are expected" onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <button type="submit">Suppress</button>
      <p id="suppress-preview" class="muted">
        {preview
          ? `Matches ${preview.matched}${preview.capped ? '+' : ''} stored alert${preview.matched === 1 ? '' : 's'} (${preview.scanned} unsuppressed examined${preview.capped ? '; more are stored, the count is a lower bound' : ''}).`
          : previewErr
            ? null
            : 'Counting matching alerts…'}
      </p>
      {previewErr ? <Failure error={previewErr} /> : null}
      {preview && preview.examples.length > 0 ? (
        <ul class="plain">
          {preview.examples.map((a) => (
            <li>
              <Time v={a.time} /> <a href={href('alerts', a.id)}><X v={a.host} /></a> <X v={a.rule_id} />
            </li>
          ))}
        </ul>
      ) : null}
      {created ? (
        <p id="suppress-created">
          Suppression #{created.id} created; {created.applied.suppressed} stored alert{created.applied.suppressed === 1 ? '' : 's'} marked suppressed
          {created.applied.capped ? ' (the scan was capped: older alerts were not examined)' : ''}.
        </p>
      ) : null}
      {err ? <Failure error={err} /> : null}
    </form>
  );
}

function criteriaText(s: SuppressionList['items'][number]): string {
  const parts: [string, string | null][] = [['rule', s.rule_id], ['host', s.host], ['user', s.user], ['image', s.image], ['parent', s.parent_image], ['command line', s.command_line]];
  return parts
    .filter((p): p is [string, string] => p[1] !== null)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ');
}

function SuppressionTable({ bump }: { bump: number }) {
  const [list, setList] = useState<SuppressionList | null>(null);
  const [err, setErr] = useState<unknown>(null);
  useEffect(() => {
    api<SuppressionList>('/api/suppressions').then(setList, setErr);
  }, [bump]);
  if (err) return <Failure error={err} />;
  if (!list) return null;
  if (list.items.length === 0) return <p class="muted">No suppressions yet.</p>;
  return (
    <table id="suppressions">
      <thead>
        <tr>
          <th>#</th>
          <th>Criteria</th>
          <th>Reason</th>
          <th>Expires</th>
          <th>Hits</th>
          <th>By</th>
        </tr>
      </thead>
      <tbody>
        {list.items.map((s) => (
          <tr>
            <td>{s.id}</td>
            <td>
              <X v={criteriaText(s)} className="mono" />
            </td>
            <td>
              <X v={s.reason} />
            </td>
            <td class="c-time">{s.expires_at ? <>{s.expired ? 'expired ' : ''}<Time v={s.expires_at} /></> : 'never'}</td>
            <td>{s.hits}</td>
            <td>
              <X v={s.created_by} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The alert view's suppression panel (nothing for tokens without the triage scope). */
export function SuppressFromAlert({ item }: { item: AlertItem }) {
  const [me, setMe] = useState<Me | null>(null);
  const [bump, setBump] = useState(0);
  useEffect(() => {
    api<Me>('/api/me').then(setMe, () => setMe(null));
  }, []);
  if (!me?.scopes.includes('triage')) return null;
  return (
    <section class="panel" id="suppress">
      <h3>Suppress alerts like this</h3>
      <SuppressForm key={item.id} item={item} onCreated={() => setBump((b) => b + 1)} />
      <h4>Suppressions</h4>
      <SuppressionTable bump={bump} />
    </section>
  );
}
