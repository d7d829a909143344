/**
 * Log-source routing and the processing pipeline: categories and services reach only their events; Security
 * 4688 is read through the Sysmon field names (a pipeline step, not a special case in rules).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineFor, matches, procRule } from './support/rules.js';
import { security, security4688, sysmon, winEvent } from './support/events.js';

test('process_creation on 4688: Image, ParentImage, ProcessId (hex), ParentProcessId, User, IntegrityLevel, LogonId', () => {
  const engine = engineFor(
    procRule(`    selection:
        Image|endswith: '\\certreq.exe'
        ParentImage|endswith: '\\cmd.exe'
        ProcessId: 6700
        ParentProcessId|gt: 4000
        User: CORP\\alice
        IntegrityLevel: High
        CommandLine|contains: '-Post'
        LogonId: '0x3e7'
    condition: selection`),
  );
  const ev = security4688('C:\\Windows\\System32\\certreq.exe', 'certreq -Post');
  assert.equal(matches(engine, ev), true);
  // TargetUserName wins over SubjectUserName when set.
  const asBob = { ...ev, data: { ...ev.data, TargetUserName: 'bob', TargetDomainName: 'CORP' } };
  assert.equal(matches(engine, asBob), false);
  const other = { ...ev, data: { ...ev.data, NewProcessId: '0x1a2d' } };
  assert.equal(matches(engine, other), false);
  const medium = { ...ev, data: { ...ev.data, MandatoryLabel: 'S-1-16-8192' } };
  assert.equal(matches(engine, medium), false);
  const otherLogon = { ...ev, data: { ...ev.data, TargetLogonId: '0x5f3a1' } };
  assert.equal(matches(engine, otherLogon), false, 'TargetLogonId wins when set');
});

test('a rule on 4688 original names still works under service: security', () => {
  const engine = engineFor(`title: T
id: sec
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4688
        NewProcessName|endswith: '\\certreq.exe'
    condition: selection
`);
  assert.equal(matches(engine, security4688('C:\\Windows\\System32\\certreq.exe', 'x')), true);
  assert.equal(matches(engine, sysmon(1, { Image: 'C:\\Windows\\System32\\certreq.exe', NewProcessName: 'C:\\certreq.exe' })), false);
  const stats = engine.stats();
  assert.equal(stats.instances, 1);
});

test('categories reach only their Sysmon event ids; services only their channels', () => {
  const img = engineFor(`title: T
id: il
logsource: {product: windows, category: image_load}
detection: {s: {ImageLoaded|endswith: '\\dbghelp.dll'}, condition: s}
`);
  assert.equal(matches(img, sysmon(7, { ImageLoaded: 'C:\\x\\dbghelp.dll' })), true);
  assert.equal(matches(img, sysmon(1, { ImageLoaded: 'C:\\x\\dbghelp.dll' })), false);
  const reg = engineFor(`title: T
id: reg
logsource: {product: windows, category: registry_event}
detection: {s: {TargetObject|contains: '\\Run\\'}, condition: s}
`);
  for (const id of [12, 13, 14]) assert.equal(matches(reg, sysmon(id, { TargetObject: 'HKLM\\Software\\Run\\x' })), true, `EID ${id}`);
  assert.equal(matches(reg, sysmon(11, { TargetObject: 'HKLM\\Software\\Run\\x' })), false);
  const ps = engineFor(`title: T
id: ps
logsource: {product: windows, category: ps_script}
detection: {s: {ScriptBlockText|contains: 'Invoke-Mimikatz'}, condition: s}
`);
  assert.equal(matches(ps, winEvent('Microsoft-Windows-PowerShell', 'Microsoft-Windows-PowerShell/Operational', 4104, { ScriptBlockText: 'invoke-mimikatz' })), true);
  assert.equal(matches(ps, winEvent('Microsoft-Windows-PowerShell', 'Microsoft-Windows-PowerShell/Operational', 4103, { ScriptBlockText: 'invoke-mimikatz' })), false);
  const sys = engineFor(`title: T
id: svc
logsource: {product: windows, service: system}
detection: {s: {EventID: 7045, ImagePath|contains: 'psexesvc'}, condition: s}
`);
  assert.equal(matches(sys, winEvent('Service Control Manager', 'System', 7045, { ImagePath: 'C:\\Windows\\PSEXESVC.exe' })), true);
  assert.equal(matches(sys, winEvent('Service Control Manager', 'Application', 7045, { ImagePath: 'C:\\Windows\\PSEXESVC.exe' })), false);
  assert.equal(matches(sys, winEvent('Service Control Manager', 'System', 7036, { ImagePath: 'C:\\Windows\\PSEXESVC.exe' })), false);
});

test('System fields are addressable by their Sigma names', () => {
  const engine = engineFor(`title: T
id: sysf
logsource: {product: windows}
detection:
    s:
        Provider_Name: Microsoft-Windows-Sysmon
        Channel: Microsoft-Windows-Sysmon/Operational
        Computer|startswith: WS01
        EventRecordID|gt: 0
    condition: s
`);
  assert.equal(matches(engine, sysmon(3, {})), true);
  assert.equal(matches(engine, security(4624, {})), false);
});

test('Windows Defender names with spaces answer to their Sigma spelling', () => {
  const engine = engineFor(`title: T
id: def
logsource: {product: windows, service: windefend}
detection: {s: {EventID: 1116, ThreatName|contains: 'Mimikatz'}, condition: s}
`);
  const ev = winEvent('Microsoft-Windows-Windows Defender', 'Microsoft-Windows-Windows Defender/Operational', 1116, { 'Threat Name': 'HackTool:Win32/Mimikatz' });
  assert.equal(matches(engine, ev), true);
});

test('prefilter literals: sound sets, or null when a rule needs none', () => {
  const anchored = engineFor(procRule(`    a:\n        CommandLine|contains: ['mimikatz', 'sekurlsa']\n    b:\n        Image|endswith: '\\procdump.exe'\n        CommandLine|contains: ' -ma '\n    condition: a or b`));
  assert.deepEqual(anchored.prefilterLiterals(), ['\\procdump.exe', 'mimikatz', 'sekurlsa']);
  const negated = engineFor(procRule(`    a:\n        CommandLine|contains: mimikatz\n    condition: not a`));
  assert.equal(negated.prefilterLiterals(), null);
  const numeric = engineFor(procRule(`    a:\n        ProcessId: 4\n    condition: a`));
  assert.equal(numeric.prefilterLiterals(), null, 'numbers are binary in EVTX');
  const hexish = engineFor(procRule(`    a:\n        LogonId|contains: '0x3e7'\n    condition: a`));
  assert.equal(hexish.prefilterLiterals(), null, 'hex-looking text may be a binary value');
  const mapped = engineFor(procRule(`    a:\n        User|contains: 'NT AUTHORITY\\SYSTEM'\n    condition: a`));
  assert.equal(mapped.prefilterLiterals(), null, 'User is composed on 4688, not verbatim');
});
