/**
 * A real shipper against the Elasticsearch-compatible endpoint: rsyslog's omelasticsearch (Debian package
 * rsyslog-elasticsearch, which .ci/run installs) tails an NDJSON file of Winlogbeat documents and bulk-indexes
 * them into `procwatch serve` with Basic auth — the same path Winlogbeat/Logstash/Fluent Bit outputs take.
 */
// @requires corpus rsyslog
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORPUS, REPO_ROOT } from '../helpers/paths.js';
import { until } from './support/http.js';
import { TOOLS } from '../helpers/requirements.js';

const TOKEN = 'shipper-token-0123456789abcdef';
const RSYSLOGD = TOOLS.rsyslogd;
const OMELASTIC = ['/usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so', '/usr/lib/rsyslog/omelasticsearch.so'];

function startServe(dir: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'server', 'support', 'serveChild.ts'), '--port', '0', '--data', join(dir, 'data'), '--token', TOKEN], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const onData = (b: Buffer): void => {
      out += b.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

test('rsyslog omelasticsearch ships Winlogbeat documents through _bulk; the certreq event alerts', async (t) => {
  assert.ok(existsSync(RSYSLOGD) && OMELASTIC.some(existsSync), 'rsyslogd with omelasticsearch is required (apt-get install rsyslog rsyslog-elasticsearch; .ci/run does it)');
  const dir = mkdtempSync(join(tmpdir(), 'pw-rsyslog-'));
  mkdirSync(join(dir, 'work'));
  const input = join(dir, 'winlogbeat.ndjson');
  writeFileSync(input, '');
  const { child: serve, port } = await startServe(dir);
  t.after(() => serve.kill('SIGTERM'));
  writeFileSync(
    join(dir, 'rsyslog.conf'),
    `global(workDirectory="${join(dir, 'work')}")
module(load="imfile")
module(load="omelasticsearch")
template(name="raw" type="string" string="%msg%")
input(type="imfile" File="${input}" Tag="winlogbeat" ruleset="ship" readMode="0")
ruleset(name="ship") {
  action(type="omelasticsearch" server="127.0.0.1" serverport="${port}" template="raw" searchIndex="winlogbeat"
         bulkmode="on" uid="elastic" pwd="${TOKEN}" errorfile="${join(dir, 'es-errors.json')}")
}
`,
  );
  const rsyslog = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: 'ignore' });
  t.after(() => rsyslog.kill('SIGTERM'));
  await new Promise((r) => setTimeout(r, 1000)); // let imfile start tailing before lines arrive

  const docs = ['security4688_ecs_winlogbeat_raw.json', 'sysmon1_ecs_winlogbeat_ingested.json', 'sysmon5_ecs_winlogbeat_ingested.json'].map((f) =>
    JSON.stringify(JSON.parse(readFileSync(join(CORPUS, 'formats', f), 'utf8'))),
  );
  appendFileSync(input, `${docs.join('\n')}\n`);

  const api = (path: string): Promise<Record<string, unknown>> =>
    fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.json() as Promise<Record<string, unknown>>);
  let metrics = '';
  await until(async () => {
    metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    return /procwatch_events_stored_total 3\b/.test(metrics);
  }, 20_000, 'three events stored through rsyslog');
  const alerts = (await api('/api/alerts')) as { total: number; items: { rule_id: string; host: string }[] };
  assert.equal(alerts.total, 1, 'only the 4688 certreq event alerts');
  assert.equal(alerts.items[0]!.rule_id, 'certreq-download-upload');
  assert.ok(!existsSync(join(dir, 'es-errors.json')) || readFileSync(join(dir, 'es-errors.json'), 'utf8').trim() === '', 'rsyslog recorded no bulk errors');
});
