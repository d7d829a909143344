/**
 * An AppLocker policy that lets only named groups run certreq.exe.
 *
 * Why this shape: AppLocker deny rules cannot exempt a group (a deny for Everyone also hits the allowed
 * groups, and deny wins), and once a collection has any rule, every file that no allow rule admits is blocked.
 * So the policy carries the default Exe allow rules (Everyone: %WINDIR%\* and %PROGRAMFILES%\*;
 * Administrators: *), puts a publisher *exception* for CERTREQ.EXE on the rules that would otherwise admit it,
 * and adds a publisher *allow* rule for CERTREQ.EXE for each named group.
 *
 * The publisher condition names the binary by the OriginalFilename of its signed version resource, not by the
 * name on disk, so a renamed copy of certreq.exe is still excepted.
 */
import { createHash } from 'node:crypto';
import { ADMINISTRATORS_SID, EVERYONE_SID } from './sid.js';

export type EnforcementMode = 'AuditOnly' | 'Enabled';

/** certreq.exe exactly as Windows signs it (AppLocker shows these upper-cased fields for the file). */
export const CERTREQ_SIGNATURE = {
  publisherName: 'O=MICROSOFT CORPORATION, L=REDMOND, S=WASHINGTON, C=US',
  productName: 'MICROSOFT® WINDOWS® OPERATING SYSTEM',
  binaryName: 'CERTREQ.EXE',
} as const;

export interface CertreqPolicyOptions {
  /** SIDs allowed to run certreq (validated with parseAllowList). */
  allow: readonly string[];
  /** Enabled instead of the default AuditOnly. */
  enforce?: boolean;
  /** Also put the certreq exception on the Administrators' `*` rule, so administrators need to be allowed too. */
  restrictAdmins?: boolean;
}

interface PublisherCondition {
  publisherName: string;
  productName: string;
  binaryName: string;
}

interface RuleBase {
  name: string;
  description: string;
  sid: string;
  action: 'Allow' | 'Deny';
}

export type PolicyRule =
  | (RuleBase & { kind: 'path'; path: string; exceptions: PublisherCondition[] })
  | (RuleBase & { kind: 'publisher'; condition: PublisherCondition });

export interface CertreqPolicy {
  mode: EnforcementMode;
  rules: PolicyRule[];
  xml: string;
}

/**
 * Fixed namespace of procwatch's rule ids (a v4 UUID drawn once). Rule ids are UUID v5 of the rule's content
 * in this namespace, so the same input always gives the same file, and a changed rule gets a new id.
 */
export const RULE_ID_NAMESPACE = '3edce8b3-b25e-4841-bb5d-c197b6e8518b';

export function certreqRules(options: CertreqPolicyOptions): PolicyRule[] {
  const certreq: PublisherCondition = { ...CERTREQ_SIGNATURE };
  const rules: PolicyRule[] = [
    {
      kind: 'path',
      name: 'All files located in the Windows folder, except certreq.exe (procwatch)',
      description: 'Default rule: Everyone may run applications in the Windows folder; certreq.exe (any copy or name) is excepted.',
      sid: EVERYONE_SID,
      action: 'Allow',
      path: '%WINDIR%\\*',
      exceptions: [certreq],
    },
    {
      kind: 'path',
      name: 'All files located in the Program Files folder, except certreq.exe (procwatch)',
      description: 'Default rule: Everyone may run applications in the Program Files folders; a copy of certreq.exe placed there is excepted.',
      sid: EVERYONE_SID,
      action: 'Allow',
      path: '%PROGRAMFILES%\\*',
      exceptions: [certreq],
    },
    {
      kind: 'path',
      name: options.restrictAdmins ? 'All files, except certreq.exe (procwatch)' : 'All files (procwatch)',
      description: options.restrictAdmins
        ? 'Default rule: local Administrators may run all applications except certreq.exe, unless an allowed group admits them.'
        : 'Default rule: local Administrators may run all applications (certreq.exe included).',
      sid: ADMINISTRATORS_SID,
      action: 'Allow',
      path: '*',
      exceptions: options.restrictAdmins ? [certreq] : [],
    },
  ];
  for (const sid of options.allow) {
    rules.push({
      kind: 'publisher',
      name: `certreq.exe for ${sid} (procwatch)`,
      description: 'Allows this group to run certreq.exe as signed by Microsoft (any version, any file name).',
      sid,
      action: 'Allow',
      condition: certreq,
    });
  }
  return rules;
}

export function certreqPolicy(options: CertreqPolicyOptions): CertreqPolicy {
  const mode: EnforcementMode = options.enforce ? 'Enabled' : 'AuditOnly';
  const rules = certreqRules(options);
  return { mode, rules, xml: renderPolicy(rules, mode) };
}

export function renderPolicy(rules: readonly PolicyRule[], mode: EnforcementMode): string {
  const lines = ['<?xml version="1.0" encoding="utf-8"?>', '<AppLockerPolicy Version="1">', `  <RuleCollection Type="Exe" EnforcementMode="${mode}">`];
  for (const rule of rules) lines.push(...renderRule(rule).map((l) => `    ${l}`));
  lines.push('  </RuleCollection>', '</AppLockerPolicy>', '');
  return lines.join('\n');
}

function renderRule(rule: PolicyRule): string[] {
  const element = rule.kind === 'path' ? 'FilePathRule' : 'FilePublisherRule';
  const conditions = rule.kind === 'path' ? [`<FilePathCondition Path="${attr(rule.path)}" />`] : publisherCondition(rule.condition);
  const exceptions = rule.kind === 'path' ? rule.exceptions.flatMap(publisherCondition) : [];
  const head = `<${element} Id="${ruleId(rule)}" Name="${attr(rule.name)}" Description="${attr(rule.description)}" UserOrGroupSid="${attr(rule.sid)}" Action="${rule.action}">`;
  return [
    head,
    '  <Conditions>',
    ...conditions.map((l) => `    ${l}`),
    '  </Conditions>',
    ...(exceptions.length > 0 ? ['  <Exceptions>', ...exceptions.map((l) => `    ${l}`), '  </Exceptions>'] : []),
    `</${element}>`,
  ];
}

function publisherCondition(c: PublisherCondition): string[] {
  return [
    `<FilePublisherCondition PublisherName="${attr(c.publisherName)}" ProductName="${attr(c.productName)}" BinaryName="${attr(c.binaryName)}">`,
    '  <BinaryVersionRange LowSection="*" HighSection="*" />',
    '</FilePublisherCondition>',
  ];
}

/** UUID v5 of what the rule does (collection, action, who, conditions, exceptions); names and wording do not count. */
export function ruleId(rule: PolicyRule): string {
  const what =
    rule.kind === 'path'
      ? ['Exe', 'FilePathRule', rule.action, rule.sid, rule.path, ...rule.exceptions.map(conditionKey)]
      : ['Exe', 'FilePublisherRule', rule.action, rule.sid, conditionKey(rule.condition)];
  return uuidV5(what.join('\n'), RULE_ID_NAMESPACE);
}

function conditionKey(c: PublisherCondition): string {
  return `publisher:${c.publisherName}|${c.productName}|${c.binaryName}|*|*`;
}

/** RFC 4122 name-based UUID, version 5 (SHA-1). */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (ns.length !== 16) throw new Error(`namespace ${namespace} is not a UUID`);
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * XML attribute text, ASCII only: markup characters and everything outside printable ASCII become character
 * references. The ® in the product name then survives any code page a Windows tool reads the file with
 * (a UTF-8 file read as ANSI would turn it into "Â®" and the condition would never match).
 */
function attr(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (code < 0x20 || code > 0x7e) out += `&#${code};`;
    else out += ch;
  }
  return out;
}
