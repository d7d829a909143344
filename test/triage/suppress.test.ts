import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/configError.js';
import { loadTriageConfig, parseDuration, parseTriageConfig } from '../../src/triage/config.js';
import { Suppressor, type SuppressionSubject } from '../../src/triage/suppress.js';

const subject = (x: Partial<SuppressionSubject> = {}): SuppressionSubject => ({
  ruleIds: ['certreq-download-upload'], host: 'CA01.contoso.com', user: 'CONTOSO\\svc_pki',
  image: 'C:\\Windows\\System32\\certreq.exe', parentImage: 'C:\\Windows\\System32\\taskhostw.exe',
  commandLine: 'certreq -enroll -machine -q WebServer', ...x,
});

test('every given criterion must match; lists are alternatives; case-insensitive globs', () => {
  const cfg = parseTriageConfig({
    suppressions: [{ id: 'pki', reason: 'PKI renewals', rule: 'certreq-download-upload', user: ['svc_pki', 'CONTOSO\\other'], host: 'ca0?.CONTOSO.com', parent_image: '*\\taskhostw.exe', command_line: 'certreq -enroll *' }],
  });
  const s = new Suppressor(cfg);
  assert.deepEqual(s.match(subject()), { by: 'pki', reason: 'PKI renewals' });
  assert.equal(s.match(subject({ host: 'WS01' })), undefined);
  assert.equal(s.match(subject({ ruleIds: ['certreq-renamed'] })), undefined);
  assert.equal(s.match(subject({ parentImage: 'C:\\Windows\\explorer.exe' })), undefined);
  assert.equal(s.match(subject({ commandLine: 'certreq -Post -config https://x/ a' })), undefined);
  assert.equal(s.match(subject({ user: undefined })), undefined, 'a missing user never matches a user criterion');
  assert.ok(s.match(subject({ user: 'contoso\\SVC_PKI' })), 'name part, any case');
});

test('RE2 command-line regexes, and groups of users defined in the config', () => {
  const cfg = parseTriageConfig({
    groups: { 'pki-admins': ['CONTOSO\\alice', 'CONTOSO\\svc_*'] },
    suppressions: [{ id: 'admins', group: 'pki-admins', command_line_regex: '-(submit|retrieve)\\s+-config\\s+"?ca01' }],
  });
  const s = new Suppressor(cfg);
  assert.ok(s.match(subject({ user: 'CONTOSO\\alice', commandLine: 'certreq -submit -config "ca01\\CA" a.req' })));
  assert.ok(s.match(subject({ user: 'CONTOSO\\svc_web', commandLine: 'certreq -retrieve -config ca01\\CA 20 a.cer' })));
  assert.equal(s.match(subject({ user: 'CONTOSO\\mallory', commandLine: 'certreq -submit -config ca01\\CA a.req' })), undefined);
  // Linear-time matching on an attacker-sized command line.
  assert.equal(s.match(subject({ user: 'CONTOSO\\alice', commandLine: `certreq ${'-submit '.repeat(5000)}x` })), undefined);
});

test('expired suppressions stop applying and are reported', () => {
  const cfg = parseTriageConfig({ suppressions: [{ id: 'temp', host: 'CA01*', expires: '2026-06-01T00:00:00Z' }] });
  const before = new Suppressor(cfg, () => new Date('2026-05-31T23:59:59Z'));
  const after = new Suppressor(cfg, () => new Date('2026-06-01T00:00:00Z'));
  assert.ok(before.match(subject()));
  assert.deepEqual(before.expired(), []);
  assert.equal(after.match(subject()), undefined);
  assert.deepEqual(after.expired().map((x) => x.id), ['temp']);
});

test('config errors name the file and the entry', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ suppressions: [{ id: 'x' }] }, /suppressions\[0\]: a suppression needs at least one/],
    [{ suppressions: [{ host: 'a', expires: 'next tuesday' }] }, /suppressions\[0\]\.expires: not a date/],
    [{ suppressions: [{ command_line_regex: '(' }] }, /suppressions\[0\]\.command_line_regex: invalid RE2 regex/],
    [{ suppressions: [{ group: 'nobody' }] }, /unknown group "nobody"/],
    [{ suppressions: [{ hots: 'a' }] }, /suppressions\[0\]\.hots: unknown key/],
    [{ incidents: { gap: 'soon' } }, /incidents\.gap: not a duration/],
    [{ index: { capacity: -1 } }, /index\.capacity/],
    [{ surpressions: [] }, /surpressions: unknown key/],
    [[1, 2], /top level: expected a mapping/],
  ];
  for (const [doc, re] of bad) assert.throws(() => parseTriageConfig(doc, 'tuning.yml'), (e: unknown) => e instanceof ConfigError && re.test(e.message) && e.message.startsWith('tuning.yml: '));
});

test('loads YAML from a file; durations in the usual units', () => {
  const dir = mkdtempSync(join(tmpdir(), 'procwatch-triage-'));
  const file = join(dir, 'procwatch.yml');
  writeFileSync(file, 'incidents:\n  group_by_user: true\n  gap: 10m\n  span: 2h\nindex:\n  capacity: 5000\nsuppressions:\n  - id: a\n    host: WS*\n    expires: 2030-01-01\n');
  const cfg = loadTriageConfig(file);
  assert.deepEqual(cfg.incidents, { groupByUser: true, gapMs: 600_000, spanMs: 7_200_000 });
  assert.equal(cfg.indexCapacity, 5000);
  assert.equal(cfg.suppressions[0]!.expires!.toISOString(), '2030-01-01T00:00:00.000Z');
  writeFileSync(file, 'suppressions: [\n');
  assert.throws(() => loadTriageConfig(file), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${file}: invalid YAML`));
  assert.throws(() => loadTriageConfig(join(dir, 'missing.yml')), /cannot read/);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration(45), 45_000);
  assert.equal(parseDuration('2 weeks'), undefined);
});
