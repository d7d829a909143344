/**
 * Response workflows as configured in the `response:` section of the serve config (YAML), validated once at
 * start-up so a typo is an error naming the workflow and field, not a silent no-op at 3 a.m.
 */
import { ConfigError } from '../configError.js';
import { SEVERITIES, type Severity } from '../model/alert.js';
import { parseAllowList, SidError } from '../policy/sid.js';

export interface WorkflowMatch {
  /** Rule ids this workflow answers; empty = every rule. */
  rules: string[];
  /** Only alerts of at least this severity. */
  minSeverity: Severity;
}

export interface RetryPolicy {
  /** Total tries including the first. */
  maxAttempts: number;
  /** Delay before the 2nd try; doubled for each further try. */
  backoffMs: number;
}

export interface WebhookSpec {
  url: string;
  method: 'POST' | 'PUT';
  format: 'generic' | 'thehive5';
  headers: Record<string, string>;
  /** HMAC-SHA256 key; the signature header is sent only when set. */
  secret?: string;
  signatureHeader: string;
  timeoutMs: number;
  /** Template of the JSON body (EDR calls): string values may hold `{path}` placeholders. Overrides `format`. */
  body?: unknown;
  /**
   * Where the rendered URL may point: URL prefixes (`https://hooks.example.com/procwatch/`) and/or host names
   * (`hooks.example.com`, `edr.local:8443`). Empty: only the template's own origin (placeholders cannot change it).
   */
  allow: string[];
}

export interface CommandSpec {
  /** argv template: argv[0] is the program; `{path}` placeholders substitute inside one element, never split. */
  argv: string[];
  timeoutMs: number;
  maxOutputBytes: number;
  /** Extra environment for the child (placeholders allowed). */
  env: Record<string, string>;
}

interface WorkflowBase extends WorkflowMatch {
  name: string;
  retry: RetryPolicy;
}

/** The AppLocker policy an `applocker_policy` workflow generates (see `procwatch policy certreq`). */
export interface AppLockerPolicySpec {
  /** SIDs that may run certreq.exe. */
  allow: string[];
  enforce: boolean;
  restrictAdmins: boolean;
}

export type Workflow =
  | (WorkflowBase & { type: 'webhook'; webhook: WebhookSpec; destructive: boolean; dryRun: boolean; approval: 'required' | 'auto' })
  | (WorkflowBase & { type: 'command'; command: CommandSpec; destructive: boolean; dryRun: boolean; approval: 'required' | 'auto' })
  | (WorkflowBase & {
      type: 'stop_process';
      /** How the remediation runs: a command (PowerShell Stop-Process over WinRM by default) or an EDR API call. */
      via: { command: CommandSpec } | { webhook: WebhookSpec };
      destructive: true;
      dryRun: boolean;
      approval: 'required' | 'auto';
    })
  | (WorkflowBase & {
      type: 'applocker_policy';
      /** `alert`: planned with each alert it matches; `incident`: only when asked for an incident (API, console). */
      trigger: 'alert' | 'incident';
      /** Generates the policy and the PowerShell to apply it as the action's result; runs nothing anywhere. */
      policy: AppLockerPolicySpec;
      destructive: false;
      dryRun: boolean;
      approval: 'required' | 'auto';
    });

/**
 * The default remediation: PowerShell remoting (WinRM) to the alerting host, stopping the PID only if it still
 * is the process that alerted (PIDs are reused). Target values arrive as environment variables and script-block
 * arguments, never spliced into the script text, so a hostile host or process name cannot become code.
 */
export const DEFAULT_STOP_SCRIPT = [
  '$ErrorActionPreference = "Stop"',
  'Invoke-Command -ComputerName $env:PROCWATCH_TARGET_HOST -ArgumentList ([int]$env:PROCWATCH_TARGET_PID), $env:PROCWATCH_TARGET_NAME -ScriptBlock {',
  '  param([int]$procId, [string]$name)',
  '  $p = Get-Process -Id $procId',
  '  if ($name -and $p.ProcessName -ne $name) { throw "PID $procId is now $($p.ProcessName), not $name; not stopped" }',
  '  Stop-Process -Id $procId -Force',
  '  "stopped $name ($procId)"',
  '}',
].join('\n');

export function parseWorkflows(raw: unknown): Workflow[] {
  if (raw === undefined || raw === null) return [];
  const list = isObject(raw) && 'workflows' in raw ? raw.workflows : raw;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ConfigError('response.workflows: expected a list');
  const names = new Set<string>();
  return list.map((w, i) => {
    const wf = parseWorkflow(w, `response.workflows[${i}]`);
    if (names.has(wf.name)) throw new ConfigError(`response.workflows[${i}].name: duplicate workflow name "${wf.name}"`);
    names.add(wf.name);
    return wf;
  });
}

function parseWorkflow(raw: unknown, at: string): Workflow {
  if (!isObject(raw)) throw new ConfigError(`${at}: expected a mapping`);
  const name = reqString(raw.name, `${at}.name`);
  const where = `${at} (${name})`;
  const match: WorkflowMatch = {
    rules: optStringList(raw.rules, `${where}.rules`),
    minSeverity: optSeverity(raw.min_severity, `${where}.min_severity`),
  };
  const retry: RetryPolicy = {
    maxAttempts: 1 + optInt(raw.retries, `${where}.retries`, raw.type === 'webhook' ? 4 : 0, 0, 20),
    backoffMs: optInt(raw.backoff_ms, `${where}.backoff_ms`, 1000, 0, 3_600_000),
  };
  const dryRun = optBool(raw.dry_run, `${where}.dry_run`, raw.type === 'stop_process');
  const approval = optEnum(raw.approval, `${where}.approval`, ['required', 'auto'] as const, 'required');
  const base = { name, ...match, retry, dryRun, approval };
  switch (raw.type) {
    case 'webhook':
      return { ...base, type: 'webhook', webhook: parseWebhook(raw, where), destructive: optBool(raw.destructive, `${where}.destructive`, false) };
    case 'command':
      return { ...base, type: 'command', command: parseCommand(raw, where), destructive: optBool(raw.destructive, `${where}.destructive`, false) };
    case 'stop_process': {
      const via = raw.via ?? 'winrm';
      if (via === 'winrm') {
        const shell = optString(raw.powershell, `${where}.powershell`) ?? 'pwsh';
        const command: CommandSpec = {
          argv: [shell, '-NoProfile', '-NonInteractive', '-Command', DEFAULT_STOP_SCRIPT],
          timeoutMs: optInt(raw.timeout_ms, `${where}.timeout_ms`, 60_000, 1, 3_600_000),
          maxOutputBytes: optInt(raw.max_output_bytes, `${where}.max_output_bytes`, 65536, 1, 16 << 20),
          env: {},
        };
        return { ...base, type: 'stop_process', via: { command }, destructive: true };
      }
      if (via === 'command') return { ...base, type: 'stop_process', via: { command: parseCommand(raw, where) }, destructive: true };
      if (via === 'webhook') return { ...base, type: 'stop_process', via: { webhook: parseWebhook(raw, where) }, destructive: true };
      throw new ConfigError(`${where}.via: expected winrm, command or webhook`);
    }
    case 'applocker_policy':
      return {
        ...base,
        type: 'applocker_policy',
        trigger: optEnum(raw.trigger, `${where}.trigger`, ['alert', 'incident'] as const, 'alert'),
        policy: parsePolicySpec(raw, where),
        destructive: false,
      };
    default:
      throw new ConfigError(`${where}.type: expected webhook, command, stop_process or applocker_policy`);
  }
}

function parsePolicySpec(raw: Record<string, unknown>, at: string): AppLockerPolicySpec {
  let allow: string[];
  try {
    allow = parseAllowList(optStringList(raw.allow, `${at}.allow`));
  } catch (err) {
    if (err instanceof SidError) throw new ConfigError(`${at}.allow: ${err.message}`);
    throw err;
  }
  return { allow, enforce: optBool(raw.enforce, `${at}.enforce`, false), restrictAdmins: optBool(raw.restrict_admins, `${at}.restrict_admins`, false) };
}

function parseWebhook(raw: Record<string, unknown>, at: string): WebhookSpec {
  const url = reqString(raw.url, `${at}.url`);
  const origin = /^([^/?#]*\/\/)?[^/?#]*/.exec(url)![0];
  if (/[{}]/.test(origin)) {
    throw new ConfigError(`${at}.url: placeholders are allowed only in the path and query, never in the scheme, host or port (event data must not choose where the request goes)`);
  }
  if (!/^https?:\/\/[^/?#]+/i.test(url)) throw new ConfigError(`${at}.url: expected an http(s) URL`);
  try {
    new URL(origin);
  } catch {
    throw new ConfigError(`${at}.url: ${origin} is not a valid http(s) origin`);
  }
  const allow = optStringList(raw.allow, `${at}.allow`);
  for (const [i, entry] of allow.entries()) checkAllowEntry(entry, `${at}.allow[${i}]`);
  // The origin is fixed (no placeholders there): it must be one the list allows. Paths are checked once rendered.
  if (allow.length > 0 && !allow.some((entry) => sameOrigin(origin, entry))) {
    throw new ConfigError(`${at}.url: ${origin} is not in the workflow's allow list (${allow.join(', ')})`);
  }
  const headers: Record<string, string> = {};
  if (raw.headers !== undefined) {
    if (!isObject(raw.headers)) throw new ConfigError(`${at}.headers: expected a mapping`);
    for (const [k, v] of Object.entries(raw.headers)) headers[k] = reqString(v, `${at}.headers.${k}`);
  }
  const secretEnv = optString(raw.secret_env, `${at}.secret_env`);
  const secret = optString(raw.secret, `${at}.secret`) ?? (secretEnv ? process.env[secretEnv] : undefined);
  if (secretEnv && !secret) throw new ConfigError(`${at}.secret_env: environment variable ${secretEnv} is not set`);
  return {
    url,
    method: optEnum(raw.method, `${at}.method`, ['POST', 'PUT'] as const, 'POST'),
    format: optEnum(raw.format, `${at}.format`, ['generic', 'thehive5'] as const, 'generic'),
    headers,
    ...(secret ? { secret } : {}),
    signatureHeader: optString(raw.signature_header, `${at}.signature_header`) ?? 'X-Procwatch-Signature-256',
    timeoutMs: optInt(raw.timeout_ms, `${at}.timeout_ms`, 10_000, 1, 600_000),
    ...(raw.body !== undefined ? { body: raw.body } : {}),
    allow,
  };
}

function checkAllowEntry(entry: string, at: string): void {
  if (entry.includes('://')) {
    let u: URL;
    try {
      u = new URL(entry);
    } catch {
      throw new ConfigError(`${at}: ${entry} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${at}: expected an http(s) URL prefix`);
    if (u.search || u.hash || u.username || u.password) throw new ConfigError(`${at}: a URL prefix has no query, fragment or credentials`);
    return;
  }
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(entry)) throw new ConfigError(`${at}: expected a URL prefix (https://host/path/) or a host name`);
}

function sameOrigin(origin: string, entry: string): boolean {
  const o = new URL(origin);
  if (entry.includes('://')) return new URL(entry).origin === o.origin;
  const e = entry.toLowerCase();
  return e === o.host.toLowerCase() || e === o.hostname.toLowerCase();
}

/**
 * True when `url` is allowed by one of the entries: a URL prefix (same origin, and the path starts with the
 * prefix's path at a segment boundary) or a host name (with or without port).
 */
export function urlAllowed(url: string, allow: readonly string[]): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  // The raw path as it will be sent (WHATWG URL would resolve dot-segments; the request does not).
  const raw = /^[a-z]+:\/\/[^/?#]*([^?#]*)/i.exec(url)?.[1] || '/';
  return allow.some((entry) => {
    if (!entry.includes('://')) {
      const e = entry.toLowerCase();
      return e === u.host.toLowerCase() || e === u.hostname.toLowerCase();
    }
    const p = new URL(entry);
    if (p.origin !== u.origin) return false;
    const prefix = p.pathname;
    if (!raw.startsWith(prefix)) return false;
    return prefix.endsWith('/') || raw.length === prefix.length || raw[prefix.length] === '/';
  });
}

function parseCommand(raw: Record<string, unknown>, at: string): CommandSpec {
  if (!Array.isArray(raw.argv) || raw.argv.length === 0) throw new ConfigError(`${at}.argv: expected a non-empty list (argv[0] is the program)`);
  const env: Record<string, string> = {};
  if (raw.env !== undefined) {
    if (!isObject(raw.env)) throw new ConfigError(`${at}.env: expected a mapping`);
    for (const [k, v] of Object.entries(raw.env)) env[k] = reqString(v, `${at}.env.${k}`);
  }
  return {
    argv: raw.argv.map((a, i) => reqString(a, `${at}.argv[${i}]`)),
    timeoutMs: optInt(raw.timeout_ms, `${at}.timeout_ms`, 30_000, 1, 3_600_000),
    maxOutputBytes: optInt(raw.max_output_bytes, `${at}.max_output_bytes`, 65536, 1, 16 << 20),
    env,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function reqString(v: unknown, at: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${at}: expected a non-empty string`);
  return v;
}
function optString(v: unknown, at: string): string | undefined {
  return v === undefined || v === null ? undefined : reqString(v, at);
}
function optStringList(v: unknown, at: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) throw new ConfigError(`${at}: expected a list of strings`);
  return v.map((x, i) => reqString(x, `${at}[${i}]`));
}
function optInt(v: unknown, at: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${at}: expected an integer from ${min} to ${max}`);
  return v;
}
function optBool(v: unknown, at: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(`${at}: expected true or false`);
  return v;
}
function optEnum<T extends string>(v: unknown, at: string, allowed: readonly T[], dflt: T): T {
  if (v === undefined || v === null) return dflt;
  const s = typeof v === 'string' ? v : '';
  const hit = allowed.find((a) => a.toLowerCase() === s.toLowerCase());
  if (!hit) throw new ConfigError(`${at}: expected one of ${allowed.join(', ')}`);
  return hit;
}
function optSeverity(v: unknown, at: string): Severity {
  return optEnum(v, at, SEVERITIES, 'informational');
}
