/**
 * Security identifiers for AppLocker's UserOrGroupSid: literal SIDs (S-1-…) checked for syntax, and the few
 * well-known account names whose SIDs are the same on every Windows machine. Domain groups (Domain Admins,
 * PKI Admins, ...) have domain-relative SIDs that only the domain knows, so they must be given as S-1-5-21-… .
 */

export class SidError extends Error {}

/** Most groups one policy names; more is a mistake in the argument, not a real policy. */
export const MAX_ALLOWED_GROUPS = 64;

/** Sub-authorities in a SID (SID_MAX_SUB_AUTHORITIES). */
const MAX_SUB_AUTHORITIES = 15;
const MAX_SUB_AUTHORITY = 0xffff_ffff;
/** The identifier authority is 48 bits; AppLocker's schema only takes it in decimal (SidType: S-1(-[0-9a-fA-F]+)+). */
const MAX_AUTHORITY = 2 ** 48 - 1;

export const EVERYONE_SID = 'S-1-1-0';
export const ADMINISTRATORS_SID = 'S-1-5-32-544';

/** Well-known names (as Windows prints them) → SID. Constant on every Windows installation. */
const WELL_KNOWN: ReadonlyArray<readonly [string, string]> = [
  ['Everyone', EVERYONE_SID],
  ['BUILTIN\\Administrators', ADMINISTRATORS_SID],
  ['BUILTIN\\Users', 'S-1-5-32-545'],
  ['BUILTIN\\Guests', 'S-1-5-32-546'],
  ['BUILTIN\\Power Users', 'S-1-5-32-547'],
  ['BUILTIN\\Account Operators', 'S-1-5-32-548'],
  ['BUILTIN\\Server Operators', 'S-1-5-32-549'],
  ['BUILTIN\\Print Operators', 'S-1-5-32-550'],
  ['BUILTIN\\Backup Operators', 'S-1-5-32-551'],
  ['BUILTIN\\Remote Desktop Users', 'S-1-5-32-555'],
  ['BUILTIN\\Network Configuration Operators', 'S-1-5-32-556'],
  ['BUILTIN\\Certificate Service DCOM Access', 'S-1-5-32-574'],
  ['NT AUTHORITY\\SYSTEM', 'S-1-5-18'],
  ['NT AUTHORITY\\LOCAL SERVICE', 'S-1-5-19'],
  ['NT AUTHORITY\\NETWORK SERVICE', 'S-1-5-20'],
  ['NT AUTHORITY\\Authenticated Users', 'S-1-5-11'],
  ['NT AUTHORITY\\INTERACTIVE', 'S-1-5-4'],
  ['NT AUTHORITY\\SERVICE', 'S-1-5-6'],
];
const BY_NAME = new Map(WELL_KNOWN.map(([name, sid]) => [name.toLowerCase(), sid]));

/** The names resolveSid accepts (case-insensitive), for help and documentation. */
export function wellKnownNames(): string[] {
  return WELL_KNOWN.map(([name]) => name);
}

/** `S-1-5-32-544`, `s-1-5-21-…` or a well-known name → the canonical SID string; anything else throws SidError. */
export function resolveSid(input: string): string {
  const text = input.trim();
  if (text === '') throw new SidError('empty group (two commas in a row, or a trailing comma?)');
  const known = BY_NAME.get(text.toLowerCase());
  if (known) return known;
  if (/^s-/i.test(text)) return checkSidSyntax(text);
  throw new SidError(
    `${JSON.stringify(text)} is neither a SID (S-1-…) nor a well-known name; give a domain group as its SID, e.g. (Get-ADGroup 'PKI Operators').SID.Value`,
  );
}

function checkSidSyntax(text: string): string {
  const m = /^S-1-(\d{1,15})((?:-\d{1,10})+)$/i.exec(text);
  if (!m) throw new SidError(`${JSON.stringify(text)} is not a SID: expected S-1-<authority>-<sub-authority>[-…] in decimal`);
  const authority = Number(m[1]);
  if (authority > MAX_AUTHORITY) throw new SidError(`${text}: identifier authority ${m[1]} exceeds 48 bits`);
  const subs = m[2]!.slice(1).split('-');
  if (subs.length > MAX_SUB_AUTHORITIES) throw new SidError(`${text}: ${subs.length} sub-authorities, at most ${MAX_SUB_AUTHORITIES}`);
  for (const s of subs) {
    if (Number(s) > MAX_SUB_AUTHORITY) throw new SidError(`${text}: sub-authority ${s} exceeds 32 bits`);
  }
  // Canonical form: upper-case S, no leading zeros (Windows never prints them; the same SID must give the same rule id).
  return `S-1-${authority}-${subs.map((s) => String(Number(s))).join('-')}`;
}

/**
 * `--allow` values (each may hold a comma-separated list) → distinct SIDs in first-seen order. Refuses
 * Everyone: a policy that lets everyone run certreq restricts nobody.
 */
export function parseAllowList(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const sid = resolveSid(part);
      if (sid === EVERYONE_SID) throw new SidError('Everyone (S-1-1-0) cannot be an allowed group: the policy would restrict nobody');
      if (!out.includes(sid)) out.push(sid);
      if (out.length > MAX_ALLOWED_GROUPS) throw new SidError(`more than ${MAX_ALLOWED_GROUPS} allowed groups; use a group that contains them`);
    }
  }
  if (out.length === 0) throw new SidError('no allowed group given (--allow SID[,SID…])');
  return out;
}
