/** Which events are process events, and how Sysmon and Security fields map onto the process view. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldValue, WinEvent } from '../../src/model/event.js';
import { toProcessEvent, parseHashes, integrityFromSid, elevation } from '../../src/model/toProcess.js';

function event(provider: string, eventId: number, data: Record<string, FieldValue>): WinEvent {
  return {
    system: { provider, eventId, timeCreated: '2024-05-01T10:15:30.1234567Z', channel: 'c', computer: 'WS1', recordId: 7 },
    data,
    origin: { file: 't' },
  };
}
const SYSMON = 'Microsoft-Windows-Sysmon';
const SECURITY = 'Microsoft-Windows-Security-Auditing';

test('only Sysmon 1/5 and Security 4688/4689 are process events', () => {
  const certreq = { Image: 'C:\\Windows\\System32\\certreq.exe', OriginalFileName: 'CertReq.exe', CommandLine: 'certreq -Post' };
  assert.equal(toProcessEvent(event(SYSMON, 1, certreq))?.kind, 'start');
  assert.equal(toProcessEvent(event(SYSMON, 5, certreq))?.kind, 'end');
  assert.equal(toProcessEvent(event(SECURITY, 4688, {}))?.kind, 'start');
  assert.equal(toProcessEvent(event(SECURITY, 4689, {}))?.kind, 'end');
  // Image load carries OriginalFileName too; EventID 1 belongs to many providers; Sysmon 3 is a network event.
  assert.equal(toProcessEvent(event(SYSMON, 7, { ...certreq, ImageLoaded: 'C:\\x.dll' })), undefined);
  assert.equal(toProcessEvent(event('Microsoft-Windows-Kernel-General', 1, certreq)), undefined);
  assert.equal(toProcessEvent(event('Microsoft-Windows-Sysmon-Other', 1, certreq)), undefined);
  assert.equal(toProcessEvent(event(SYSMON, 3, certreq)), undefined);
  assert.equal(toProcessEvent(event(SECURITY, 4624, {})), undefined);
  assert.equal(toProcessEvent(event(SYSMON, 4688, {})), undefined);
});

test('Sysmon 1: GUIDs without braces in lower case, hashes split, users split, "-" means absent', () => {
  const pe = toProcessEvent(
    event(SYSMON, 1, {
      ProcessGuid: '{ABCDEF01-1111-2222-3333-444455556666}', ProcessId: '6120', Image: 'C:\\Users\\Public\\cr.exe', OriginalFileName: 'CertReq.exe',
      CommandLine: 'cr.exe -Post', CurrentDirectory: 'C:\\Users\\Public\\', User: 'NT AUTHORITY\\SYSTEM', IntegrityLevel: 'System',
      Hashes: 'SHA1=AA,MD5=BB,SHA256=CC,IMPHASH=DD', ParentProcessGuid: '-', ParentProcessId: '5004', ParentImage: '-', ParentCommandLine: '',
      ParentUser: 'CORP\\bob', Company: '-',
    }),
  )!;
  assert.deepEqual(pe.process, {
    pid: 6120, entity_id: 'abcdef01-1111-2222-3333-444455556666', executable: 'C:\\Users\\Public\\cr.exe', name: 'cr.exe', command_line: 'cr.exe -Post',
    user: { domain: 'NT AUTHORITY', name: 'SYSTEM' }, pe: { original_file_name: 'CertReq.exe' }, hash: { sha1: 'aa', md5: 'bb', sha256: 'cc', imphash: 'dd' },
    working_directory: 'C:\\Users\\Public\\', integrity: 'System', parent: { pid: 5004, user: { domain: 'CORP', name: 'bob' } },
  });
  assert.deepEqual(pe.user, { domain: 'NT AUTHORITY', name: 'SYSTEM' });
  assert.deepEqual(pe.source, { provider: SYSMON, channel: 'c', event_id: 1, record_id: 7 });
  assert.equal(pe.timestamp, '2024-05-01T10:15:30.1234567Z');
});

test('4688: hex PIDs, elevation codes, mandatory label SIDs, Target user with fallback to Subject, no OriginalFileName', () => {
  const base = {
    SubjectUserSid: 'S-1-5-21-1-2-3-1104', SubjectUserName: 'alice', SubjectDomainName: 'CORP', NewProcessId: '0x1a2c', NewProcessName: 'C:\\Windows\\System32\\certreq.exe',
    TokenElevationType: '%%1937', ProcessId: '0X138C', CommandLine: 'certreq -Post', TargetUserSid: 'S-1-0-0', TargetUserName: '-', TargetDomainName: '-',
    ParentProcessName: 'C:\\Windows\\System32\\cmd.exe', MandatoryLabel: 'S-1-16-12288',
  };
  const pe = toProcessEvent(event(SECURITY, 4688, base))!;
  assert.equal(pe.process.pid, 0x1a2c);
  assert.equal(pe.process.parent?.pid, 0x138c);
  assert.equal(pe.process.parent?.name, 'cmd.exe');
  assert.equal(pe.process.elevation, 'full');
  assert.equal(pe.process.integrity, 'High');
  assert.equal(pe.process.pe, undefined);
  assert.deepEqual(pe.user, { name: 'alice', domain: 'CORP', id: 'S-1-5-21-1-2-3-1104' });
  const runas = toProcessEvent(event(SECURITY, 4688, { ...base, TargetUserName: 'svc', TargetDomainName: 'CORP', TargetUserSid: 'S-1-5-21-9' }))!;
  assert.deepEqual(runas.user, { name: 'svc', domain: 'CORP', id: 'S-1-5-21-9' });
  assert.deepEqual(runas.process.parent?.user, { name: 'alice', domain: 'CORP', id: 'S-1-5-21-1-2-3-1104' });
  // Windows 7-era 4688 (version 0): no Target*, no parent name, no label.
  const old = toProcessEvent(event(SECURITY, 4688, { SubjectUserName: 'bob', SubjectDomainName: 'CORP', NewProcessId: '0x10', NewProcessName: 'C:\\a.exe', TokenElevationType: '%%1936', ProcessId: '0x4' }))!;
  assert.deepEqual(old.user, { name: 'bob', domain: 'CORP' });
  assert.equal(old.process.elevation, 'default');
  assert.equal(old.process.integrity, undefined);
});

test('4689: ProcessId/ProcessName and Status as exit code', () => {
  const pe = toProcessEvent(event(SECURITY, 4689, { SubjectUserName: 'alice', SubjectDomainName: 'CORP', Status: '0xc0000005', ProcessId: '0x17e8', ProcessName: 'C:\\x\\certreq.exe' }))!;
  assert.equal(pe.kind, 'end');
  assert.equal(pe.process.pid, 0x17e8);
  assert.equal(pe.process.name, 'certreq.exe');
  assert.equal(pe.process.exit_code, 0xc0000005);
  assert.deepEqual(pe.user, { name: 'alice', domain: 'CORP' });
});

test('value helpers', () => {
  assert.deepEqual(parseHashes('SHA256=AB12,MD5=CD'), { sha256: 'ab12', md5: 'cd' });
  assert.equal(parseHashes('SHA1=...'), undefined);
  assert.deepEqual(
    ['S-1-16-0', 'S-1-16-4096', 'S-1-16-8192', 'S-1-16-8448', 'S-1-16-12288', 'S-1-16-16384', 'S-1-16-20480', 'S-1-5-18'].map(integrityFromSid),
    ['Untrusted', 'Low', 'Medium', 'MediumPlus', 'High', 'System', 'ProtectedProcess', undefined],
  );
  assert.deepEqual(['%%1936', '%%1937', '%%1938', 'TokenElevationTypeLimited (3)', '%%9999'].map(elevation), ['default', 'full', 'limited', 'limited', undefined]);
});
