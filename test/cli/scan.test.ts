/**
 * End to end: `procwatch scan` over real inputs — the shared dialect examples, the synthetic certreq EVTX files,
 * bad input, stdin, exit codes, output formats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli, jsonLines, type Doc } from '../helpers/cli.js';
import { CORPUS, REPO_ROOT } from '../helpers/paths.js';
import { needs } from '../helpers/requirements.js';

const FORMATS = join(CORPUS, 'formats');
const SYNTHETIC = join(CORPUS, 'evtx', 'synthetic');
/** A Security 4688 log in the repository whose one certreq event alerts: the default tier's input. */
const SAMPLES = join(REPO_ROOT, 'samples');
const SECURITY_SAMPLE = join(SAMPLES, 'security-ws03.xml');


/** The rule's criteria, computed independently of the engine. */
function ruleSelects(originalFileName: string | undefined, commandLine: string | undefined): boolean {
  const ofn = (originalFileName ?? '').toLowerCase();
  const cmd = (commandLine ?? '').toLowerCase();
  return ofn.includes('certreq') || ['post', 'config', 'http', 'win.ini'].every((w) => cmd.includes(w));
}

test('every certreq example of every dialect raises the built-in alert with the same process fields', needs('corpus'), async () => {
  const inputs = readdirSync(FORMATS).filter((f) => /\.(json|xml|log)$/.test(f));
  const certreqDocs: Doc[] = [];
  for (const f of inputs) {
    const r = await runCli(['scan', join(FORMATS, f), '--format', 'jsonl', '--quiet']);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    const raw = readFileSync(join(FORMATS, f), 'utf8').toLowerCase();
    const docs = jsonLines(r.stdout).filter((d) => d.rule.id === 'certreq-download-upload');
    // Only process-creation examples can alert, and the rule must fire on each that names certreq.
    const isCreation = /4688|"1"|>1<|'1'|event_?id"?\s*[:=]\s*"?1\b|eventid":\s*1\b/.test(raw) && !f.includes('4689') && !f.includes('sysmon5');
    if (isCreation && raw.includes('certreq')) assert.equal(docs.length, 1, `${f}: expected one certreq alert, got ${docs.length}\n${r.stderr}`);
    if (!isCreation) assert.equal(docs.length, 0, `${f}: termination events must not alert`);
    for (const d of docs) {
      assert.equal(d['event'].kind, 'alert');
      assert.equal(d['rule'].name, 'Suspicious Certreq Command to Download or Upload');
      assert.ok(d['threat'][0].tactic.id.includes('TA0005'), `${f}: tactic`);
      assert.ok(d['threat'][0].technique.id.includes('T1027'), `${f}: technique`);
      assert.equal(d['log'].file.path, join(FORMATS, f));
      assert.ok(typeof d['host'].name === 'string' && d['host'].name.length > 0, `${f}: host.name`);
      certreqDocs.push(d);
    }
  }
  assert.ok(certreqDocs.length >= 3, `expected an alert from each certreq creation example, got ${certreqDocs.length}`);
});

test('the synthetic EVTX files alert on exactly the records the criteria select', needs('corpus'), async () => {
  const expected = JSON.parse(readFileSync(join(SYNTHETIC, 'EXPECTED.json'), 'utf8')) as Record<string, unknown>;
  for (const [file, records] of Object.entries(expected)) {
    if (!Array.isArray(records)) continue;
    const r = await runCli(['scan', join(SYNTHETIC, file), '--format', 'jsonl', '--quiet', '--no-builtin', '--rules', 'src/rules/builtin/certreq-download-upload.yml']);
    assert.equal(r.code, 0, r.stderr);
    const got = new Set(jsonLines(r.stdout).map((d) => Number(d['winlog'].record_id)));
    const want = new Set(
      (records as { EventRecordID: number; ofn?: string; cmd: string }[]).filter((x) => ruleSelects(x.ofn, x.cmd)).map((x) => x.EventRecordID),
    );
    assert.ok(want.size > 0);
    assert.deepEqual([...got].sort(), [...want].sort(), `${file}`);
  }
});

test('a malformed line is reported as file:line and the rest of the file is still scanned', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-scan-'));
  const line = readFileSync(join(SAMPLES, 'winlogbeat-ws02.ndjson'), 'utf8').split('\n').find((l) => l.includes('"record_id": "8802"'))!;
  assert.ok(line, 'the Winlogbeat sample has its certreq event (record 8802)');
  const file = join(dir, 'mixed.ndjson');
  writeFileSync(file, `${line}\n{"broken": \n${line.replace(/"record_id":\s*"?\d+"?/, '"record_id": "999999"')}\n`);
  const r = await runCli(['scan', file, '--format', 'jsonl']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: `));
  const alerts = jsonLines(r.stdout);
  assert.equal(alerts.length, 2, 'both good lines alert');
  assert.match(r.stderr, /2 events/);
  assert.match(r.stderr, /1 skipped/);
});

test('gzip input, stdin, and --fail-on-alert exit code', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-scan-'));
  const xml = readFileSync(SECURITY_SAMPLE);
  const gz = join(dir, 'events.xml.gz');
  writeFileSync(gz, gzipSync(xml));
  const fromGz = await runCli(['scan', gz, '--format', 'jsonl', '--quiet', '--fail-on-alert']);
  assert.equal(fromGz.code, 1, fromGz.stderr);
  assert.equal(jsonLines(fromGz.stdout).length, 1);
  const fromStdin = await runCli(['scan', '-', '--format', 'jsonl', '--quiet'], { stdin: xml });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.deepEqual(jsonLines(fromStdin.stdout).map((d) => d['process'].command_line), jsonLines(fromGz.stdout).map((d) => d['process'].command_line));
});

test('an unreadable input exits 2 and names the path; other inputs are still scanned', async () => {
  const missing = join(tmpdir(), 'procwatch-does-not-exist.evtx');
  const r = await runCli(['scan', missing, SECURITY_SAMPLE, '--format', 'jsonl']);
  assert.equal(r.code, 2);
  assert.ok(r.stderr.includes(missing), r.stderr);
  assert.equal(jsonLines(r.stdout).length, 1);
});

test('a binary file is named and skipped with a reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-scan-'));
  const bin = join(dir, 'random.bin');
  writeFileSync(bin, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  const r = await runCli(['scan', bin, '--format', 'jsonl']);
  assert.equal(r.code, 0);
  assert.ok(r.stderr.includes(bin), r.stderr);
  assert.equal(r.stdout, '');
});

test('table output shows the alert and neutralises terminal control characters from command lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-scan-'));
  const xml = readFileSync(SECURITY_SAMPLE, 'utf8').replace(/(<Data Name=.CommandLine.>)/g, '$1&#x1b;[31mRED&#x1b;[0m ');
  const file = join(dir, 'evil.xml');
  writeFileSync(file, xml);
  const r = await runCli(['scan', file, '--format', 'table', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes('\u001b'), 'no raw ESC byte reaches the terminal');
  assert.match(r.stdout, /\\x1b\[31mRED/);
  assert.match(r.stdout, /Suspicious Certreq Command to Download or Upload/);
});

test('CSV output quotes fields and defuses spreadsheet formulas', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-scan-'));
  const xml = readFileSync(SECURITY_SAMPLE, 'utf8').replace(/(<Data Name=.CommandLine.>)/g, '$1=HYPERLINK("http://x"), ');
  const file = join(dir, 'formula.xml');
  writeFileSync(file, xml);
  const r = await runCli(['scan', file, '--format', 'csv', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const [header, row] = r.stdout.split('\r\n');
  assert.ok(header!.startsWith('timestamp,host,user,rule_id'));
  assert.match(row!, /"'=HYPERLINK\(""http:\/\/x""\), /);
});

test('the default prefilter changes nothing; --fast raises the same alerts', needs('corpus'), async () => {
  const targets = ['samples', join(CORPUS, 'evtx', 'synthetic'), join(CORPUS, 'evtx', 'attack', 'sb_tutto_malseclogon.evtx'), join(CORPUS, 'evtx', 'evtx-crate', 'sysmon.evtx')];
  // The built-in rules have a literal set (certreq, win.ini), so the prefilter is active; large Sigma sets may have none.
  const run = (...extra: string[]) => runCli(['scan', ...targets, '--format', 'jsonl', '--quiet', ...extra]);
  const [full, byDefault, fast] = await Promise.all([run('--no-prefilter'), run(), run('--fast')]);
  for (const r of [full, byDefault, fast]) assert.equal(r.code, 0, r.stderr);
  const docs = jsonLines(full.stdout);
  assert.ok(docs.length >= 10, `expected alerts from samples and synthetic files, got ${docs.length}`);
  assert.ok(docs.some((d) => d['procwatch'].process_tree?.parents?.length > 0), 'alerts carry process trees');
  // Records skipped by default can neither match a rule nor feed correlation: identical documents, context included.
  assert.deepEqual(jsonLines(byDefault.stdout), docs);
  // --fast skips correlation's events too: the same alerts, possibly with less context.
  const ids = (out: string): string[] => jsonLines(out).map((d) => `${d['event'].id}`).sort();
  assert.deepEqual(ids(fast.stdout), ids(full.stdout));
});

test('incident grouping and the OCSF and timeline formats', async () => {
  const grouped = await runCli(['scan', 'samples', '--format', 'jsonl', '--quiet', '--group', 'incidents']);
  assert.equal(grouped.code, 0, grouped.stderr);
  const incidents = jsonLines(grouped.stdout);
  assert.ok(incidents.length >= 2, 'samples come from several hosts');
  for (const inc of incidents) {
    assert.equal(inc['incident'].alert_count, inc['alerts'].length);
    for (const a of inc['alerts']) assert.equal(a['procwatch'].incident.id, inc['incident'].id);
  }
  const ocsf = jsonLines((await runCli(['scan', 'samples', '--format', 'ocsf', '--quiet'])).stdout);
  assert.ok(ocsf.length > 0);
  for (const f of ocsf) assert.equal(f['class_uid'], 2004);
  const timeline = (await runCli(['scan', 'samples', '--format', 'timeline', '--quiet'])).stdout;
  assert.match(timeline.split('\r\n')[0]!, /^datetime,timestamp,timestamp_desc,message/);
  assert.ok(timeline.split('\r\n').length > ocsf.length, 'the timeline has a row per related event, not only per alert');
});

test('rule filters: --min-level, --tags and --rule-status select which Sigma rules run', needs('corpus'), async () => {
  const rules = join(CORPUS, 'sigma', 'rules', 'windows', 'process_creation');
  const run = async (...extra: string[]) => {
    const r = await runCli(['scan', 'samples', '--format', 'jsonl', '--quiet', '--no-builtin', '-r', rules, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return jsonLines(r.stdout);
  };
  const all = await run();
  const levels = ['informational', 'low', 'medium', 'high', 'critical'];
  const high = await run('--min-level', 'high');
  assert.ok(all.length > high.length, 'a lower-level rule fires on the samples');
  assert.ok(high.length > 0);
  for (const d of high) assert.ok(levels.indexOf(d['procwatch'].rule.level) >= 3, `${d['rule'].id} is ${d['procwatch'].rule.level}`);
  const tagged = await run('--tags', 'attack.t1105');
  assert.ok(tagged.length > 0);
  for (const d of tagged) assert.ok((d['tags'] as string[]).includes('attack.t1105'));
  const none = await runCli(['scan', 'samples', '--quiet', '--no-builtin', '-r', rules, '--rule-status', 'no-such-status']);
  assert.equal(none.code, 2, 'a filter that leaves no rule is a usage error');
  assert.match(none.stderr, /no rules to run/);
});
