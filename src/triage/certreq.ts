/**
 * certreq intent: what a certreq command line does, read the way certreq reads it (CommandLineToArgvW
 * splitting, `-`/`/`/Unicode-dash switches in any case), so an analyst sees "POSTs C:\Users\bob\x.xlsx to
 * https://exfil.example/u" instead of a substring match.
 *
 * certreq's grammar (certreq /?, Microsoft docs): one verb (-submit is the default), options (some take a
 * value: -config, -attrib, -PolicyServer, -cert, ...), then positional files whose meaning depends on the verb.
 * `-Post` is undocumented in `certreq /?` but works: `certreq -Post -config URL file [responsefile]` POSTs the
 * file to the URL and writes the answer to responsefile (or the console).
 */
import { basename, splitCommandLineDetailed } from './argv.js';
import { classifyPath, SENSITIVE_FLAGS, type PathFlag } from './paths.js';
import { parseConfigTarget, type ConfigTarget } from './target.js';

export type CertreqVerb =
  | 'submit' | 'retrieve' | 'new' | 'accept' | 'policy' | 'sign' | 'enroll' | 'post' | 'enrollaik'
  | 'enrollcredguardcert' | 'help';

export type Obfuscation = 'unicode_dash' | 'compatibility_characters' | 'quote_insertion' | 'caret_escapes';

export interface FileFinding {
  path: string;
  role: string;
  flags: PathFlag[];
}

export interface CertreqIntent {
  verb: CertreqVerb;
  /** False when no verb switch was given (certreq then behaves as -submit). */
  verb_explicit: boolean;
  /** The raw -config value as certreq received it. */
  config?: string;
  target?: ConfigTarget;
  /** The URL when -config is one. */
  url?: string;
  /** The file sent to the server: for -Post, data leaving the host; for -submit, the request. */
  upload_file?: string;
  /** The file the server's answer is written to: for -Post, a download. */
  response_file?: string;
  request_id?: string;
  template?: string;
  /** Local inputs and outputs of the offline verbs (-new, -accept, -sign, -policy) and extra outputs. */
  input_files?: string[];
  output_files?: string[];
  /** Options other than -config, e.g. { q: true, machine: true, attrib: 'CertificateTemplate:WebServer' }. */
  options: Record<string, string | true>;
  /** Positional arguments beyond what the verb uses (prose pasted after a command, or a mistake). */
  extra_args?: string[];
  unknown_switches?: string[];
  /** Every file named, with its role and what it is. */
  files: FileFinding[];
  /** True when the upload file holds sensitive data (credential stores, hives, documents, ...). */
  sensitive_upload: boolean;
  /** True when any named file is on a UNC share. */
  remote_share: boolean;
  obfuscation?: Obfuscation[];
  /** The program that carried the certreq command when it was found inside another command line (cmd.exe /c ...). */
  invoked_via?: string;
  /** The command line was longer than the parser reads. */
  truncated?: boolean;
}

const VERBS: Record<string, CertreqVerb> = {
  submit: 'submit', retrieve: 'retrieve', new: 'new', accept: 'accept', policy: 'policy', sign: 'sign', enroll: 'enroll',
  post: 'post', enrollaik: 'enrollaik', enrollcredguardcert: 'enrollcredguardcert', '?': 'help',
};
/** Options followed by a value. */
const VALUE_OPTIONS = new Set(['config', 'attrib', 'policyserver', 'clientcertificate', 'username', 'p', 'cert']);
/** Known flag options (no value). */
const FLAG_OPTIONS = new Set([
  'binary', 'anonymous', 'kerberos', 'user', 'machine', 'crl', 'rpc', 'adminforcemachine', 'renewonbehalfof', 'f', 'q',
  'unicode', 'unicodetext', 'v', 'silent', 'idispatch', 'enablecepfallback', 'dumpproperties', 'msa', 'retrievepending',
]);

/** Characters that Windows tools commonly accept, or that copy-paste turns a '-' into. */
const DASHES = new Set(['-', '/', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212', '\ufe58', '\ufe63', '\uff0d']);

/** Positional roles per verb, in order. */
const ROLES: Record<CertreqVerb, readonly string[]> = {
  post: ['upload', 'response'],
  submit: ['upload', 'response', 'chain_out', 'full_response_out'],
  retrieve: ['request_id', 'response', 'chain_out', 'full_response_out'],
  new: ['input', 'output'],
  accept: ['input'],
  sign: ['input', 'output'],
  policy: ['input', 'input', 'output'],
  enroll: ['template', 'option'],
  enrollaik: ['template'],
  enrollcredguardcert: ['template'],
  help: [],
};

/** Is this program name certreq (any case, with or without .exe, compatibility characters folded)? */
export function isCertreqName(name: string): boolean {
  const n = basename(name.replace(/"/g, '')).normalize('NFKC').toLowerCase();
  return n === 'certreq' || n === 'certreq.exe';
}

/**
 * Parses a certreq command line (program name first). When the program is something else (cmd.exe /c certreq
 * ..., powershell -c "certreq ..."), looks for a certreq command inside it and marks `invoked_via`.
 * Returns undefined when no certreq command is found.
 */
export function parseCertreqCommandLine(commandLine: string): CertreqIntent | undefined {
  const split = splitCommandLineDetailed(commandLine);
  if (split.args.length === 0) return undefined;
  if (isCertreqName(split.args[0]!)) return parseCertreqArgs(split.args.slice(1), split.raw.slice(1), split.truncated);
  // A leading blank gives an empty program name (shell32 rule); the program is then the next word.
  if (split.args[0] === '' && split.args.length > 1 && isCertreqName(split.args[1]!)) return parseCertreqArgs(split.args.slice(2), split.raw.slice(2), split.truncated);
  return findEmbedded(commandLine, basename(split.args[0]!), 0);
}

/** Parses certreq's arguments (after the program name); `raw` are the same arguments as written. */
export function parseCertreqArgs(args: readonly string[], raw: readonly string[] = args, truncated = false): CertreqIntent {
  const intent: CertreqIntent = { verb: 'submit', verb_explicit: false, options: {}, files: [], sensitive_upload: false, remote_share: false };
  const obfuscation = new Set<Obfuscation>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const sw = readSwitch(arg, obfuscation);
    if (raw[i] !== undefined && raw[i] !== arg && hasInnerQuotes(raw[i]!)) obfuscation.add('quote_insertion');
    if (sw === undefined) {
      positionals.push(arg);
      continue;
    }
    const verb = VERBS[sw];
    if (verb && !intent.verb_explicit) {
      intent.verb = verb;
      intent.verb_explicit = true;
    } else if (VALUE_OPTIONS.has(sw)) {
      const value = i + 1 < args.length ? args[++i]! : '';
      if (sw === 'config') intent.config = value;
      else intent.options[sw] = sw === 'p' ? '********' : value; // never echo a password into alerts
    } else {
      intent.options[sw] = true;
      if (!FLAG_OPTIONS.has(sw) && !verb) (intent.unknown_switches ??= []).push(arg);
    }
  }
  if (intent.verb_explicit === false && intent.options['v'] === true && positionals.length === 0) intent.verb = 'submit';
  if (intent.config !== undefined) {
    intent.target = parseConfigTarget(intent.config);
    if (intent.target.kind === 'url') intent.url = intent.target.url;
  }
  assignPositionals(intent, positionals);
  if (obfuscation.size > 0) intent.obfuscation = [...obfuscation];
  if (truncated) intent.truncated = true;
  return intent;
}

/** Returns the lower-case switch name of `arg`, or undefined when it is not a switch. */
function readSwitch(arg: string, obfuscation: Set<Obfuscation>): string | undefined {
  if (arg.length < 2 || !DASHES.has(arg[0]!)) return undefined;
  if (arg[0] !== '-' && arg[0] !== '/') obfuscation.add('unicode_dash');
  const rest = arg.slice(1);
  if (rest.length > 64) return undefined; // no certreq switch is that long: a path or data, not a switch
  const folded = rest.normalize('NFKC');
  if (folded !== rest) obfuscation.add('compatibility_characters');
  return folded.toLowerCase();
}

/** `-P""ost`: quotes inside an argument rather than around it. */
function hasInnerQuotes(raw: string): boolean {
  const inner = raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1) : raw;
  return inner.includes('"');
}

function assignPositionals(intent: CertreqIntent, positionals: string[]): void {
  const roles = intent.verb === 'enroll' && intent.options['cert'] !== undefined ? ['option', 'option'] : ROLES[intent.verb];
  positionals.forEach((value, index) => {
    const role = roles[index];
    if (role === undefined) {
      (intent.extra_args ??= []).push(value);
      return;
    }
    switch (role) {
      case 'upload':
        intent.upload_file = value;
        break;
      case 'response':
        intent.response_file = value;
        break;
      case 'request_id':
        intent.request_id = value;
        return;
      case 'template':
        intent.template = value;
        return;
      case 'option':
        intent.options[value.toLowerCase()] = true;
        return;
      case 'input':
        (intent.input_files ??= []).push(value);
        break;
      default:
        (intent.output_files ??= []).push(value);
    }
    const flags = classifyPath(value);
    intent.files.push({ path: value, role, flags });
    if (flags.includes('remote_share')) intent.remote_share = true;
    if (role === 'upload' && flags.some((f) => SENSITIVE_FLAGS.has(f))) intent.sensitive_upload = true;
  });
}

/** Looks for `certreq ...` inside another program's command line (one level of quoting deep). */
function findEmbedded(commandLine: string, carrier: string, depth: number): CertreqIntent | undefined {
  const carrierName = carrier.toLowerCase();
  const isCmd = carrierName === 'cmd' || carrierName === 'cmd.exe';
  // cmd.exe removes ^ escapes before running the command; the child sees the clean line.
  const line = isCmd && commandLine.includes('^') ? commandLine.replace(/\^(.)/g, '$1') : commandLine;
  const split = splitCommandLineDetailed(line);
  for (let i = 1; i < split.args.length; i++) {
    const arg = split.args[i]!;
    if (isCertreqName(arg)) {
      const intent = parseCertreqArgs(split.args.slice(i + 1), split.raw.slice(i + 1), split.truncated);
      intent.invoked_via = carrier;
      if (line !== commandLine) (intent.obfuscation ??= []).push('caret_escapes');
      return intent;
    }
    if (depth === 0 && (arg.includes(' ') || arg.includes('\t'))) {
      const inner = splitCommandLineDetailed(arg);
      if (inner.args.length > 0 && isCertreqName(inner.args[0]!)) {
        const intent = parseCertreqArgs(inner.args.slice(1), inner.raw.slice(1), inner.truncated);
        intent.invoked_via = carrier;
        return intent;
      }
      const nested = findEmbedded(`x ${arg}`, carrier, depth + 1);
      if (nested) return nested;
    }
  }
  return undefined;
}
