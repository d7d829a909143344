/**
 * What `scan` shows a person at a terminal: colour rules, usage errors (missing -r path, bad flags on every
 * subcommand), escaped stderr, and decode problems summarised per file unless --verbose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { CORPUS } from '../helpers/paths.js';
import { colourEnabled } from '../../src/output/colour.js';
import { ProblemReport, MAX_KINDS, problemKind } from '../../src/cli/problems.js';
import { displayWidth } from '../../src/output/width.js';

const FORMATS = join(CORPUS, 'formats');
const EVTX_CRATE = join(CORPUS, 'evtx', 'evtx-crate');
const noCorpus = existsSync(CORPUS) ? false : 'needs ../shared/corpus';
// The runner's own environment must not decide the colour tests.
const PLAIN_ENV = { FORCE_COLOR: undefined, NO_COLOR: undefined, COLUMNS: undefined };

test('colour: FORCE_COLOR wins, then NO_COLOR, then only a terminal that is not dumb', () => {
  const cases: Array<[boolean, Record<string, string | undefined>, boolean]> = [
    [true, {}, true],
    [false, {}, false],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: '' }, true],
    [true, { TERM: 'dumb' }, false],
    [false, { FORCE_COLOR: '1' }, true],
    [false, { FORCE_COLOR: '' }, true],
    [true, { FORCE_COLOR: '0' }, false],
    [true, { FORCE_COLOR: 'false' }, false],
    [false, { FORCE_COLOR: '1', NO_COLOR: '1' }, true],
  ];
  for (const [isTTY, env, want] of cases) assert.equal(colourEnabled({ isTTY, env }), want, `${isTTY} ${JSON.stringify(env)}`);
});

test('scan -f table: no escape codes into a pipe or with NO_COLOR, severity colours with FORCE_COLOR; $COLUMNS is the width', { skip: noCorpus }, async () => {
  const input = join(FORMATS, 'sysmon1_event_wevtutil.xml');
  const piped = await runCli(['scan', input, '-f', 'table', '-q'], { env: PLAIN_ENV });
  assert.equal(piped.code, 0, piped.stderr);
  assert.match(piped.stdout, /Suspicious Certreq/);
  assert.ok(!piped.stdout.includes('\u001b'), 'a pipe gets no escape codes');
  const noColour = await runCli(['scan', input, '-f', 'table', '-q'], { env: { ...PLAIN_ENV, NO_COLOR: '1' } });
  assert.ok(!noColour.stdout.includes('\u001b'));
  const forced = await runCli(['scan', input, '-f', 'table', '-q'], { env: { ...PLAIN_ENV, FORCE_COLOR: '1' } });
  assert.match(forced.stdout, /\u001b\[(1;)?31m(high|critical)\u001b\[0m/);
  const narrow = await runCli(['scan', input, '-f', 'table', '-q'], { env: { ...PLAIN_ENV, COLUMNS: '70' } });
  const lines = narrow.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 2, 'header and one alert line');
  for (const l of lines) assert.ok(displayWidth(l) <= 70, l);
});

test('a missing --rules path is a usage error that names it; nothing is scanned', async () => {
  const missing = join(tmpdir(), 'procwatch-nosuch-rules.yml');
  const r = await runCli(['scan', 'samples', '-f', 'jsonl', '-r', missing]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '', 'no alerts from the built-in rules alone');
  assert.equal(r.stderr, `procwatch scan: --rules ${missing}: no such file or directory\n`);
  // The same after a good path: every -r is checked.
  const second = await runCli(['scan', 'samples', '-f', 'jsonl', '-r', 'src/rules/builtin', '-r', missing]);
  assert.equal(second.code, 2);
  assert.match(second.stderr, /no such file or directory/);
});

test('a bad flag prints the error and one line pointing to --help, for every subcommand', async () => {
  for (const command of ['scan', 'dump', 'rules', 'serve', 'worker']) {
    const r = await runCli([command, '--no-such-flag']);
    assert.equal(r.code, 2, `${command}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], "error: unknown option '--no-such-flag'", command);
    assert.equal(lines.at(-1), `Run 'procwatch ${command} --help' for the options.`, command);
    assert.ok(lines.length <= 3, `${command}: no help text: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /Usage:/);
  }
  const unknown = await runCli(['scna']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'scna'\n\(Did you mean scan\?\)\nRun 'procwatch --help' for the options\.\n$/);
  const badValue = await runCli(['scan', 'samples', '-f', 'tabel']);
  assert.equal(badValue.code, 2);
  assert.match(badValue.stderr, /argument 'tabel' is invalid.*\nRun 'procwatch scan --help' for the options\.\n$/);
  // What was typed is echoed escaped.
  const hostile = await runCli(['scan', '--x\u001b[31m\u202eevil', 'samples']);
  assert.ok(!/[\u001b\u202e]/.test(hostile.stderr), hostile.stderr);
  assert.match(hostile.stderr, /--x\\x1b\[31m\\u202eevil/);
});

test('NDJSON: bad lines are one summary line per file by default, every line with --verbose; exit code unchanged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-term-'));
  // A file name and raw field text with terminal controls in them: echoed escaped either way.
  const file = join(dir, 'bad\u202e\u001b[2Jlines.ndjson');
  const lines = ['{"broken": '];
  for (let i = 0; i < 40; i++) lines.push(`not json \u001b]0;pwned\u0007 ${i}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const summary = await runCli(['scan', file, '-f', 'jsonl']);
  const verbose = await runCli(['scan', file, '-f', 'jsonl', '--verbose']);
  assert.equal(summary.code, verbose.code);
  const problemLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.includes('lines.ndjson'));
  const one = problemLines(summary.stderr);
  assert.equal(one.length, 1, summary.stderr);
  assert.match(one[0]!, /^procwatch: .*bad\\u202e\\x1b\[2Jlines\.ndjson: 41 problems \(41 bad JSON\), first at line 1; --verbose lists them$/);
  const all = problemLines(verbose.stderr);
  assert.equal(all.length, 41);
  assert.match(all[1]!, /:2: not JSON/);
  for (const out of [summary.stderr, verbose.stderr]) assert.ok(!/[\u001b\u202e\u0007]/.test(out), 'stderr carries no raw controls');
  assert.match(summary.stderr, /41 skipped/);
});

test('damaged EVTX: one line per file with counts by kind and the first location; --verbose lists them', { skip: noCorpus }, async () => {
  const file = join(EVTX_CRATE, 'sample_with_a_bad_chunk_magic.evtx');
  const summary = await runCli(['scan', file, '-f', 'jsonl', '--no-prefilter']);
  const verbose = await runCli(['scan', file, '-f', 'jsonl', '--no-prefilter', '--verbose']);
  assert.equal(summary.code, 0, summary.stderr);
  assert.equal(verbose.code, 0);
  const listed = verbose.stderr.split('\n').filter((l) => l.startsWith(`${file}: chunk `));
  assert.ok(listed.length >= 5, verbose.stderr);
  const lines = summary.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, `one problem line and the scan summary:\n${summary.stderr}`);
  const m = /^procwatch: (.+): (\d+) problems \((.+)\), first at (chunk \d+ offset 0x[0-9a-f]+); --verbose lists them$/.exec(lines[0]!);
  assert.ok(m, lines[0]);
  assert.equal(m[1], file);
  assert.equal(Number(m[2]), listed.length, 'the count is the number of lines --verbose prints');
  const counted = m[3]!.split(', ').map((part) => Number(/^(\d+) /.exec(part)![1]));
  assert.equal(counted.reduce((a, b) => a + b, 0), listed.length, 'kinds add up to the total');
  assert.match(m[3]!, /bad chunk checksum/);
  assert.match(m[3]!, /bad record header/);
  assert.ok(listed[0]!.startsWith(`${file}: ${m[4]}`), 'the first location is the first problem listed');
  // The scan summary's skipped count is the same either way.
  assert.equal(/(\d+) skipped/.exec(summary.stderr)![1], /(\d+) skipped/.exec(verbose.stderr)![1]);
});

test('problem kinds: known reasons by name, unknown ones by their first clause; at most MAX_KINDS per file', () => {
  const at = { file: 'f.evtx', chunk: 2, offset: 0x1a0 };
  assert.equal(problemKind({ ...at, reason: 'chunk records checksum mismatch (stored 0x1, computed 0x2); data used anyway' }), 'bad chunk checksum');
  assert.equal(problemKind({ ...at, reason: 'record size fields disagree (size 480, trailing copy 0); resumed at chunk offset 0xc070' }), 'bad record header');
  assert.equal(problemKind({ ...at, reason: 'template at 0x2c15: template at 0x2c15 overruns the chunk' }), 'bad template');
  assert.equal(problemKind({ file: 'x.ndjson', line: 3, reason: 'incomplete JSON document (a new one starts at line 4)' }), 'bad JSON');
  assert.equal(problemKind({ file: 'x.json', line: 3, reason: 'strange thing 42: details' }), 'strange thing N');
  const out: string[] = [];
  const report = new ProblemReport((t) => out.push(t), false);
  for (let i = 0; i < 100; i++) report.add({ file: 'x.json', line: i + 1, reason: `problem ${String.fromCharCode(65 + (i % 26))}x` });
  report.flush();
  assert.equal(out.length, 1);
  const kinds = /\((.*)\)/.exec(out[0]!)![1]!.split(', ');
  assert.equal(kinds.length, MAX_KINDS + 1, out[0]);
  assert.ok(kinds.some((k) => k.endsWith(' other')));
  assert.match(out[0]!, /x\.json: 100 problems .*first at line 1; --verbose lists them\n$/);
  // One problem in a file: its own line, as before.
  const single: string[] = [];
  const one = new ProblemReport((t) => single.push(t), false);
  one.add({ file: 'y.ndjson', line: 7, reason: 'not JSON: unexpected "x"' });
  one.flush();
  assert.deepEqual(single, ['y.ndjson:7: not JSON: unexpected "x"\n']);
});

test('samples/ at 120 columns: the priority columns, one line per alert, the single bad line printed as it is', async () => {
  const r = await runCli(['scan', 'samples', '-f', 'table', '-q'], { env: { ...PLAIN_ENV, COLUMNS: '120' } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.ok(lines.length >= 8);
  for (const l of lines) assert.ok(displayWidth(l) <= 120, l);
  assert.match(lines[0]!, /^TIME\s+SEVERITY\s+HOST\s+RULE\s+COMMAND LINE$/);
  // The one bad NDJSON line in the samples is its own line on stderr (a single problem is not summarised).
  assert.match(r.stderr, /winlogbeat-ws02\.ndjson:3: incomplete JSON document/);
});
