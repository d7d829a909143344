/**
 * The Windows processing pipeline (pySigma-style): which events a Sigma log source means, and how Sigma's
 * field names map onto each of them. Kept apart from the rules and from the engine: the 4688 field mapping is
 * data here, not an `if (eventId === 4688)` in a matcher.
 */
import type { LogSource } from './model.js';
import { SECURITY_PROVIDER, SYSMON_PROVIDER } from '../model/event.js';

/** How a Sigma field is read from an event on one route. */
export type FieldSource =
  /** Another EventData field, as is. */
  | { from: string }
  /** A numeric field written in hex (4688 `0x1a2c`) read as its decimal number. */
  | { from: string; transform: 'hex-number' }
  /** A MandatoryLabel SID (S-1-16-12288) read as Sysmon's IntegrityLevel name (High). */
  | { from: string; transform: 'integrity-level' }
  /** `DOMAIN\user` from the first pair whose user is set (Sysmon's User rendering). */
  | { userFrom: Array<{ domain: string; user: string }> }
  /** The first of these fields that is set (not empty, `-` or a zero id). */
  | { firstOf: string[] };

/** One kind of event a log source covers. Provider/channel compare case-insensitively. */
export interface Route {
  /** Human name for warnings, e.g. 'Sysmon EID 1'. */
  name: string;
  provider?: string;
  channel?: string;
  /** Undefined: every event id of that provider/channel. */
  eventIds?: number[];
  /** Sigma field → how to read it here; fields not listed are read under their own name. */
  fields?: Record<string, FieldSource>;
  /** Every field this event can carry (for unknown-field warnings); undefined when the schema is open. */
  knownFields?: readonly string[];
}

export interface Resolution {
  routes: Route[];
  /** Set when the log source is not supported: the rule never runs, and this says why. */
  unsupported?: string;
}

// ---- Sysmon schema --------------------------------------------------------------------------------------

const SYSMON_COMMON = ['RuleName', 'UtcTime', 'ProcessGuid', 'ProcessId', 'Image', 'User'];
const PE = ['FileVersion', 'Description', 'Product', 'Company', 'OriginalFileName'];
const SYSMON_FIELDS: Record<number, string[]> = {
  1: [...PE, 'CommandLine', 'CurrentDirectory', 'LogonGuid', 'LogonId', 'TerminalSessionId', 'IntegrityLevel', 'Hashes',
    'ParentProcessGuid', 'ParentProcessId', 'ParentImage', 'ParentCommandLine', 'ParentUser'],
  2: ['TargetFilename', 'CreationUtcTime', 'PreviousCreationUtcTime'],
  3: ['Protocol', 'Initiated', 'SourceIsIpv6', 'SourceIp', 'SourceHostname', 'SourcePort', 'SourcePortName', 'DestinationIsIpv6',
    'DestinationIp', 'DestinationHostname', 'DestinationPort', 'DestinationPortName'],
  4: ['State', 'Version', 'SchemaVersion'],
  5: [],
  6: ['ImageLoaded', 'Hashes', 'Signed', 'Signature', 'SignatureStatus'],
  7: ['ImageLoaded', ...PE, 'Hashes', 'Signed', 'Signature', 'SignatureStatus'],
  8: ['SourceProcessGuid', 'SourceProcessId', 'SourceImage', 'TargetProcessGuid', 'TargetProcessId', 'TargetImage', 'NewThreadId',
    'StartAddress', 'StartModule', 'StartFunction', 'SourceUser', 'TargetUser'],
  9: ['Device'],
  10: ['SourceProcessGUID', 'SourceProcessId', 'SourceThreadId', 'SourceImage', 'TargetProcessGUID', 'TargetProcessId', 'TargetImage',
    'GrantedAccess', 'CallTrace', 'SourceUser', 'TargetUser'],
  11: ['TargetFilename', 'CreationUtcTime'],
  12: ['EventType', 'TargetObject'],
  13: ['EventType', 'TargetObject', 'Details'],
  14: ['EventType', 'TargetObject', 'NewName'],
  15: ['TargetFilename', 'CreationUtcTime', 'Hash', 'Contents'],
  16: ['Configuration', 'ConfigurationFileHash'],
  17: ['EventType', 'PipeName'],
  18: ['EventType', 'PipeName'],
  19: ['EventType', 'Operation', 'EventNamespace', 'Name', 'Query'],
  20: ['EventType', 'Operation', 'Name', 'Type', 'Destination'],
  21: ['EventType', 'Operation', 'Consumer', 'Filter'],
  22: ['QueryName', 'QueryStatus', 'QueryResults'],
  23: ['TargetFilename', 'Hashes', 'IsExecutable', 'Archived'],
  24: ['Session', 'ClientInfo', 'Hashes', 'Archived'],
  25: ['Type'],
  26: ['TargetFilename', 'Hashes', 'IsExecutable'],
  27: ['TargetFilename', 'Hashes'],
  28: ['TargetFilename', 'Hashes', 'IsExecutable'],
  29: ['TargetFilename', 'Hashes'],
  255: ['ID', 'Description'],
};

function sysmon(name: string, eventIds: number[]): Route {
  const fields = new Set<string>(SYSMON_COMMON);
  for (const id of eventIds) for (const f of SYSMON_FIELDS[id] ?? []) fields.add(f);
  return { name: `Sysmon ${name} (EID ${eventIds.join('/')})`, provider: SYSMON_PROVIDER, eventIds, knownFields: [...fields] };
}

// ---- Security 4688 as process_creation -----------------------------------------------------------------

const SECURITY_4688_FIELDS = ['SubjectUserSid', 'SubjectUserName', 'SubjectDomainName', 'SubjectLogonId', 'NewProcessId', 'NewProcessName',
  'TokenElevationType', 'ProcessId', 'CommandLine', 'TargetUserSid', 'TargetUserName', 'TargetDomainName', 'TargetLogonId',
  'ParentProcessName', 'MandatoryLabel'];

/** Sysmon EID 1 names on a Security 4688 event. OriginalFileName, Hashes, ParentCommandLine... have no source. */
export const SECURITY_4688_MAPPING: Record<string, FieldSource> = {
  Image: { from: 'NewProcessName' },
  ParentImage: { from: 'ParentProcessName' },
  ProcessId: { from: 'NewProcessId', transform: 'hex-number' },
  ParentProcessId: { from: 'ProcessId', transform: 'hex-number' },
  // 4688's TargetUser* (Windows 10+) is the new process's account; older systems only log the creator.
  User: { userFrom: [{ domain: 'TargetDomainName', user: 'TargetUserName' }, { domain: 'SubjectDomainName', user: 'SubjectUserName' }] },
  IntegrityLevel: { from: 'MandatoryLabel', transform: 'integrity-level' },
  // The new process's logon session: TargetLogonId where Windows logs it (runas, ...), else the creator's.
  LogonId: { firstOf: ['TargetLogonId', 'SubjectLogonId'] },
  SubjectLogonId: { from: 'SubjectLogonId' },
};

const SECURITY_PROCESS_CREATION: Route = {
  name: 'Security 4688',
  provider: SECURITY_PROVIDER,
  eventIds: [4688],
  fields: SECURITY_4688_MAPPING,
  knownFields: [...SECURITY_4688_FIELDS, ...Object.keys(SECURITY_4688_MAPPING)],
};

// ---- categories and services ---------------------------------------------------------------------------

const CHANNEL = {
  powershell: ['Microsoft-Windows-PowerShell/Operational', 'PowerShellCore/Operational'],
  powershellClassic: ['Windows PowerShell'],
};

function channels(name: string, list: string[], eventIds?: number[]): Route[] {
  return list.map((channel) => ({ name: `${name} (${channel}${eventIds ? ` EID ${eventIds.join('/')}` : ''})`, channel, ...(eventIds ? { eventIds } : {}) }));
}

/** Sigma `category` (with product windows) → routes. */
const CATEGORIES: Record<string, () => Route[]> = {
  process_creation: () => [sysmon('process creation', [1]), SECURITY_PROCESS_CREATION],
  file_change: () => [sysmon('file creation time changed', [2])],
  network_connection: () => [sysmon('network connection', [3])],
  sysmon_status: () => [sysmon('service state / config', [4, 16])],
  process_termination: () => [sysmon('process terminated', [5])],
  driver_load: () => [sysmon('driver loaded', [6])],
  image_load: () => [sysmon('image loaded', [7])],
  create_remote_thread: () => [sysmon('CreateRemoteThread', [8])],
  raw_access_thread: () => [sysmon('RawAccessRead', [9])],
  process_access: () => [sysmon('process access', [10])],
  file_event: () => [sysmon('file created', [11])],
  registry_add: () => [sysmon('registry object added/deleted', [12])],
  registry_delete: () => [sysmon('registry object added/deleted', [12])],
  registry_set: () => [sysmon('registry value set', [13])],
  registry_rename: () => [sysmon('registry object renamed', [14])],
  registry_event: () => [sysmon('registry event', [12, 13, 14])],
  create_stream_hash: () => [sysmon('file stream created', [15])],
  pipe_created: () => [sysmon('pipe created/connected', [17, 18])],
  wmi_event: () => [sysmon('WMI event', [19, 20, 21])],
  dns_query: () => [sysmon('DNS query', [22])],
  file_delete: () => [sysmon('file delete', [23, 26])],
  clipboard_capture: () => [sysmon('clipboard change', [24])],
  process_tampering: () => [sysmon('process tampering', [25])],
  file_block_executable: () => [sysmon('file block executable', [27])],
  file_block_shredding: () => [sysmon('file block shredding', [28])],
  file_executable_detected: () => [sysmon('file executable detected', [29])],
  sysmon_error: () => [sysmon('error', [255])],
  ps_module: () => channels('PowerShell module logging', CHANNEL.powershell, [4103]),
  ps_script: () => channels('PowerShell script block logging', CHANNEL.powershell, [4104]),
  ps_classic_start: () => channels('PowerShell engine start', CHANNEL.powershellClassic, [400]),
  ps_classic_provider_start: () => channels('PowerShell provider start', CHANNEL.powershellClassic, [600]),
  ps_classic_script: () => channels('PowerShell pipeline execution', CHANNEL.powershellClassic, [800]),
  // Kernel-File ETW (Sysmon does not log file reads/renames); events from that provider, whatever their id.
  file_access: () => [{ name: 'Kernel-File ETW', provider: 'Microsoft-Windows-Kernel-File' }],
  file_rename: () => [{ name: 'Kernel-File ETW', provider: 'Microsoft-Windows-Kernel-File' }],
};

/** Sigma `service` (with product windows) → event log channels. */
const SERVICES: Record<string, string[]> = {
  security: ['Security'],
  system: ['System'],
  application: ['Application'],
  sysmon: ['Microsoft-Windows-Sysmon/Operational'],
  powershell: CHANNEL.powershell,
  'powershell-classic': CHANNEL.powershellClassic,
  taskscheduler: ['Microsoft-Windows-TaskScheduler/Operational'],
  wmi: ['Microsoft-Windows-WMI-Activity/Operational'],
  'dns-server': ['DNS Server'],
  'dns-server-audit': ['Microsoft-Windows-DNS-Server/Audit'],
  'dns-server-analytic': ['Microsoft-Windows-DNS-Server/Analytical'],
  'driver-framework': ['Microsoft-Windows-DriverFrameworks-UserMode/Operational'],
  ntlm: ['Microsoft-Windows-NTLM/Operational'],
  dhcp: ['Microsoft-Windows-DHCP-Server/Operational'],
  'msexchange-management': ['MSExchange Management'],
  applocker: [
    'Microsoft-Windows-AppLocker/MSI and Script',
    'Microsoft-Windows-AppLocker/EXE and DLL',
    'Microsoft-Windows-AppLocker/Packaged app-Deployment',
    'Microsoft-Windows-AppLocker/Packaged app-Execution',
  ],
  'printservice-admin': ['Microsoft-Windows-PrintService/Admin'],
  'printservice-operational': ['Microsoft-Windows-PrintService/Operational'],
  'codeintegrity-operational': ['Microsoft-Windows-CodeIntegrity/Operational'],
  'smbclient-security': ['Microsoft-Windows-SmbClient/Security'],
  'smbclient-connectivity': ['Microsoft-Windows-SmbClient/Connectivity'],
  'smbserver-connectivity': ['Microsoft-Windows-SMBServer/Connectivity'],
  'firewall-as': ['Microsoft-Windows-Windows Firewall With Advanced Security/Firewall'],
  'bits-client': ['Microsoft-Windows-Bits-Client/Operational'],
  windefend: ['Microsoft-Windows-Windows Defender/Operational'],
  'terminalservices-localsessionmanager': ['Microsoft-Windows-TerminalServices-LocalSessionManager/Operational'],
  'microsoft-servicebus-client': ['Microsoft-ServiceBus-Client'],
  'dns-client': ['Microsoft-Windows-DNS Client Events/Operational'],
  'security-mitigations': ['Microsoft-Windows-Security-Mitigations/Kernel Mode', 'Microsoft-Windows-Security-Mitigations/User Mode'],
  'appxdeployment-server': ['Microsoft-Windows-AppXDeploymentServer/Operational'],
  'appxpackaging-om': ['Microsoft-Windows-AppxPackaging/Operational'],
  'appmodel-runtime': ['Microsoft-Windows-AppModel-Runtime/Admin'],
  'iis-configuration': ['Microsoft-IIS-Configuration/Operational'],
  openssh: ['OpenSSH/Operational'],
  'lsa-server': ['Microsoft-Windows-LSA/Operational'],
  ldap: ['Microsoft-Windows-LDAP-Client/Debug'],
  ldap_debug: ['Microsoft-Windows-LDAP-Client/Debug'],
  'shell-core': ['Microsoft-Windows-Shell-Core/Operational'],
  'diagnosis-scripted': ['Microsoft-Windows-Diagnosis-Scripted/Operational'],
  capi2: ['Microsoft-Windows-CAPI2/Operational'],
  'certificateservicesclient-lifecycle-system': ['Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational'],
  'certificateservices-deployment': ['Microsoft-Windows-CertificateServices-Deployment/Operational'],
  'kernel-shimengine': ['Microsoft-Windows-Kernel-ShimEngine/Operational'],
  'hyper-v-worker': ['Microsoft-Windows-Hyper-V-Worker-Admin'],
  'vhdmp': ['Microsoft-Windows-VHDMP-Operational'],
  'openssh-server': ['OpenSSH/Operational'],
  'bitlocker': ['Microsoft-Windows-BitLocker/BitLocker Management'],
};

/** The routes a log source covers, or why it is unsupported. */
export function resolveLogSource(ls: LogSource): Resolution {
  const product = ls.product?.toLowerCase();
  if (product !== undefined && product !== 'windows') return { routes: [], unsupported: `product '${ls.product}' is not Windows` };
  const category = ls.category?.toLowerCase();
  const service = ls.service?.toLowerCase();
  if (category !== undefined) {
    const routes = CATEGORIES[category];
    if (!routes) return { routes: [], unsupported: `category '${ls.category}' has no Windows event mapping` };
    return { routes: routes() };
  }
  if (service !== undefined) {
    const list = SERVICES[service];
    if (!list) return { routes: [], unsupported: `service '${ls.service}' has no Windows channel mapping` };
    return { routes: channels(`service ${service}`, list) };
  }
  if (product === 'windows') return { routes: [{ name: 'any Windows event' }] };
  return { routes: [], unsupported: 'log source names no product, category or service' };
}

export const SUPPORTED_CATEGORIES = Object.keys(CATEGORIES);
export const SUPPORTED_SERVICES = Object.keys(SERVICES);
