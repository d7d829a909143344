/**
 * What a file path in a command line tells an analyst: is it sensitive data (credential stores, hives, user
 * documents), a remote share, a staging location, an executable download? Plain string tests on a bounded,
 * lower-cased copy — no regular expressions over attacker-controlled text.
 */

export type PathFlag =
  | 'windows_ini' // win.ini / system.ini: the harmless body LOLBAS uses to make certreq -Post work
  | 'registry_hive'
  | 'ad_database'
  | 'password_database'
  | 'memory_dump'
  | 'private_key'
  | 'credential_store'
  | 'browser_data'
  | 'user_documents'
  | 'user_profile'
  | 'system_config'
  | 'remote_share'
  | 'alternate_data_stream'
  | 'staging_directory'
  | 'executable_content'
  | 'unexpanded_variable';

/** Flags that mean "this file holds data worth stealing" (an upload of it is exfiltration of something real). */
export const SENSITIVE_FLAGS: ReadonlySet<PathFlag> = new Set<PathFlag>([
  'registry_hive', 'ad_database', 'password_database', 'memory_dump', 'private_key', 'credential_store',
  'browser_data', 'user_documents', 'system_config',
]);

const MAX_PATH_CHARS = 2048;

const HIVE_NAMES = new Set(['sam', 'system', 'security', 'software', 'ntuser.dat', 'usrclass.dat', 'sam.save', 'system.save', 'security.save', 'sam.hiv', 'system.hiv', 'security.hiv']);
const KEY_EXTENSIONS = ['.pfx', '.p12', '.pem', '.key', '.ppk', '.jks', '.keystore'];
const DUMP_EXTENSIONS = ['.dmp', '.mdmp'];
const EXECUTABLE_EXTENSIONS = ['.exe', '.dll', '.scr', '.ps1', '.psm1', '.bat', '.cmd', '.vbs', '.vbe', '.js', '.jse', '.hta', '.wsf', '.lnk', '.msi', '.sys', '.cpl', '.b64'];
const DOCUMENT_DIRS = ['\\documents\\', '\\desktop\\', '\\downloads\\', '\\onedrive', '\\pictures\\'];
const STAGING_DIRS = ['\\users\\public\\', '\\programdata\\', '\\appdata\\local\\temp\\', '\\windows\\temp\\', '%temp%', '$env:temp', '%appdata%', '%localappdata%', '\\perflogs\\'];

/** Classifies one path as written in a command line. Returns the flags in a stable order (may be empty). */
export function classifyPath(path: string): PathFlag[] {
  const p = normalise(path);
  const name = p.slice(p.lastIndexOf('\\') + 1);
  const flags = new Set<PathFlag>();
  if (name === 'win.ini' || name === 'system.ini') flags.add('windows_ini');
  // A bare 'system' or 'sam' is a hive only inside a config directory; saved copies (sam.save) anywhere.
  if (HIVE_NAMES.has(name) && (name.includes('.') || p.includes('\\config\\'))) flags.add('registry_hive');
  if (name === 'ntds.dit' || name.endsWith('.dit')) flags.add('ad_database');
  if (name.endsWith('.kdbx') || name.endsWith('.kdb') || name.endsWith('.psafe3') || name.endsWith('.1pif')) flags.add('password_database');
  if (DUMP_EXTENSIONS.some((e) => name.endsWith(e)) || name.includes('lsass')) flags.add('memory_dump');
  if (KEY_EXTENSIONS.some((e) => name.endsWith(e)) || name === 'id_rsa' || name === 'id_ed25519' || name === 'id_ecdsa' || p.includes('\\.ssh\\')) flags.add('private_key');
  if (p.includes('\\microsoft\\credentials\\') || p.includes('\\microsoft\\protect\\') || p.includes('\\microsoft\\vault\\')) flags.add('credential_store');
  if (name === 'login data' || name === 'cookies' || name === 'web data' || name === 'key4.db' || name === 'logins.json' || name === 'local state') flags.add('browser_data');
  if (DOCUMENT_DIRS.some((d) => p.includes(d)) && p.includes('\\users\\')) flags.add('user_documents');
  else if (p.includes('\\users\\') && !p.includes('\\users\\public\\') && !p.includes('\\appdata\\local\\temp\\')) flags.add('user_profile');
  if (p.endsWith('\\unattend.xml') || p.endsWith('\\sysprep.xml') || name === 'groups.xml' || name === 'web.config') flags.add('system_config');
  if (p.startsWith('\\\\') && !p.startsWith('\\\\?\\') && !p.startsWith('\\\\.\\')) flags.add('remote_share');
  if (hasStreamSuffix(p)) flags.add('alternate_data_stream');
  if (STAGING_DIRS.some((d) => p.includes(d))) flags.add('staging_directory');
  if (EXECUTABLE_EXTENSIONS.some((e) => name.endsWith(e))) flags.add('executable_content');
  if (p.includes('%') || p.includes('$env:')) flags.add('unexpanded_variable');
  return [...flags];
}

/** Human label of a flag, for reasons. */
export function describeFlag(flag: PathFlag): string {
  return FLAG_LABEL[flag];
}

const FLAG_LABEL: Record<PathFlag, string> = {
  windows_ini: 'win.ini dummy body',
  registry_hive: 'registry hive',
  ad_database: 'AD database',
  password_database: 'password database',
  memory_dump: 'memory dump',
  private_key: 'private key',
  credential_store: 'credential store',
  browser_data: 'browser credential data',
  user_documents: 'user document',
  user_profile: 'user profile file',
  system_config: 'system configuration',
  remote_share: 'remote share',
  alternate_data_stream: 'alternate data stream',
  staging_directory: 'staging directory',
  executable_content: 'executable/script',
  unexpanded_variable: 'environment variable',
};

function normalise(path: string): string {
  const bounded = path.length > MAX_PATH_CHARS ? path.slice(0, MAX_PATH_CHARS) : path;
  const p = bounded.replace(/\//g, '\\').toLowerCase();
  // The profile directory under its variable names is still a user's profile.
  for (const v of ['%userprofile%', '$env:userprofile', '%homepath%', '~']) {
    if (p.startsWith(`${v}\\`)) return `c:\\users\\%user%${p.slice(v.length)}`;
  }
  return p;
}

/** 'C:\\x\\a.txt:stream' — a colon after the drive letter's. */
function hasStreamSuffix(p: string): boolean {
  const from = /^[a-z]:/.test(p) ? 2 : 0;
  const colon = p.indexOf(':', from);
  return colon !== -1 && !p.startsWith('\\\\?\\') && p.slice(colon + 1).length > 0 && !p.slice(colon + 1).includes('\\');
}
