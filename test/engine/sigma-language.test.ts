/**
 * The Sigma language, piece by piece: values, wildcards and escaping, every modifier, conditions, keyword
 * searches, null/empty values — each against events that must and must not match.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineFor, loadError, matches, procRule } from './support/rules.js';
import { security, sysmon } from './support/events.js';

const proc = (data: Record<string, string | number | null | undefined>) => sysmon(1, data);

function check(detection: string, yes: Array<Record<string, string | number | null | undefined>>, no: Array<Record<string, string | number | null | undefined>>): void {
  const engine = engineFor(procRule(detection));
  for (const d of yes) assert.equal(matches(engine, proc(d)), true, `should match ${JSON.stringify(d)}\n${detection}`);
  for (const d of no) assert.equal(matches(engine, proc(d)), false, `should not match ${JSON.stringify(d)}\n${detection}`);
}

test('plain values are case-insensitive equality; lists are OR, maps are AND', () => {
  check(
    `    selection:
        Image: 'C:\\Windows\\System32\\cmd.exe'
        User:
            - CORP\\alice
            - CORP\\bob
    condition: selection`,
    [{ Image: 'c:\\windows\\system32\\CMD.EXE', User: 'corp\\BOB' }],
    [{ Image: 'c:\\windows\\system32\\cmd.exe', User: 'CORP\\carol' }, { Image: 'C:\\Windows\\System32\\cmd.exe.bak', User: 'CORP\\alice' }, { User: 'CORP\\alice' }],
  );
});

test('contains / startswith / endswith / all', () => {
  check(
    `    selection:
        Image|endswith: '\\powershell.exe'
        CommandLine|contains|all: [' -nop', ' -w hidden']
        ParentImage|startswith: 'C:\\Program Files'
    condition: selection`,
    [{ Image: 'C:\\x\\PowerShell.EXE', CommandLine: 'powershell -NoP -W Hidden -nop -w hidden', ParentImage: 'c:\\program files\\a.exe' }],
    [
      { Image: 'C:\\x\\PowerShell.EXE', CommandLine: 'powershell -nop', ParentImage: 'c:\\program files\\a.exe' },
      { Image: 'C:\\x\\powershell.exe.x', CommandLine: ' -nop -w hidden', ParentImage: 'c:\\program files\\a.exe' },
      { Image: 'C:\\x\\powershell.exe', CommandLine: ' -nop -w hidden', ParentImage: 'd:\\c:\\program files\\a.exe' },
    ],
  );
});

test('wildcards * and ? with escaping (\\* \\? \\\\), other backslashes literal', () => {
  check(`    selection:\n        CommandLine: 'a*b?c'\n    condition: selection`, [{ CommandLine: 'aXXbYc' }, { CommandLine: 'abzc' }], [{ CommandLine: 'abc' }, { CommandLine: 'aXbYYc' }]);
  check(`    selection:\n        CommandLine: 'a\\*b\\?c'\n    condition: selection`, [{ CommandLine: 'a*b?c' }], [{ CommandLine: 'aXbYc' }]);
  check(`    selection:\n        CommandLine: 'x\\\\*'\n    condition: selection`, [{ CommandLine: 'x\\anything' }, { CommandLine: 'x\\' }], [{ CommandLine: 'x*' }, { CommandLine: 'xa' }]);
  // SigmaHQ style: `\\*` is a backslash followed by a wildcard; `\*` alone would be a literal star.
  check(`    selection:\n        Image: 'C:\\Windows\\\\*\\cmd.exe'\n    condition: selection`, [{ Image: 'c:\\windows\\system32\\cmd.exe' }], [{ Image: 'c:\\windows\\cmd.exe.exe' }]);
  check(`    selection:\n        Image: 'C:\\Windows\\*\\cmd.exe'\n    condition: selection`, [{ Image: 'c:\\windows*\\cmd.exe' }], [{ Image: 'c:\\windows\\system32\\cmd.exe' }]);
  check(`    selection:\n        Image|contains: '*'\n    condition: selection`, [{ Image: '' }, { Image: 'x' }], [{}]);
});

test('null, empty string and exists', () => {
  check(`    selection:\n        OriginalFileName: null\n    condition: selection`, [{}, { OriginalFileName: null }, { OriginalFileName: '' }], [{ OriginalFileName: 'a.exe' }]);
  check(`    selection:\n        OriginalFileName: ''\n    condition: selection`, [{ OriginalFileName: '' }], [{}, { OriginalFileName: 'a' }]);
  check(`    selection:\n        OriginalFileName|exists: true\n    condition: selection`, [{ OriginalFileName: '' }, { OriginalFileName: 'x' }], [{}]);
  check(`    selection:\n        OriginalFileName|exists: false\n    condition: selection`, [{}], [{ OriginalFileName: 'x' }]);
});

test('cased and neq', () => {
  check(`    selection:\n        CommandLine|contains|cased: 'Post'\n    condition: selection`, [{ CommandLine: 'x -Post' }], [{ CommandLine: 'x -post' }]);
  check(`    selection:\n        IntegrityLevel|neq: [High, System]\n    condition: selection`, [{ IntegrityLevel: 'Medium' }], [{ IntegrityLevel: 'high' }, { IntegrityLevel: 'System' }, {}]);
});

test('windash matches -, /, en dash, em dash and horizontal bar at flag starts only', () => {
  const yes = ['-', '/', '\u2013', '\u2014', '\u2015'].map((d) => ({ CommandLine: `certutil ${d}urlcache ${d}f http://x` }));
  check(`    selection:\n        CommandLine|contains|windash: ' -urlcache '\n    condition: selection`, yes, [{ CommandLine: 'certutil +urlcache -f' }, { CommandLine: 'certutil urlcache' }]);
  // With `all`, written values are ANDed but each one's dash variants stay ORed.
  check(
    `    selection:\n        CommandLine|contains|all|windash: [' -a ', ' -b ']\n    condition: selection`,
    [{ CommandLine: 'x /a /b ' }, { CommandLine: 'x -a \u2013b ' }],
    [{ CommandLine: 'x -a ' }, { CommandLine: 'x /b ' }],
  );
  // A dash inside a word is not a flag: 'x-y' stays as written.
  check(`    selection:\n        CommandLine|contains|windash: 'x-y'\n    condition: selection`, [{ CommandLine: 'ax-yb' }], [{ CommandLine: 'ax/yb' }]);
});

test('re with i, m and s; linear time on pathological patterns', () => {
  check(`    selection:\n        CommandLine|re: '^cmd\\.exe /c [a-z]+$'\n    condition: selection`, [{ CommandLine: 'cmd.exe /c whoami' }], [{ CommandLine: 'CMD.EXE /c whoami' }, { CommandLine: 'xcmd.exe /c whoami' }]);
  check(`    selection:\n        CommandLine|re|i: '^cmd\\.exe'\n    condition: selection`, [{ CommandLine: 'CMD.EXE /c' }], [{ CommandLine: 'x cmd.exe' }]);
  check(`    selection:\n        CommandLine|re|m: '^whoami$'\n    condition: selection`, [{ CommandLine: 'echo\nwhoami\nexit' }], [{ CommandLine: 'echo whoami' }]);
  check(`    selection:\n        CommandLine|re|s: 'a.b'\n    condition: selection`, [{ CommandLine: 'a\nb' }], [{ CommandLine: 'ab' }]);
  check(`    selection:\n        CommandLine|re: 'a.b'\n    condition: selection`, [{ CommandLine: 'axb' }], [{ CommandLine: 'a\nb' }]);
  const engine = engineFor(procRule(`    selection:\n        CommandLine|re: '^(a+)+$'\n    condition: selection`));
  const started = process.hrtime.bigint();
  assert.equal(matches(engine, proc({ CommandLine: `${'a'.repeat(5000)}b` })), false);
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000, 'catastrophic-backtracking pattern runs in linear time');
});

test('base64, base64offset and utf16 encodings', () => {
  const b64 = Buffer.from('whoami /all').toString('base64');
  check(`    selection:\n        CommandLine|base64: 'whoami /all'\n    condition: selection`, [{ CommandLine: b64 }], [{ CommandLine: `x${b64}` }]);
  const yes = [0, 1, 2].map((pad) => ({ CommandLine: `powershell -e ${Buffer.from(`${'x'.repeat(pad)}Invoke-Mimikatz -Dump`).toString('base64')}` }));
  check(`    selection:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n    condition: selection`, yes, [{ CommandLine: Buffer.from('Invoke-Other').toString('base64') }]);
  const wide = [0, 1, 2, 3].map((pad) => ({ CommandLine: `powershell -enc ${Buffer.from(`${'y'.repeat(pad)}IEX (New-Object Net.WebClient)`, 'utf16le').toString('base64')}` }));
  check(`    selection:\n        CommandLine|wide|base64offset|contains: 'New-Object Net.WebClient'\n    condition: selection`, wide, [{ CommandLine: 'powershell -enc AAAA' }]);
  const be = Buffer.from('cmd', 'utf16le').swap16().toString('base64');
  check(`    selection:\n        CommandLine|utf16be|base64: 'cmd'\n    condition: selection`, [{ CommandLine: be }], [{ CommandLine: Buffer.from('cmd', 'utf16le').toString('base64') }]);
  const bom = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('cmd', 'utf16le')]).toString('base64');
  check(`    selection:\n        CommandLine|utf16|base64: 'cmd'\n    condition: selection`, [{ CommandLine: bom }], [{ CommandLine: be }]);
});

test('numeric comparisons read decimal and hex values', () => {
  check(`    selection:\n        ProcessId|gte: 1000\n        ProcessId|lt: 2000\n    condition: selection`, [{ ProcessId: 1000 }, { ProcessId: '1999' }, { ProcessId: '0x500' }], [{ ProcessId: 999 }, { ProcessId: '2000' }, { ProcessId: 'abc' }, {}]);
  check(`    selection:\n        TerminalSessionId|gt: 0\n        LogonId|lte: 0x3e7\n    condition: selection`, [{ TerminalSessionId: 1, LogonId: '0x3e7' }], [{ TerminalSessionId: 0, LogonId: '0x3e7' }, { TerminalSessionId: 1, LogonId: '0x3e8' }]);
});

test('cidr for IPv4 and IPv6', () => {
  const engine = engineFor(`title: T
id: cidr-test
logsource: {product: windows, category: network_connection}
detection:
    selection:
        DestinationIp|cidr: ['10.0.0.0/8', '192.168.1.0/24', 'fe80::/10', '2001:db8::/32']
    condition: selection
`);
  for (const ip of ['10.1.2.3', '192.168.1.200', 'fe80::1', 'FE80::abcd:1%12', '2001:db8:1::5', '::ffff:10.9.9.9'])
    assert.equal(matches(engine, sysmon(3, { DestinationIp: ip })), true, ip);
  for (const ip of ['11.0.0.1', '192.168.2.1', '2001:db9::1', 'not-an-ip', '10.0.0.256'])
    assert.equal(matches(engine, sysmon(3, { DestinationIp: ip })), false, ip);
  assert.match(loadError(procRule(`    selection:\n        Image|cidr: '10.0.0.0/33'\n    condition: selection`)), /bad prefix length/);
});

test('fieldref compares two fields of the same event', () => {
  check(`    selection:\n        ParentImage|fieldref: Image\n    condition: selection`, [{ Image: 'C:\\a.exe', ParentImage: 'c:\\A.EXE' }], [{ Image: 'C:\\a.exe', ParentImage: 'C:\\b.exe' }, { ParentImage: 'x' }]);
  check(`    selection:\n        CommandLine|fieldref|contains: OriginalFileName\n    condition: selection`, [{ CommandLine: 'x CertReq.exe y', OriginalFileName: 'certreq.exe' }], [{ CommandLine: 'x', OriginalFileName: 'certreq.exe' }]);
});

test('expand takes placeholder values from the configuration, and rejects the rule without them', () => {
  const yaml = procRule(`    selection:\n        User|expand: '%admins%'\n    condition: selection`);
  const engine = engineFor(yaml, { placeholders: { admins: ['CORP\\adm-*', 'CORP\\root'] } });
  assert.equal(matches(engine, proc({ User: 'corp\\adm-alice' })), true);
  assert.equal(matches(engine, proc({ User: 'CORP\\root' })), true);
  assert.equal(matches(engine, proc({ User: 'CORP\\alice' })), false);
  assert.match(loadError(yaml), /placeholder %admins% has no configured values/);
});

test('time modifiers read a part of a timestamp field', () => {
  check(`    selection:\n        UtcTime|hour: 3\n    condition: selection`, [{ UtcTime: '2024-01-02 03:59:00.000' }], [{ UtcTime: '2024-01-02 04:00:00.000' }, { UtcTime: 'garbage' }]);
  check(`    selection:\n        UtcTime|month: 12\n        UtcTime|week: 1\n    condition: selection`, [{ UtcTime: '2024-12-31 10:00:00.000' }], [{ UtcTime: '2024-12-20 10:00:00.000' }]);
});

test('conditions: and/or/not, parentheses, 1 of / all of / any of with patterns and them, N of, lists', () => {
  const det = `    sel_a:\n        CommandLine|contains: aaa\n    sel_b:\n        CommandLine|contains: bbb\n    filter:\n        CommandLine|contains: zzz\n`;
  const cases: Array<[string, string[], string[]]> = [
    ['sel_a and not filter', ['aaa'], ['aaa zzz', 'bbb']],
    ['(sel_a or sel_b) and not filter', ['aaa', 'bbb'], ['bbb zzz', 'x']],
    ['1 of sel_* and not filter', ['bbb'], ['zzz aaa']],
    ['all of sel_*', ['aaa bbb'], ['aaa']],
    ['any of sel_*', ['aaa'], ['x']],
    ['all of them', ['aaa bbb zzz'], ['aaa bbb']],
    ['1 of them', ['zzz'], ['x']],
    ['2 of them', ['aaa zzz'], ['aaa']],
    ['not sel_a and not sel_b', ['x'], ['aaa']],
    ['sel_a or sel_b and filter', ['aaa', 'bbb zzz'], ['bbb']],
    ['not (sel_a or sel_b)', ['zzz'], ['aaa']],
  ];
  for (const [cond, yes, no] of cases)
    check(`${det}    condition: ${cond}`, yes.map((c) => ({ CommandLine: c })), no.map((c) => ({ CommandLine: c })));
  check(`${det}    condition:\n        - sel_a\n        - sel_b and filter`, [{ CommandLine: 'aaa' }, { CommandLine: 'bbb zzz' }], [{ CommandLine: 'bbb' }]);
});

test('lists of maps are OR; keyword searches look at every field', () => {
  check(
    `    selection:\n        - Image|endswith: '\\a.exe'\n        - OriginalFileName: a.exe\n    condition: selection`,
    [{ Image: 'C:\\a.exe' }, { OriginalFileName: 'A.EXE' }],
    [{ Image: 'C:\\b.exe', OriginalFileName: 'b.exe' }],
  );
  check(`    keywords:\n        - 'mimikatz'\n        - 'sekurlsa::'\n    condition: keywords`, [{ CommandLine: 'x Mimikatz.exe' }, { ParentCommandLine: 'sekurlsa::logonpasswords' }], [{ CommandLine: 'x' }]);
  check(`    keywords:\n        '|all':\n            - 'aaa'\n            - 'bbb'\n    condition: keywords`, [{ CommandLine: 'aaa', Image: 'bbb' }], [{ CommandLine: 'aaa' }]);
});

test('numbers, booleans and multi-valued fields', () => {
  const engine = engineFor(`title: T
id: t-num
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4624
        LogonType: [3, 10]
    condition: selection
`);
  assert.equal(matches(engine, security(4624, { LogonType: '10' })), true);
  assert.equal(matches(engine, security(4624, { LogonType: 3 })), true);
  assert.equal(matches(engine, security(4624, { LogonType: '2' })), false);
  assert.equal(matches(engine, security(4625, { LogonType: '3' })), false);
  const multi = engineFor(procRule(`    selection:\n        Data|contains: secret\n    condition: selection`));
  assert.equal(matches(multi, proc({ Data: ['a', 'b', 'top SECRET'] as unknown as string })), true);
  assert.equal(matches(multi, proc({ Data: ['a', 'b'] as unknown as string })), false);
});

test('load errors name the rule, the item and the line', () => {
  const reasons: Array<[string, RegExp]> = [
    [procRule(`    selection:\n        Image|contians: x\n    condition: selection`), /detection\.selection\.Image\|contians: unknown modifier 'contians' \(line 8\)/],
    [procRule(`    selection:\n        Image: x\n    condition: selection and filter`), /unknown search identifier 'filter'/],
    [procRule(`    selection:\n        Image: x\n    condition: selection | count() > 5`), /aggregation expressions/],
    [procRule(`    selection:\n        Image: x\n    condition: (selection`), /expected '\)'/],
    [procRule(`    selection:\n        Image|re: '(unclosed'\n    condition: selection`), /invalid regular expression/],
    [procRule(`    selection:\n        Image|base64: 'a*'\n    condition: selection`), /wildcards cannot be base64-encoded/],
    [procRule(`    selection:\n        Image|wide: 'a'\n    condition: selection`), /must be followed by base64/],
    [procRule(`    selection:\n        Image|gt: abc\n    condition: selection`), /expects a number/],
    [procRule(`    selection:\n        Image: x\n    condition: 1 of nothing_*`), /matches no search identifier/],
    ['title: x\nlogsource: {product: windows}\ndetection: {s: {a: b}, condition: s}\n', /missing 'id'/],
    ['title: x\nid: y\nlevel: severe\nlogsource: {product: windows}\ndetection: {s: {a: b}, condition: s}\n', /'level' must be one of/],
    ['title: x\nid: y\nid: z\n', /YAML error at line 3/],
  ];
  for (const [yaml, re] of reasons) assert.match(loadError(yaml), re);
});

test('unknown fields and unsupported log sources are reported per rule', () => {
  const unknown = engineFor(procRule(`    selection:\n        Imagee|endswith: x.exe\n    condition: selection`, 'typo-rule'));
  assert.equal(unknown.warnings.length, 1);
  assert.equal(unknown.warnings[0]!.ruleId, 'typo-rule');
  assert.match(unknown.warnings[0]!.message, /field 'Imagee' is unknown/);
  const linux = engineFor(`title: T\nid: lin\nlogsource: {product: linux, category: process_creation}\ndetection: {s: {Image: x}, condition: s}\n`);
  assert.match(linux.warnings[0]!.message, /unsupported log source: product 'linux'/);
  const weird = engineFor(`title: T\nid: w\nlogsource: {product: windows, category: quantum_event}\ndetection: {s: {Image: x}, condition: s}\n`);
  assert.match(weird.warnings[0]!.message, /category 'quantum_event'/);
});

test('hostile rule files are load errors, never crashes', () => {
  assert.match(loadError(procRule(`    selection:\n        Image: x\n    condition: ${'('.repeat(5000)}selection${')'.repeat(5000)}`)), /nested deeper than/);
  assert.match(loadError(procRule(`    selection: {}\n    condition: selection`)), /empty map/);
  assert.match(loadError(procRule(`    selection:\n        Image:\n            nested: map\n    condition: selection`)), /must be a string, number, boolean or null/);
  assert.match(loadError('\u0000\u0001binary\u0002: [\n'), /YAML error/);
});
