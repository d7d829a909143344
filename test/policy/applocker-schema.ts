/**
 * Parses an AppLocker policy with saxes into a small element tree, and checks it against the rules of
 * Microsoft's AppLocker policy schema (the XSD published with the AppLocker CSP), hand-coded: element
 * nesting and cardinality, required attributes and their value patterns, unique collection types and rule ids.
 */
import { SaxesParser } from 'saxes';

export interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
}

export function parseXml(xml: string): Element {
  const parser = new SaxesParser({ xmlns: false });
  const stack: Element[] = [];
  let root: Element | undefined;
  parser.on('opentag', (tag) => {
    const el: Element = { name: tag.name, attrs: { ...(tag.attributes as Record<string, string>) }, children: [] };
    if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => void stack.pop());
  parser.on('text', (t) => {
    if (t.trim() !== '') throw new Error(`unexpected text ${JSON.stringify(t)}`);
  });
  parser.write(xml).close();
  if (!root) throw new Error('no root element');
  return root;
}

const GUID = /^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$/;
const SID = /^S-1(-[0-9a-fA-F]+)+$/;
const FILE_VERSION = /^(([0-9]{1,5}.){3}[0-9]{1,5}|\*)$/;
const ENFORCEMENT = ['NotConfigured', 'Enabled', 'AuditOnly'];
const RULE_ELEMENTS = ['FilePublisherRule', 'FilePathRule', 'FileHashRule'];

/** Every violation found, as "path: problem" lines; empty when the policy follows the schema. */
export function schemaViolations(root: Element): string[] {
  const errors: string[] = [];
  const fail = (at: string, msg: string): void => void errors.push(`${at}: ${msg}`);
  if (root.name !== 'AppLockerPolicy') fail('/', `root is ${root.name}, expected AppLockerPolicy`);
  onlyAttrs(root, ['Version'], ['Version'], '/AppLockerPolicy', fail);
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(root.attrs.Version ?? '')) fail('/AppLockerPolicy', 'Version is not a decimal');
  const types = new Set<string>();
  const ids = new Set<string>();
  root.children.forEach((rc, i) => {
    const at = `/AppLockerPolicy/RuleCollection[${i}]`;
    if (rc.name === 'PolicyExtensions') return;
    if (rc.name !== 'RuleCollection') return fail(at, `unexpected element ${rc.name}`);
    onlyAttrs(rc, ['Type', 'EnforcementMode'], ['Type'], at, fail);
    if (types.has(rc.attrs.Type!)) fail(at, `duplicate RuleCollection Type ${rc.attrs.Type}`);
    types.add(rc.attrs.Type!);
    if (rc.attrs.EnforcementMode !== undefined && !ENFORCEMENT.includes(rc.attrs.EnforcementMode)) fail(at, `EnforcementMode ${rc.attrs.EnforcementMode}`);
    rc.children.forEach((rule, j) => {
      const rat = `${at}/${rule.name}[${j}]`;
      if (rule.name === 'RuleCollectionExtensions') return;
      if (!RULE_ELEMENTS.includes(rule.name)) return fail(rat, 'not a rule element');
      checkRule(rule, rat, fail);
      if (ids.has(rule.attrs.Id ?? '')) fail(rat, `duplicate rule Id ${rule.attrs.Id}`);
      ids.add(rule.attrs.Id ?? '');
    });
  });
  return errors;
}

type Fail = (at: string, msg: string) => void;

function checkRule(rule: Element, at: string, fail: Fail): void {
  onlyAttrs(rule, ['Id', 'Name', 'Description', 'UserOrGroupSid', 'Action'], ['Id', 'Name', 'Description', 'UserOrGroupSid', 'Action'], at, fail);
  const a = rule.attrs;
  if (!GUID.test(a.Id ?? '')) fail(at, `Id ${a.Id} is not a GUID`);
  if (!a.Name || a.Name.length > 1024) fail(at, 'Name must be 1..1024 characters');
  if ((a.Description ?? '').length > 1024) fail(at, 'Description longer than 1024');
  if (!SID.test(a.UserOrGroupSid ?? '') || (a.UserOrGroupSid ?? '').length < 7) fail(at, `UserOrGroupSid ${a.UserOrGroupSid} is not a SID`);
  if (a.Action !== 'Allow' && a.Action !== 'Deny') fail(at, `Action ${a.Action}`);
  const conditions = rule.children.filter((c) => c.name === 'Conditions');
  const exceptions = rule.children.filter((c) => c.name === 'Exceptions');
  const other = rule.children.filter((c) => c.name !== 'Conditions' && c.name !== 'Exceptions');
  if (conditions.length !== 1) fail(at, `${conditions.length} Conditions elements, expected 1`);
  if (other.length > 0) fail(at, `unexpected ${other.map((o) => o.name).join(', ')}`);
  if (rule.name === 'FileHashRule' && exceptions.length > 0) fail(at, 'FileHashRule has no Exceptions');
  if (exceptions.length > 1) fail(at, 'more than one Exceptions element');
  const expected = { FilePathRule: 'FilePathCondition', FilePublisherRule: 'FilePublisherCondition', FileHashRule: 'FileHashCondition' }[rule.name]!;
  const conds = conditions[0]?.children ?? [];
  if (conds.length !== 1 || conds[0]!.name !== expected) fail(`${at}/Conditions`, `expected exactly one ${expected}`);
  conds.forEach((c, k) => checkCondition(c, `${at}/Conditions/${c.name}[${k}]`, fail));
  (exceptions[0]?.children ?? []).forEach((c, k) => {
    if (!['FilePathCondition', 'FilePublisherCondition', 'FileHashCondition'].includes(c.name)) fail(`${at}/Exceptions`, `unexpected ${c.name}`);
    else checkCondition(c, `${at}/Exceptions/${c.name}[${k}]`, fail);
  });
}

function checkCondition(c: Element, at: string, fail: Fail): void {
  if (c.name === 'FilePathCondition') {
    onlyAttrs(c, ['Path'], ['Path'], at, fail);
    if (!c.attrs.Path || c.attrs.Path.length > 32767) fail(at, 'Path must be 1..32767 characters');
    if (c.children.length > 0) fail(at, 'FilePathCondition has no children');
    return;
  }
  if (c.name === 'FilePublisherCondition') {
    onlyAttrs(c, ['PublisherName', 'ProductName', 'BinaryName'], ['PublisherName', 'ProductName', 'BinaryName'], at, fail);
    if (!c.attrs.PublisherName) fail(at, 'PublisherName must not be empty');
    const ranges = c.children.filter((r) => r.name === 'BinaryVersionRange');
    if (ranges.length !== 1 || c.children.length !== 1) fail(at, 'expected exactly one BinaryVersionRange');
    for (const r of ranges) {
      onlyAttrs(r, ['LowSection', 'HighSection'], ['LowSection', 'HighSection'], `${at}/BinaryVersionRange`, fail);
      for (const s of ['LowSection', 'HighSection']) if (!FILE_VERSION.test(r.attrs[s] ?? '')) fail(`${at}/BinaryVersionRange`, `${s} ${r.attrs[s]}`);
    }
    return;
  }
  fail(at, `condition ${c.name} not checked here`);
}

function onlyAttrs(el: Element, allowed: string[], required: string[], at: string, fail: Fail): void {
  for (const k of Object.keys(el.attrs)) if (!allowed.includes(k)) fail(at, `unexpected attribute ${k}`);
  for (const k of required) if (el.attrs[k] === undefined) fail(at, `missing attribute ${k}`);
}
