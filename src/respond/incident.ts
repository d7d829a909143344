/**
 * Response actions asked for an incident (API `POST /api/incidents/{id}/actions`, the console's incident view).
 * Only `applocker_policy` workflows: the certreq AppLocker policy for the incident's host, a non-destructive
 * artefact (audit-only unless the workflow says `enforce`). The action is stored like an alert's action (the
 * runner records the policy as its result, with the audit trail) and attached to the incident by
 * `request.incident_id`; its `alert_id` is the incident's certreq alert (or its first alert) whose user the
 * PowerShell test lines name. Asking twice for the same incident and workflow gives the same action.
 */
import type { AlertRow, IncidentRow, NewAction } from '../store/types.js';
import type { Workflow } from './config.js';
import { actionId, applockerPolicyRequest } from './plan.js';

export type PolicyWorkflow = Extract<Workflow, { type: 'applocker_policy' }>;

/** Alert ids recorded with the action (the incident may hold many more; its own view lists them). */
const MAX_ALERT_IDS = 50;

export function incidentActionId(incidentId: string, workflow: string): string {
  return actionId(`incident:${incidentId}`, workflow);
}

export function policyWorkflows(workflows: readonly Workflow[]): PolicyWorkflow[] {
  return workflows.filter((w): w is PolicyWorkflow => w.type === 'applocker_policy');
}

/** The action for an incident; `alerts` are the incident's alerts (at least one). */
export function planIncidentPolicy(incident: IncidentRow, alerts: readonly AlertRow[], wf: PolicyWorkflow): NewAction {
  const subject = alerts.find((a) => a.ruleId.startsWith('certreq')) ?? alerts[0]!;
  return {
    id: incidentActionId(incident.id, wf.name),
    alertId: subject.id,
    workflow: wf.name,
    kind: 'applocker_policy',
    status: 'pending',
    destructive: false,
    dryRun: false,
    maxAttempts: wf.retry.maxAttempts,
    request: {
      incident_id: incident.id,
      alert_ids: alerts.slice(0, MAX_ALERT_IDS).map((a) => a.id),
      applocker_policy: { ...applockerPolicyRequest(subject.doc, wf.policy), host: incident.host },
    },
  };
}
