/**
 * The two companion built-in rules (certreq-post-url-no-winini, certreq-renamed) through the real rule loader
 * and engine, on every row of the shared certreq corpus as a Sysmon 1 and as a Security 4688 event.
 */
// @requires corpus
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS } from '../helpers/paths.js';
import { createPipeline } from '../../src/pipeline.js';
import type { WinEvent } from '../../src/model/event.js';

interface Row { line: number; label: string; commandLine: string; image: string; ofn: string }

function rows(): Row[] {
  return readFileSync(join(CORPUS, 'certreq', 'commands.tsv'), 'utf8').split('\n').map((l, i) => ({ l, line: i + 1 })).slice(1).filter((x) => x.l.trim() !== '').map(({ l, line }) => {
    const [label, commandLine, image, ofn] = l.split('\t');
    return { line, label: label!, commandLine: commandLine!, image: image!, ofn: ofn ?? '' };
  });
}

function sysmon(r: Row): WinEvent {
  return {
    system: { provider: 'Microsoft-Windows-Sysmon', channel: 'Microsoft-Windows-Sysmon/Operational', eventId: 1, timeCreated: '2026-05-01T10:00:00Z', computer: 'WS01', recordId: r.line },
    data: { ProcessGuid: `{00000000-0000-0000-0000-${String(r.line).padStart(12, '0')}}`, ProcessId: String(1000 + r.line), Image: r.image, CommandLine: r.commandLine, ...(r.ofn ? { OriginalFileName: r.ofn } : {}), User: 'CONTOSO\\alice' },
    origin: { file: 'commands.tsv', line: r.line },
  };
}

function security(r: Row): WinEvent {
  return {
    system: { provider: 'Microsoft-Windows-Security-Auditing', channel: 'Security', eventId: 4688, timeCreated: '2026-05-01T10:00:00Z', computer: 'SRV01', recordId: r.line },
    data: { NewProcessId: `0x${(1000 + r.line).toString(16)}`, NewProcessName: r.image, ProcessId: '0x4', CommandLine: r.commandLine, SubjectUserName: 'bob', SubjectDomainName: 'CONTOSO' },
    origin: { file: 'commands.tsv', line: r.line },
  };
}

/** Corpus lines (1-based, header = 1) where certreq itself POSTs to a URL with another body than win.ini. */
const POST_WITHOUT_WININI = [8, 9, 14, 15, 16, 17, 39, 41];
/** Corpus lines of a certreq binary under another name, visible only with OriginalFileName (Sysmon). */
const RENAMED = [33, 34];

test('companion rules fire exactly on the rows the published rule misses', async () => {
  const pipeline = await createPipeline({ rules: { paths: [], builtin: true } });
  assert.deepEqual(pipeline.ruleErrors, []);
  const ids = pipeline.rules.map((r) => r.meta.id);
  for (const id of ['certreq-download-upload', 'certreq-post-url-no-winini', 'certreq-renamed']) assert.ok(ids.includes(id), id);
  const fired = (ev: WinEvent, id: string): boolean => pipeline.engine.match(ev).some((d) => d.rule.id === id);
  const all = rows();
  assert.ok(all.length >= 80);
  for (const r of all) {
    const where = `line ${r.line}: ${r.commandLine}`;
    const sys = sysmon(r);
    const sec = security(r);
    assert.equal(fired(sys, 'certreq-post-url-no-winini'), POST_WITHOUT_WININI.includes(r.line), `sysmon ${where}`);
    assert.equal(fired(sec, 'certreq-post-url-no-winini'), POST_WITHOUT_WININI.includes(r.line), `4688 ${where}`);
    assert.equal(fired(sys, 'certreq-renamed'), RENAMED.includes(r.line), `sysmon ${where}`);
    assert.equal(fired(sec, 'certreq-renamed'), false, `4688 has no OriginalFileName: ${where}`);
    // Benign administrator commands never trip the companion rules.
    if (r.label === 'benign') assert.equal(fired(sys, 'certreq-post-url-no-winini') || fired(sys, 'certreq-renamed'), false, where);
  }
});

test('through the pipeline: one alert per matching rule, each listing every rule that matched, with triage context', async () => {
  const pipeline = await createPipeline({ rules: { paths: [], builtin: true } });
  const row = rows().find((r) => r.line === 15)!; // certreq POSTs sam.save (Sysmon: published rule by OriginalFileName + companion)
  const ev = sysmon(row);
  const alerts = pipeline.handle(ev);
  assert.deepEqual(alerts.map((a) => a.rule.id).sort(), ['certreq-download-upload', 'certreq-post-url-no-winini']);
  for (const a of alerts) {
    assert.deepEqual([...a.matchedRules].sort(), ['certreq-download-upload', 'certreq-post-url-no-winini']);
    assert.equal(a.context?.severity, 'critical');
    assert.equal((a.context?.enrichments?.['certreq'] as { upload_file: string }).upload_file, 'C:\\Users\\Public\\sam.save');
  }
  assert.deepEqual(pipeline.handle(ev), [], 'the same event again makes no second alert');
});
