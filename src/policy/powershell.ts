/**
 * The PowerShell an administrator runs to test and apply the certreq policy. Printed, never executed by
 * procwatch. Every value spliced into the text is single-quoted PowerShell literal text.
 */
import type { EnforcementMode } from './applocker.js';

export const CERTREQ_PATH = 'C:\\Windows\\System32\\certreq.exe';

export interface ScriptOptions {
  /** The policy file as the administrator will have it on the Windows machine. */
  policyFile: string;
  mode: EnforcementMode;
  /** A user outside the allowed groups (e.g. the one who ran certreq in an alert); a placeholder when unknown. */
  deniedUser?: string;
  /** A member of an allowed group; a placeholder when unknown. */
  allowedUser?: string;
}

const DENIED_PLACEHOLDER = 'DOMAIN\\user-outside-the-allowed-groups';
const ALLOWED_PLACEHOLDER = 'DOMAIN\\member-of-an-allowed-group';

/** PowerShell single-quoted literal: nothing inside is expanded; a quote is doubled. */
export function psQuote(text: string): string {
  return `'${text.replace(/['\u2018\u2019\u201a\u201b]/g, "''")}'`;
}

/**
 * A user name fit to print in the script: DOMAIN\name, name@domain or a SID, without control characters.
 * Anything else (an attacker-chosen name from event data) gives undefined and the placeholder is printed.
 */
export function printableUser(user: string | undefined): string | undefined {
  if (!user) return undefined;
  return /^[\p{L}\p{N} ._$@\\-]{1,256}$/u.test(user) ? user : undefined;
}

export function powershellLines(options: ScriptOptions): string[] {
  const policy = psQuote(options.policyFile);
  const denied = psQuote(printableUser(options.deniedUser) ?? DENIED_PLACEHOLDER);
  const allowed = psQuote(printableUser(options.allowedUser) ?? ALLOWED_PLACEHOLDER);
  const path = psQuote(CERTREQ_PATH);
  return [
    `# procwatch policy certreq: AppLocker Exe rules in ${options.mode} mode. Run elevated on the target computer`,
    '# (or import the XML into a GPO: Computer Configuration > Windows Settings > Security Settings > Application Control Policies).',
    '# AppLocker audits and enforces only while the Application Identity service runs (a protected service: use sc.exe):',
    'sc.exe config appidsvc start= auto',
    'Start-Service -Name AppIDSvc',
    '# 1. Test the file first. Outside the allowed groups: DeniedByDefault. A member of an allowed group: Allowed.',
    `Test-AppLockerPolicy -XmlPolicy ${policy} -Path ${path} -User ${denied}`,
    `Test-AppLockerPolicy -XmlPolicy ${policy} -Path ${path} -User ${allowed}`,
    '# 2. Apply it, merged into the local AppLocker policy:',
    `Set-AppLockerPolicy -XmlPolicy ${policy} -Merge`,
    '# 3. Test the effective policy: an allow rule already there (e.g. the stock "%WINDIR%\\*" default rule) still admits',
    '#    certreq for everyone and must be removed. Expect DeniedByDefault, and the Exe collection in the intended mode.',
    `Get-AppLockerPolicy -Effective | Test-AppLockerPolicy -Path ${path} -User ${denied}`,
    "([xml](Get-AppLockerPolicy -Effective -Xml)).AppLockerPolicy.RuleCollection | Where-Object Type -eq 'Exe' | Select-Object Type, EnforcementMode",
  ];
}
