/**
 * The certreq grade: severity and a one-line reason for a certreq alert, from what its event shows. This never
 * changes which events fire: the rule decided that; triage only grades it (docs/user/triage.md's severity table).
 * Which alerts get it is the certreq enricher's business (src/enrich/certreq.ts), not this module's.
 */
import type { Severity } from '../model/alert.js';
import { SEVERITIES } from '../model/alert.js';
import { basename, splitCommandLineDetailed } from './argv.js';
import { isCertreqName, parseCertreqArgs, parseCertreqCommandLine, type CertreqIntent } from './certreq.js';
import { describeFlag, SENSITIVE_FLAGS } from './paths.js';
import { describeTarget } from './target.js';

export const KNOWN_FP_NOTE = 'known false positive: administrators managing certificates';

/** What grading needs to know about the alert's process (field values as the event has them). */
export interface TriageInput {
  image?: string;
  originalFileName?: string;
  commandLine?: string;
}

/** Stable code of the table row that graded the alert (for tests, filters and the docs table). */
export type GradeCode =
  | 'post_sensitive_exfil' | 'post_executable_download' | 'renamed_post' | 'post_download' | 'post_upload'
  | 'renamed' | 'renamed_suspected' | 'post_without_url' | 'not_certreq' | 'cert_signing' | 'admin_sensitive'
  | 'admin_verb' | 'bare_or_help';

export interface Triage {
  severity: Severity;
  reason: string;
  grade: GradeCode;
  /** What the command line tells certreq to do (absent when no certreq command was found). */
  intent?: CertreqIntent;
}

/** Programs that carry other commands; a certreq-shaped command line in them is not a renamed certreq. */
const SHELLS = new Set(['cmd.exe', 'powershell.exe', 'pwsh.exe', 'wscript.exe', 'cscript.exe', 'mshta.exe', 'rundll32.exe', 'conhost.exe', 'wmic.exe', 'schtasks.exe', 'at.exe', 'psexec.exe', 'psexesvc.exe', 'explorer.exe', 'runas.exe']);

export function gradeCertreq(input: TriageInput): Triage {
  const imageName = input.image ? basename(input.image) : '';
  const imageIsCertreq = imageName !== '' && isCertreqName(imageName);
  const ofnIsCertreq = (input.originalFileName ?? '').toLowerCase().includes('certreq');
  const renamed = ofnIsCertreq && imageName !== '' && !imageIsCertreq;
  const commandLine = input.commandLine ?? '';

  if (imageIsCertreq || ofnIsCertreq) {
    const intent = argsOfProgram(commandLine);
    return withExtraArgs(withObfuscation(gradeIntent(intent, renamed ? imageName : undefined), intent), intent);
  }
  // Not certreq by image or OriginalFileName. Without an OriginalFileName (Security 4688) a binary given certreq's
  // -Post -config URL arguments is most likely a renamed certreq; with one, we know what it is.
  const asCertreq = argsOfProgram(commandLine);
  if (!input.originalFileName && asCertreq.verb === 'post' && asCertreq.url && imageName !== '' && !SHELLS.has(imageName.toLowerCase())) {
    const t = gradeIntent(asCertreq, undefined);
    return withObfuscation({
      severity: atLeast(t.severity, 'high'),
      reason: `possibly renamed certreq (no OriginalFileName on this event): ${bounded(imageName)} takes certreq -Post arguments; ${t.reason}`,
      grade: 'renamed_suspected',
      intent: asCertreq,
    }, asCertreq);
  }
  const embedded = commandLine ? parseCertreqCommandLine(commandLine) : undefined;
  const what = embedded ? `launches ${describeIntent(embedded)}` : 'matches the certreq command-line clause (Post, Config, http, win.ini)';
  return {
    severity: 'medium',
    reason: `${bounded(imageName || 'a process')} is not certreq but its command line ${what}`,
    grade: 'not_certreq',
    ...(embedded ? { intent: embedded } : {}),
  };
}

/** Parses the arguments after the program name, whatever the program is called (it is certreq, maybe renamed). */
function argsOfProgram(commandLine: string): CertreqIntent {
  const split = splitCommandLineDetailed(commandLine);
  // ' certreq -Post ...' (a leading blank) has an empty program name; the name is then the first argument.
  const skip = split.args[0] === '' && split.args.length > 1 && isCertreqName(split.args[1]!) ? 2 : 1;
  return parseCertreqArgs(split.args.slice(skip), split.raw.slice(skip), split.truncated);
}

function gradeIntent(intent: CertreqIntent, renamedAs: string | undefined): Triage {
  const renamedNote = renamedAs ? `renamed certreq (${bounded(renamedAs)}): ` : '';
  if (intent.verb === 'post') {
    if (!intent.url) {
      return { severity: renamedAs ? 'high' : 'medium', reason: `${renamedNote}certreq -Post without a URL target (${intent.target ? describeTarget(intent.target) : 'no -config'})`, grade: renamedAs ? 'renamed' : 'post_without_url', intent };
    }
    const upload = intent.upload_file ? uploadText(intent) : 'nothing';
    const exfil = intent.sensitive_upload || intent.remote_share;
    const executableDownload = intent.files.some((f) => f.role === 'response' && f.flags.includes('executable_content'));
    if (exfil) return { severity: 'critical', reason: `${renamedNote}exfiltration: certreq POSTs ${upload} to ${bounded(intent.url)}${responseText(intent)}`, grade: 'post_sensitive_exfil', intent };
    if (executableDownload) return { severity: 'critical', reason: `${renamedNote}download of executable content: certreq POSTs ${upload} to ${bounded(intent.url)} and saves the response to ${bounded(intent.response_file!)}`, grade: 'post_executable_download', intent };
    if (renamedAs) return { severity: 'critical', reason: `${renamedNote}POSTs ${upload} to ${bounded(intent.url)}${responseText(intent)}`, grade: 'renamed_post', intent };
    if (intent.response_file) return { severity: 'high', reason: `download: certreq POSTs ${upload} to ${bounded(intent.url)} and saves the response to ${bounded(intent.response_file)}`, grade: 'post_download', intent };
    return { severity: 'high', reason: `upload: certreq POSTs ${upload} to ${bounded(intent.url)}`, grade: 'post_upload', intent };
  }
  if (renamedAs) return { severity: 'high', reason: `renamed certreq: OriginalFileName is CertReq.exe but the image is ${bounded(renamedAs)} (${describeIntent(intent)})`, grade: 'renamed', intent };
  if ((intent.verb === 'new' || intent.verb === 'sign') && intent.options['cert'] !== undefined) {
    return { severity: 'medium', reason: `${describeIntent(intent)} with -cert: signs a request with an existing certificate (possible AD CS abuse)`, grade: 'cert_signing', intent };
  }
  if (intent.verb === 'help' || (!intent.verb_explicit && intent.files.length === 0 && intent.config === undefined)) {
    return { severity: 'informational', reason: `certreq ${intent.verb === 'help' ? 'help' : 'without arguments (interactive)'}; ${KNOWN_FP_NOTE}`, grade: 'bare_or_help', intent };
  }
  if (intent.sensitive_upload || intent.remote_share) {
    return { severity: 'medium', reason: `${describeIntent(intent)} names ${uploadText(intent)}; ${KNOWN_FP_NOTE}`, grade: 'admin_sensitive', intent };
  }
  return { severity: 'low', reason: `administrator certificate operation: ${describeIntent(intent)}; ${KNOWN_FP_NOTE}`, grade: 'admin_verb', intent };
}

/**
 * Obfuscated switches (Unicode dashes, compatibility characters, quote insertion) raise a -Post grade one step:
 * there they serve evasion. On administrator verbs they are noted only — documentation copy-pasted from a
 * word processor carries en dashes too.
 */
function withObfuscation(t: Triage, intent: CertreqIntent): Triage {
  if (!intent.obfuscation || intent.obfuscation.length === 0) return t;
  const note = `obfuscated command line (${intent.obfuscation.join(', ').replace(/_/g, ' ')})`;
  if (intent.verb !== 'post') return { ...t, reason: `${t.reason}; ${note}` };
  const next = SEVERITIES[Math.min(SEVERITIES.indexOf(t.severity) + 1, SEVERITIES.length - 1)]!;
  return { ...t, severity: next, reason: `${t.reason}; ${note}` };
}

/** Arguments beyond what the verb takes: certreq refuses them, so the command probably failed — say so. */
function withExtraArgs(t: Triage, intent: CertreqIntent): Triage {
  if (!intent.extra_args || intent.extra_args.length === 0) return t;
  return { ...t, reason: `${t.reason}; ${intent.extra_args.length} unexpected extra argument${intent.extra_args.length === 1 ? '' : 's'} (the command may have failed)` };
}

function atLeast(s: Severity, floor: Severity): Severity {
  return SEVERITIES.indexOf(s) >= SEVERITIES.indexOf(floor) ? s : floor;
}

function describeIntent(intent: CertreqIntent): string {
  const parts = [`certreq -${intent.verb === 'help' ? '?' : intent.verb}`];
  if (intent.target) parts.push(`to ${bounded(describeTarget(intent.target))}`);
  if (intent.upload_file) parts.push(`sending ${bounded(intent.upload_file)}`);
  if (intent.response_file) parts.push(`saving ${bounded(intent.response_file)}`);
  return parts.join(' ');
}

function uploadText(intent: CertreqIntent): string {
  const f = intent.files.find((x) => x.role === 'upload');
  if (!f) return 'nothing';
  const labels = f.flags.filter((x) => SENSITIVE_FLAGS.has(x) || x === 'remote_share' || x === 'windows_ini').map(describeFlag);
  return labels.length > 0 ? `${bounded(f.path)} (${labels.join(', ')})` : bounded(f.path);
}

function responseText(intent: CertreqIntent): string {
  return intent.response_file ? ` and saves the response to ${bounded(intent.response_file)}` : '';
}

/** Reasons stay one readable line: long attacker-controlled values are cut, line breaks removed. */
export function bounded(s: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}
