/**
 * An incident's containment: the applocker_policy workflows that can be asked for it (a button each, for
 * tokens with the `respond` scope) and the actions asked so far, with the generated policy to download.
 */
import { useState } from 'preact/hooks';
import { api, type ActionItem } from '../api.js';
import { IfCan } from '../me.js';
import { ActionCard } from './ActionCard.js';
import { X } from './common.js';

type Doc = Record<string, unknown>;

export function Containment({ incidentId, workflows, actions, onChanged }: { incidentId: string; workflows: string[]; actions: ActionItem[]; onChanged: () => void }) {
  const [busy, setBusy] = useState('');
  const [problem, setProblem] = useState('');
  const ask = async (workflow: string): Promise<void> => {
    setBusy(workflow);
    setProblem('');
    try {
      await api(`/api/incidents/${encodeURIComponent(incidentId)}/actions`, { method: 'POST', body: { workflow } });
      onChanged();
    } catch (err) {
      setProblem(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy('');
    }
  };
  if (workflows.length === 0 && actions.length === 0) return <p class="muted">No applocker_policy workflow is configured (see docs/user/responses.md).</p>;
  const asked = new Set(actions.map((a) => a.workflow));
  return (
    <div class="containment">
      <IfCan scope="respond">
        <p class="buttons">
          {workflows
            .filter((w) => !asked.has(w))
            .map((w) => (
              <button type="button" class="ask-policy" data-workflow={w} disabled={busy !== ''} onClick={() => void ask(w)}>
                Generate AppLocker policy (<X v={w} />)
              </button>
            ))}
        </p>
      </IfCan>
      {problem ? <p class="error">{problem}</p> : null}
      {actions.map((a) => (
        <div class="incident-action" data-id={a.id}>
          <ActionCard raw={a as unknown as Doc} onChanged={onChanged} />
          <PolicyDownload action={a} />
        </div>
      ))}
    </div>
  );
}

/** The generated policy XML as a file (the result of a succeeded applocker_policy action). */
function PolicyDownload({ action }: { action: ActionItem }) {
  const policy = (action.result as Doc | null)?.['applocker_policy'] as { xml?: string; file?: string; mode?: string } | undefined;
  if (!policy?.xml) return null;
  const save = (): void => {
    const url = URL.createObjectURL(new Blob([policy.xml!], { type: 'application/xml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = policy.file ?? 'procwatch-certreq-applocker.xml';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <p class="policy-download">
      <button type="button" class="download-policy" onClick={save}>
        Download policy XML ({policy.mode === 'AuditOnly' ? 'audit only' : policy.mode})
      </button>
    </p>
  );
}
