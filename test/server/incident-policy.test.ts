/**
 * The AppLocker policy asked for an incident through the API (`POST /api/incidents/{id}/actions`): scope
 * `respond`, the workflow named must be an applocker_policy one, the action is stored, audited and run (the
 * policy becomes its result, audit-only by default), listed in the incident view, and asked once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { parseWorkflows } from '../../src/respond/config.js';
import { until } from './support/http.js';
import { ndjson, sysmonProcessCreate } from './support/events.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PKI_OPERATORS = 'S-1-5-21-1004336348-1177238915-682003330-1234';
const T = { shipper: 'ingest-token-0123456789abcdef', viewer: 'read-token-0123456789abcdef', analyst: 'triage-token-0123456789abcdef', responder: 'respond-token-0123456789abcdef' };
const auth = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });

test('an AppLocker policy asked for an incident: respond scope, stored, audited, run, listed, asked once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-incident-policy-'));
  dirs.push(dir);
  const workflows = parseWorkflows([
    { name: 'lock-certreq', type: 'applocker_policy', trigger: 'incident', allow: [PKI_OPERATORS] },
    { name: 'notify', type: 'webhook', url: 'http://127.0.0.1:9/unused', rules: ['no-such-rule'] },
  ]);
  const srv = await startServer(
    {
      ...defaultConfig(),
      port: 0,
      dataDir: dir,
      workflows,
      tokens: [
        { name: 'shipper', token: T.shipper, scopes: ['ingest'] },
        { name: 'viewer', token: T.viewer, scopes: ['read'] },
        { name: 'analyst', token: T.analyst, scopes: ['triage'] },
        { name: 'responder', token: T.responder, scopes: ['respond'] },
      ],
    },
    { notice: () => {} },
  );
  t.after(() => srv.close());

  const res = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: auth(T.shipper), body: ndjson([sysmonProcessCreate({ recordId: 9101 })]) });
  assert.equal(res.status, 200);
  const alert = (await srv.store.listAlerts({ limit: 10, offset: 0 })).items[0]!;
  assert.ok(alert.incidentId);
  // trigger: incident — nothing was planned with the alert itself.
  assert.equal((await srv.store.listActions({ alertId: alert.id, limit: 10, offset: 0 })).total, 0);

  const ask = (token: string, body: unknown, id = alert.incidentId!): Promise<Response> =>
    fetch(`${srv.url}/api/incidents/${id}/actions`, { method: 'POST', headers: auth(token), body: JSON.stringify(body) });
  for (const token of [T.viewer, T.analyst, T.shipper]) assert.equal((await ask(token, { workflow: 'lock-certreq' })).status, 403);
  const unknown = await ask(T.responder, { workflow: 'notify' });
  assert.equal(unknown.status, 422);
  assert.match(((await unknown.json()) as Doc).error, /no applocker_policy workflow "notify" \(configured: lock-certreq\)/);
  assert.equal((await ask(T.responder, { workflow: 'lock-certreq' }, 'inc-none')).status, 404);
  assert.equal((await ask(T.responder, { workflow: 'lock-certreq', extra: 1 })).status, 400);

  const created = await ask(T.responder, { workflow: 'lock-certreq', reason: 'contain the certreq misuse' });
  assert.equal(created.status, 201);
  const action = (await created.json()) as Doc;
  assert.equal(action.kind, 'applocker_policy');
  assert.equal(action.request.incident_id, alert.incidentId);
  assert.deepEqual(action.request.alert_ids, [alert.id]);
  await until(async () => (await srv.store.getAction(action.id))?.status === 'succeeded', 10_000, 'the policy action run');
  const done = (await srv.store.getAction(action.id))!;
  const policy = done.result!.applocker_policy as Doc;
  assert.equal(policy.mode, 'AuditOnly', 'audit-only unless the workflow enforces');
  assert.match(policy.xml, /EnforcementMode="AuditOnly"/);
  assert.ok((policy.xml as string).includes(PKI_OPERATORS));
  assert.equal(policy.host, 'WS01.corp.example');

  // The incident view lists the action and the workflows that can be asked; the request is audited.
  const view = (await (await fetch(`${srv.url}/api/incidents/${alert.incidentId}`, { headers: auth(T.viewer) })).json()) as Doc;
  assert.deepEqual(view.policy_workflows, ['lock-certreq']);
  assert.deepEqual(view.actions.map((a: Doc) => [a.id, a.status]), [[action.id, 'succeeded']]);
  const audit = (view.audit as Doc[]).find((e) => e.action === 'incident.action')!;
  assert.equal(audit.actor, 'responder');
  assert.deepEqual(audit.detail, { workflow: 'lock-certreq', action_id: action.id, reason: 'contain the certreq misuse' });

  // Asked again: the same action, not a second one.
  const again = await ask(T.responder, { workflow: 'lock-certreq' });
  assert.equal(again.status, 200);
  assert.equal(((await again.json()) as Doc).id, action.id);
});
