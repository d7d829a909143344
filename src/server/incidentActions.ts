/**
 * POST /api/incidents/:id/actions (scope `respond`): an applocker_policy workflow asked for an incident, stored
 * and audited, then run by the action runner (which records the generated policy as the action's result).
 * The incident view lists these actions and the workflows that can be asked (`actions`, `policy_workflows`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ActionRunner } from '../respond/index.js';
import type { Workflow } from '../respond/config.js';
import { incidentActionId, planIncidentPolicy, policyWorkflows } from '../respond/incident.js';
import type { Store } from '../store/types.js';
import { actionView, actorOf, onRoute } from './apiRoutes.js';
import { MAX_LIMIT, ROUTES, type ActionItem, type IncidentActionBody } from './contract.js';
import { HttpError } from './errors.js';

export interface IncidentActionDeps {
  store: Store;
  runner: ActionRunner;
  workflows: readonly Workflow[];
}

export function registerIncidentActions(app: FastifyInstance, d: IncidentActionDeps): void {
  onRoute(app, ROUTES.incidentAction, async (req: FastifyRequest, reply: FastifyReply): Promise<ActionItem> => {
    const id = (req.params as { id: string }).id;
    const body = req.body as IncidentActionBody;
    const incident = await d.store.getIncident(id);
    if (!incident) throw new HttpError(404, `no incident ${id}`);
    const wf = policyWorkflows(d.workflows).find((w) => w.name === body.workflow);
    if (!wf) {
      const known = policyWorkflows(d.workflows).map((w) => w.name);
      throw new HttpError(422, `no applocker_policy workflow "${body.workflow}" (configured: ${known.length > 0 ? known.join(', ') : 'none'})`);
    }
    const existing = await d.store.getAction(incidentActionId(id, wf.name));
    if (existing) return reply.code(200).send(actionView(existing)) as unknown as ActionItem;
    const alerts = (await d.store.listAlerts({ incidentId: id, limit: MAX_LIMIT, offset: 0 })).items;
    if (alerts.length === 0) throw new HttpError(409, `incident ${id} has no stored alerts`);
    const action = planIncidentPolicy(incident, alerts, wf);
    await d.store.commit([], { alerts: [], actions: [action] });
    await d.store.audit({
      actor: actorOf(req),
      action: 'incident.action',
      targetType: 'incident',
      targetId: id,
      detail: { workflow: wf.name, action_id: action.id, reason: body.reason ?? null },
    });
    d.runner.kick();
    return reply.code(201).send(actionView((await d.store.getAction(action.id))!)) as unknown as ActionItem;
  });
}

/** What the incident view adds: its actions and the policy workflows that can be asked. */
export async function incidentActionsView(d: IncidentActionDeps, incidentId: string): Promise<{ actions: ActionItem[]; policy_workflows: string[] }> {
  const names = policyWorkflows(d.workflows).map((w) => w.name);
  const actions: ActionItem[] = [];
  for (const name of names) {
    const a = await d.store.getAction(incidentActionId(incidentId, name));
    if (a) actions.push(actionView(a));
  }
  return { actions, policy_workflows: names };
}
