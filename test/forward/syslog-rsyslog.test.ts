/**
 * Syslog forwarding against a real receiver: `procwatch serve` forwards a certreq alert (and then its status
 * change) to rsyslogd's imtcp, plain and over TLS (gtls driver, a certificate made by openssl). rsyslog parses
 * each message (RFC 5424 header, structured data through mmpstrucdata) and writes the fields as JSON lines.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/cli/startServer.js';
import { defaultConfig } from '../../src/service/config.js';
import { parseForwards } from '../../src/forward/config.js';
import { needs, TOOLS } from '../helpers/requirements.js';
import { AUTH, TOKEN, until } from '../server/support/http.js';
import { ndjson, sysmonProcessCreate } from '../server/support/events.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

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

interface Received {
  pri: string;
  version: string;
  hostname: string;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  parsed_sd: string;
  msg: string;
}

function readLines(file: string): Received[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Received);
}

/** rsyslogd with one plain and one TLS imtcp input, each writing what it parsed as JSON lines. */
function rsyslogConf(dir: string, plainPort: number, tlsPort: number): string {
  const fields = ['pri', 'protocol-version:version', 'hostname', 'app-name:app', 'procid', 'msgid', 'structured-data:sd', '$!rfc5424-sd:parsed_sd', 'msg'];
  const props = fields.map((f) => {
    const [name, out] = f.includes(':') ? f.split(':') : [f, f];
    return `  property(outname="${out}" name="${name}" format="jsonf")`;
  });
  return `global(workDirectory="${join(dir, 'work')}" maxMessageSize="64k")
module(load="imtcp" maxSessions="10")
module(load="mmpstrucdata")
template(name="fields" type="list" option.jsonf="on") {
${props.join('\n')}
}
ruleset(name="plain") { action(type="mmpstrucdata") action(type="omfile" file="${join(dir, 'plain.jsonl')}" template="fields") }
ruleset(name="tls") { action(type="mmpstrucdata") action(type="omfile" file="${join(dir, 'tls.jsonl')}" template="fields") }
input(type="imtcp" address="127.0.0.1" port="${plainPort}" ruleset="plain")
input(type="imtcp" address="127.0.0.1" port="${tlsPort}" ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1"
      streamDriver.authMode="anon" streamDriver.CAFile="${join(dir, 'cert.pem')}" streamDriver.CertFile="${join(dir, 'cert.pem')}"
      streamDriver.KeyFile="${join(dir, 'key.pem')}")
`;
}

async function listening(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

test('alerts and their updates reach rsyslogd over TCP and TLS as RFC 5424 with structured data', needs('rsyslogd', 'rsyslogd-tls', 'openssl'), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-fwd-rsyslog-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'work'));
  execFileSync(TOOLS.openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  const [plainPort, tlsPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'rsyslog.conf'), rsyslogConf(dir, plainPort, tlsPort));
  const rsyslog = spawn(TOOLS.rsyslogd, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let rsyslogErr = '';
  rsyslog.stderr.on('data', (b: Buffer) => (rsyslogErr += b.toString()));
  t.after(() => rsyslog.kill('SIGTERM'));
  await until(async () => (await listening(plainPort)) && (await listening(tlsPort)), 10_000, 'rsyslogd listening');

  const forwards = parseForwards(
    [
      { name: 'rsyslog-tcp', kind: 'syslog', address: `tcp://127.0.0.1:${plainPort}`, facility: 'authpriv', app_name: 'procwatch', hostname: 'pw-test' },
      { name: 'rsyslog-tls', kind: 'syslog', address: `tls://127.0.0.1:${tlsPort}`, tls: { ca: 'cert.pem' }, alerts: { min_severity: 'low' } },
      // Too high a bar: the certreq alert is not for this one.
      { name: 'critical-only', kind: 'syslog', address: `tcp://127.0.0.1:${plainPort}`, alerts: { min_severity: 'critical' } },
    ],
    dir,
  );
  const srv = await startServer({ ...defaultConfig(), port: 0, dataDir: join(dir, 'data'), tokens: [{ name: 'analyst', token: TOKEN }], forwards }, { notice: () => {} });
  t.after(() => srv.close());

  const res = await fetch(`${srv.url}/ingest`, { method: 'POST', headers: AUTH, body: ndjson([sysmonProcessCreate({ recordId: 7001 })]) });
  assert.equal(res.status, 200);
  const alerts = await srv.store.listAlerts({ limit: 10, offset: 0 });
  assert.equal(alerts.total, 1, 'the certreq event alerts');
  const alert = alerts.items[0]!;

  await until(() => readLines(join(dir, 'plain.jsonl')).length >= 1 && readLines(join(dir, 'tls.jsonl')).length >= 1, 15_000, `messages at rsyslog (${rsyslogErr})`);
  for (const file of ['plain.jsonl', 'tls.jsonl']) {
    const [m] = readLines(join(dir, file));
    assert.ok(m, file);
    assert.equal(m.version, '1', 'parsed as RFC 5424');
    assert.equal(m.msgid, 'alert');
    assert.equal(m.app, 'procwatch');
    assert.equal(m.procid, String(process.pid));
    const sevCode = 3; // high -> err
    const facility = file === 'plain.jsonl' ? 10 : 16; // authpriv, default local0
    assert.equal(Number(m.pri), facility * 8 + sevCode);
    const sd = JSON.parse(m.parsed_sd) as Record<string, Record<string, string>>;
    assert.deepEqual(sd['procwatch@32473'], { alert_id: alert.id, rule: alert.ruleId, severity: alert.severity, host: 'WS01.corp.example' });
    const doc = JSON.parse(m.msg) as { event: { id: string; kind: string }; procwatch: { state: { status: string } } };
    assert.equal(doc.event.id, alert.id);
    assert.equal(doc.event.kind, 'alert');
    assert.equal(doc.procwatch.state.status, 'open');
  }
  assert.equal(readLines(join(dir, 'plain.jsonl'))[0]!.hostname, 'pw-test');
  assert.equal(alert.severity, 'high');

  // A status change is forwarded as an update of the same alert.
  const patch = await fetch(`${srv.url}/api/alerts/${alert.id}`, {
    method: 'PATCH',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ status: 'closed', reason: 'false positive: test "quoted" ]bracket' }),
  });
  assert.equal(patch.status, 200);
  await until(() => readLines(join(dir, 'tls.jsonl')).length >= 2 && readLines(join(dir, 'plain.jsonl')).length >= 2, 15_000, 'the update at rsyslog');
  const update = readLines(join(dir, 'tls.jsonl'))[1]!;
  assert.equal(update.msgid, 'alert-updated');
  const doc = JSON.parse(update.msg) as { event: { id: string }; procwatch: { state: { status: string; reason: string } } };
  assert.equal(doc.event.id, alert.id);
  assert.equal(doc.procwatch.state.status, 'closed');
  assert.equal(doc.procwatch.state.reason, 'false positive: test "quoted" ]bracket');

  await srv.runner.idle();
  const actions = await srv.store.listActions({ alertId: alert.id, limit: 20, offset: 0 });
  const forwards2 = actions.items.filter((a) => a.kind === 'forward');
  assert.equal(forwards2.length, 4, 'create + update for each of the two destinations that take this alert');
  assert.ok(forwards2.every((a) => a.status === 'succeeded'), JSON.stringify(forwards2.map((a) => [a.workflow, a.status, a.lastError])));
  assert.equal(srv.metrics.forwardSent.get({ destination: 'rsyslog-tls' }), 2);
  assert.match(await srv.metrics.render(), /procwatch_forward_sent_total\{destination="rsyslog-tcp"\} 2/);
  assert.equal(readLines(join(dir, 'plain.jsonl')).length, 2, 'nothing for the critical-only destination');
});
