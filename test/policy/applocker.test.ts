import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certreqPolicy, uuidV5, CERTREQ_SIGNATURE } from '../../src/policy/applocker.js';
import { parseAllowList, resolveSid, SidError, MAX_ALLOWED_GROUPS } from '../../src/policy/sid.js';
import { powershellLines, psQuote, printableUser } from '../../src/policy/powershell.js';
import { parseXml, schemaViolations, type Element } from './applocker-schema.js';
import { runCli } from '../helpers/cli.js';

const PKI_OPERATORS = 'S-1-5-21-1004336348-1177238915-682003330-1234';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function rules(root: Element): Element[] {
  return root.children.flatMap((rc) => rc.children);
}
function publisherConditions(el: Element | undefined): Record<string, string>[] {
  return (el?.children ?? []).filter((c) => c.name === 'FilePublisherCondition').map((c) => c.attrs);
}
function part(rule: Element, name: string): Element | undefined {
  return rule.children.find((c) => c.name === name);
}

// --- A model of how AppLocker decides, to check what the policy does rather than only what it says ---------------

interface FileFacts {
  path: string;
  /** The signature and version resource; absent for unsigned files. */
  signed?: { publisher: string; product: string; originalName: string };
}
type Decision = 'Allowed' | 'Denied' | 'DeniedByDefault';

const ENV: Record<string, string> = { '%WINDIR%': 'C:\\Windows', '%PROGRAMFILES%': 'C:\\Program Files', '%SYSTEM32%': 'C:\\Windows\\System32' };

function pathMatches(pattern: string, path: string): boolean {
  const expanded = pattern.replace(/%[A-Z0-9]+%/gi, (v) => ENV[v.toUpperCase()] ?? v);
  const re = new RegExp(`^${expanded.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
  return re.test(path);
}

function conditionMatches(c: Element, file: FileFacts): boolean {
  if (c.name === 'FilePathCondition') return pathMatches(c.attrs.Path!, file.path);
  if (c.name === 'FilePublisherCondition') {
    if (!file.signed) return false;
    const eq = (want: string, have: string): boolean => want === '*' || want.toUpperCase() === have.toUpperCase();
    return eq(c.attrs.PublisherName!, file.signed.publisher) && eq(c.attrs.ProductName!, file.signed.product) && eq(c.attrs.BinaryName!, file.signed.originalName);
  }
  throw new Error(`condition ${c.name} not modelled`);
}

function ruleApplies(rule: Element, file: FileFacts, userSids: string[]): boolean {
  if (!userSids.includes(rule.attrs.UserOrGroupSid!)) return false;
  if (!part(rule, 'Conditions')!.children.some((c) => conditionMatches(c, file))) return false;
  return !(part(rule, 'Exceptions')?.children ?? []).some((c) => conditionMatches(c, file));
}

/** Deny rules win; then any allow rule; else the implicit deny of a collection that has rules. */
function decide(root: Element, file: FileFacts, userSids: string[]): Decision {
  const applicable = rules(root).filter((r) => ruleApplies(r, file, userSids));
  if (applicable.some((r) => r.attrs.Action === 'Deny')) return 'Denied';
  return applicable.some((r) => r.attrs.Action === 'Allow') ? 'Allowed' : 'DeniedByDefault';
}

const MS = CERTREQ_SIGNATURE.publisherName;
const WINDOWS = CERTREQ_SIGNATURE.productName;
const certreq: FileFacts = { path: 'C:\\Windows\\System32\\certreq.exe', signed: { publisher: MS, product: WINDOWS, originalName: 'CertReq.exe' } };
const renamedCopy: FileFacts = { path: 'C:\\Windows\\Temp\\update.exe', signed: { publisher: MS, product: WINDOWS, originalName: 'CertReq.exe' } };
const copyInProgramFiles: FileFacts = { path: 'C:\\Program Files\\Vendor\\cr.exe', signed: { publisher: MS, product: WINDOWS, originalName: 'CertReq.exe' } };
const notepad: FileFacts = { path: 'C:\\Windows\\System32\\notepad.exe', signed: { publisher: MS, product: WINDOWS, originalName: 'NOTEPAD.EXE' } };
const vendorApp: FileFacts = { path: 'C:\\Program Files\\Vendor\\app.exe' };
const downloaded: FileFacts = { path: 'C:\\Users\\bob\\Downloads\\tool.exe' };

const EVERYONE = 'S-1-1-0';
const ADMINS = 'S-1-5-32-544';
const ordinaryUser = [EVERYONE, 'S-1-5-32-545', 'S-1-5-11'];
const pkiOperator = [...ordinaryUser, PKI_OPERATORS];
const admin = [...ordinaryUser, ADMINS];

// --- Structure -----------------------------------------------------------------------------------------------------

test('the policy follows the AppLocker schema: element nesting, attributes, GUIDs, SIDs, version ranges', () => {
  for (const options of [{ allow: [PKI_OPERATORS] }, { allow: [PKI_OPERATORS, ADMINS], enforce: true, restrictAdmins: true }]) {
    const root = parseXml(certreqPolicy(options).xml);
    assert.deepEqual(schemaViolations(root), []);
    assert.equal(root.attrs.Version, '1');
    assert.deepEqual(root.children.map((c) => c.attrs.Type), ['Exe']);
  }
});

test('the structural check itself catches what the schema forbids', () => {
  const root = parseXml(certreqPolicy({ allow: [PKI_OPERATORS] }).xml);
  const rule = rules(root)[0]!;
  rule.attrs.Id = 'not-a-guid';
  rule.attrs.UserOrGroupSid = 'Everyone';
  rule.children.push({ name: 'Exceptions', attrs: {}, children: [] });
  delete rules(root)[3]!.children[0]!.children[0]!.children[0]!.attrs.HighSection;
  const errors = schemaViolations(root).join('\n');
  assert.match(errors, /Id not-a-guid is not a GUID/);
  assert.match(errors, /UserOrGroupSid Everyone is not a SID/);
  assert.match(errors, /more than one Exceptions/);
  assert.match(errors, /missing attribute HighSection/);
});

test('audit-only is the default; --enforce switches the Exe collection to Enabled', () => {
  assert.equal(parseXml(certreqPolicy({ allow: [PKI_OPERATORS] }).xml).children[0]!.attrs.EnforcementMode, 'AuditOnly');
  assert.equal(parseXml(certreqPolicy({ allow: [PKI_OPERATORS], enforce: true }).xml).children[0]!.attrs.EnforcementMode, 'Enabled');
});

test('default rules are kept, the certreq exception sits on the Everyone path rules, and one publisher allow per group', () => {
  const all = rules(parseXml(certreqPolicy({ allow: [PKI_OPERATORS, 'S-1-5-32-551'] }).xml));
  const byPath = (p: string): Element => all.find((r) => part(r, 'Conditions')!.children[0]!.attrs.Path === p)!;
  const certreqCondition = { PublisherName: 'O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US', ProductName: 'MICROSOFT® WINDOWS® OPERATING SYSTEM', BinaryName: 'CERTREQ.EXE' };
  for (const path of ['%WINDIR%\\*', '%PROGRAMFILES%\\*']) {
    const r = byPath(path);
    assert.equal(r.name, 'FilePathRule');
    assert.deepEqual([r.attrs.UserOrGroupSid, r.attrs.Action], [EVERYONE, 'Allow']);
    assert.deepEqual(publisherConditions(part(r, 'Exceptions')), [certreqCondition]);
    const range = part(r, 'Exceptions')!.children[0]!.children[0]!;
    assert.deepEqual(range, { name: 'BinaryVersionRange', attrs: { LowSection: '*', HighSection: '*' }, children: [] });
  }
  const admins = byPath('*');
  assert.deepEqual([admins.attrs.UserOrGroupSid, admins.attrs.Action], [ADMINS, 'Allow']);
  assert.equal(part(admins, 'Exceptions'), undefined, 'administrators keep certreq unless --restrict-admins');
  const publisherRules = all.filter((r) => r.name === 'FilePublisherRule');
  assert.deepEqual(publisherRules.map((r) => r.attrs.UserOrGroupSid), [PKI_OPERATORS, 'S-1-5-32-551']);
  for (const r of publisherRules) {
    assert.equal(r.attrs.Action, 'Allow');
    assert.deepEqual(publisherConditions(part(r, 'Conditions')), [certreqCondition]);
    assert.equal(part(r, 'Exceptions'), undefined);
  }
});

test('the output is ASCII: ® is written as a character reference, so no code page can garble the product name', () => {
  const xml = certreqPolicy({ allow: [PKI_OPERATORS] }).xml;
  assert.match(xml, /^[\x09\x0a\x0d\x20-\x7e]*$/);
  assert.ok(xml.includes('ProductName="MICROSOFT&#174; WINDOWS&#174; OPERATING SYSTEM"'));
});

test('rule ids are RFC 4122 v5 UUIDs of the rule content: same input, same file; different rules, different ids', () => {
  // Known-answer vector of UUID v5 (DNS namespace, "www.example.com").
  assert.equal(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'), '2ed6657d-e927-568b-95e1-2665a8aea6a2');
  const a = certreqPolicy({ allow: [PKI_OPERATORS] });
  assert.equal(certreqPolicy({ allow: [PKI_OPERATORS] }).xml, a.xml);
  const ids = rules(parseXml(a.xml)).map((r) => r.attrs.Id!);
  for (const id of ids) assert.match(id, GUID);
  assert.equal(new Set(ids).size, ids.length);
  // The mode is not part of a rule: switching audit → enforce keeps the ids, so a merge replaces rather than duplicates.
  assert.deepEqual(rules(parseXml(certreqPolicy({ allow: [PKI_OPERATORS], enforce: true }).xml)).map((r) => r.attrs.Id), ids);
  const other = rules(parseXml(certreqPolicy({ allow: ['S-1-5-32-551'] }).xml)).map((r) => r.attrs.Id!);
  assert.deepEqual(other.slice(0, 3), ids.slice(0, 3), 'the unchanged default rules keep their ids');
  assert.notEqual(other[3], ids[3]);
  const restricted = rules(parseXml(certreqPolicy({ allow: [PKI_OPERATORS], restrictAdmins: true }).xml)).map((r) => r.attrs.Id!);
  assert.notEqual(restricted[2], ids[2], 'the excepted Administrators rule is a different rule');
});

// --- Behaviour under AppLocker's evaluation -------------------------------------------------------------------------

test('only the allowed groups run certreq; a renamed copy is still caught; everything else runs as before', () => {
  const root = parseXml(certreqPolicy({ allow: [PKI_OPERATORS] }).xml);
  assert.equal(decide(root, certreq, ordinaryUser), 'DeniedByDefault');
  assert.equal(decide(root, certreq, pkiOperator), 'Allowed');
  assert.equal(decide(root, renamedCopy, ordinaryUser), 'DeniedByDefault', 'BinaryName matches the signed OriginalFilename, not the name on disk');
  assert.equal(decide(root, copyInProgramFiles, ordinaryUser), 'DeniedByDefault');
  assert.equal(decide(root, renamedCopy, pkiOperator), 'Allowed');
  assert.equal(decide(root, notepad, ordinaryUser), 'Allowed');
  assert.equal(decide(root, vendorApp, ordinaryUser), 'Allowed');
  assert.equal(decide(root, downloaded, ordinaryUser), 'DeniedByDefault', 'the default rules, as AppLocker ships them');
  assert.equal(decide(root, certreq, admin), 'Allowed', 'administrators keep certreq by default');
  assert.equal(decide(root, downloaded, admin), 'Allowed');
});

test('--restrict-admins takes certreq from administrators too, unless an allowed group admits them', () => {
  const root = parseXml(certreqPolicy({ allow: [PKI_OPERATORS], restrictAdmins: true }).xml);
  assert.equal(decide(root, certreq, admin), 'DeniedByDefault');
  assert.equal(decide(root, downloaded, admin), 'Allowed');
  assert.equal(decide(root, certreq, [...admin, PKI_OPERATORS]), 'Allowed');
  const withAdmins = parseXml(certreqPolicy({ allow: [PKI_OPERATORS, ADMINS], restrictAdmins: true }).xml);
  assert.equal(decide(withAdmins, certreq, admin), 'Allowed');
});

// --- SIDs ----------------------------------------------------------------------------------------------------------

test('SIDs: literal SIDs are checked and canonicalised, well-known names map, anything else is refused', () => {
  assert.equal(resolveSid('BUILTIN\\Administrators'), 'S-1-5-32-544');
  assert.equal(resolveSid('builtin\\administrators'), 'S-1-5-32-544');
  assert.equal(resolveSid('NT AUTHORITY\\SYSTEM'), 'S-1-5-18');
  assert.equal(resolveSid(' s-1-5-21-1-2-3-1001 '), 'S-1-5-21-1-2-3-1001');
  assert.equal(resolveSid('S-1-5-032-0544'), 'S-1-5-32-544');
  for (const bad of ['CONTOSO\\PKI Admins', 'S-1-5', 'S-2-5-32-544', 'S-1-5-32-544; rm -rf', 'S-1-5-4294967296', 'S-1-0x5-32', `S-1-5${'-1'.repeat(16)}`, '']) {
    assert.throws(() => resolveSid(bad), SidError, bad);
  }
  assert.equal(resolveSid(`S-1-5${'-1'.repeat(15)}`).split('-').length, 18);
});

test('allow lists: comma-separated and repeated values, duplicates folded, Everyone refused, at most 64 groups', () => {
  assert.deepEqual(parseAllowList(['S-1-5-32-544,BUILTIN\\Administrators', PKI_OPERATORS]), ['S-1-5-32-544', PKI_OPERATORS]);
  assert.throws(() => parseAllowList(['Everyone']), /restrict nobody/);
  assert.throws(() => parseAllowList(['S-1-1-0']), /restrict nobody/);
  assert.throws(() => parseAllowList([]), /no allowed group/);
  assert.throws(() => parseAllowList(['S-1-5-32-544,']), /empty group/);
  const many = (n: number): string[] => Array.from({ length: n }, (_, i) => `S-1-5-21-1-2-3-${1000 + i}`);
  assert.equal(parseAllowList(many(MAX_ALLOWED_GROUPS)).length, MAX_ALLOWED_GROUPS);
  assert.throws(() => parseAllowList(many(MAX_ALLOWED_GROUPS + 1)), /more than 64/);
});

// --- PowerShell ----------------------------------------------------------------------------------------------------

test('PowerShell lines test before applying, merge, re-test the effective policy, and start AppIDSvc', () => {
  const lines = powershellLines({ policyFile: ".\\o'brien.xml", mode: 'AuditOnly', deniedUser: 'CONTOSO\\bob' });
  const code = lines.filter((l) => !l.startsWith('#'));
  assert.deepEqual(code.slice(0, 2), ['sc.exe config appidsvc start= auto', 'Start-Service -Name AppIDSvc']);
  assert.equal(code[2], "Test-AppLockerPolicy -XmlPolicy '.\\o''brien.xml' -Path 'C:\\Windows\\System32\\certreq.exe' -User 'CONTOSO\\bob'");
  assert.match(code[3]!, /-User 'DOMAIN\\member-of-an-allowed-group'$/);
  assert.equal(code[4], "Set-AppLockerPolicy -XmlPolicy '.\\o''brien.xml' -Merge");
  assert.equal(code[5], "Get-AppLockerPolicy -Effective | Test-AppLockerPolicy -Path 'C:\\Windows\\System32\\certreq.exe' -User 'CONTOSO\\bob'");
  assert.ok(lines.some((l) => /AuditOnly/.test(l)));
});

test('values from event data cannot become PowerShell code', () => {
  assert.equal(psQuote("a'b’c"), "'a''b''c'");
  assert.equal(printableUser("bob'; Remove-Item C:\\ -Recurse #"), undefined);
  assert.equal(printableUser('bob$(whoami)'), undefined);
  assert.equal(printableUser('CONTOSO\\svc_pki$'), 'CONTOSO\\svc_pki$');
  const lines = powershellLines({ policyFile: 'p.xml', mode: 'Enabled', deniedUser: "x'; calc; '" });
  assert.ok(lines.every((l) => !l.includes('calc')));
});

// --- CLI -----------------------------------------------------------------------------------------------------------

test('procwatch policy certreq: XML on stdout, PowerShell on stderr; -o and --script write files', async () => {
  const r = await runCli(['policy', 'certreq', '--allow', `BUILTIN\\Backup Operators,${PKI_OPERATORS}`]);
  assert.equal(r.code, 0, r.stderr);
  const root = parseXml(r.stdout);
  assert.deepEqual(schemaViolations(root), []);
  assert.deepEqual(rules(root).filter((x) => x.name === 'FilePublisherRule').map((x) => x.attrs.UserOrGroupSid), ['S-1-5-32-551', PKI_OPERATORS]);
  assert.match(r.stderr, /Test-AppLockerPolicy -XmlPolicy '\.\\procwatch-certreq-applocker\.xml'/);

  const dir = await mkdtemp(join(tmpdir(), 'procwatch-policy-'));
  try {
    const out = join(dir, 'certreq.xml');
    const script = join(dir, 'apply.ps1');
    const f = await runCli(['policy', 'certreq', '--allow', PKI_OPERATORS, '--enforce', '--restrict-admins', '-o', out, '--script', script]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout, '');
    assert.equal(f.stderr, '');
    const xml = await readFile(out, 'utf8');
    assert.equal(xml, certreqPolicy({ allow: [PKI_OPERATORS], enforce: true, restrictAdmins: true }).xml);
    assert.match(await readFile(script, 'utf8'), /Set-AppLockerPolicy -XmlPolicy '\.\\certreq\.xml' -Merge/);
    const unwritable = await runCli(['policy', 'certreq', '--allow', PKI_OPERATORS, '-o', join(dir, 'missing', 'x.xml')]);
    assert.equal(unwritable.code, 2);
    assert.match(unwritable.stderr, /ENOENT.*missing/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('procwatch policy certreq refuses bad groups with a usage error (exit 2) and writes no policy', async () => {
  for (const args of [['--allow', 'CONTOSO\\PKI Admins'], ['--allow', 'Everyone'], ['--allow', 'S-1-5-21-1-2,,S-1-5-32-544'], []]) {
    const r = await runCli(['policy', 'certreq', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--allow/);
  }
});
