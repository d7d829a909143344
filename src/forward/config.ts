/**
 * Alert forwarding destinations as configured in the `forward:` list of the serve config (YAML), validated once
 * at start-up: every error names the destination and the key.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SEVERITIES, type Severity } from '../model/alert.js';
import { ConfigError } from '../configError.js';

export type ForwardKind = 'syslog' | 'elasticsearch' | 'splunk_hec';

/** TLS client settings (PEM file contents, read at start-up). */
export interface ForwardTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** SNI and certificate name to check (default: the address's host). */
  serverName?: string;
  /** false accepts any server certificate (tests, lab set-ups); default true. */
  verify: boolean;
}

export interface SyslogOptions {
  transport: 'tcp' | 'tls';
  host: string;
  port: number;
  /** RFC 5424 facility number 0-23. */
  facility: number;
  appName: string;
  /** HOSTNAME field; default the machine's host name. */
  hostname?: string;
  /** Whole message (header, structured data, MSG) in bytes; MSG is cut to fit. */
  maxMessageBytes: number;
}

export interface ElasticOptions {
  /** Base URL (`https://es.example:9200`); `_bulk` is appended. */
  url: string;
  index: string;
  auth?: { basic: { username: string; password: string } } | { apiKey: string };
  /** Alerts sent in one `_bulk` request at most (default 500). */
  batchSize: number;
  /** Bytes of one `_bulk` request body at most (default 5 MiB; a larger alert goes alone). */
  batchBytes: number;
}

export interface SplunkOptions {
  /** Base URL (`https://splunk.example:8088`); `/services/collector/event` is appended. */
  url: string;
  token: string;
  source: string;
  sourcetype: string;
  index?: string;
}

interface DestinationBase {
  name: string;
  /** Only alerts of at least this severity. */
  minSeverity: Severity;
  includeSuppressed: boolean;
  /** Forward status/context changes of alerts already forwarded. */
  updates: boolean;
  retry: { maxAttempts: number; backoffMs: number; maxBackoffMs: number };
  timeoutMs: number;
  tls?: ForwardTls;
}

export type ForwardDestination =
  | (DestinationBase & { kind: 'syslog'; syslog: SyslogOptions })
  | (DestinationBase & { kind: 'elasticsearch'; elasticsearch: ElasticOptions })
  | (DestinationBase & { kind: 'splunk_hec'; splunk: SplunkOptions });

const FACILITIES = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'audit', 'alert', 'clock', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'];

/** RFC 5425 requires receivers to take 2048 bytes; rsyslog and syslog-ng accept 8 KiB by default. */
export const DEFAULT_SYSLOG_MAX_BYTES = 8192;
export const MAX_SYSLOG_MAX_BYTES = 1 << 20;
const MAX_DESTINATIONS = 32;

const COMMON_KEYS = ['name', 'kind', 'address', 'tls', 'alerts', 'updates', 'retry', 'timeout_ms'];
const KIND_KEYS: Record<ForwardKind, string[]> = {
  syslog: ['facility', 'app_name', 'hostname', 'max_message_bytes'],
  elasticsearch: ['index', 'username', 'password', 'api_key', 'batch_size', 'batch_bytes'],
  splunk_hec: ['token', 'source', 'sourcetype', 'index'],
};

/** The `forward:` list; `base` resolves relative certificate paths (the config file's directory). */
export function parseForwards(v: unknown, base: string): ForwardDestination[] {
  if (!Array.isArray(v)) throw new ConfigError('forward: expected a list of destinations ({name, kind, address, ...})');
  if (v.length > MAX_DESTINATIONS) throw new ConfigError(`forward: at most ${MAX_DESTINATIONS} destinations`);
  const names = new Set<string>();
  return v.map((d, i) => {
    const dest = parseOne(d, `forward[${i}]`, base);
    if (names.has(dest.name)) throw new ConfigError(`forward[${i}]: duplicate destination name "${dest.name}"`);
    names.add(dest.name);
    return dest;
  });
}

function parseOne(d: unknown, at0: string, base: string): ForwardDestination {
  if (!isObject(d)) throw new ConfigError(`${at0}: expected {name, kind, address, ...}`);
  const name = str(d.name, `${at0}.name`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new ConfigError(`${at0}.name: expected 1-64 letters, digits, ., - or _`);
  const at = `${at0} (${name})`;
  const kind = d.kind;
  if (kind !== 'syslog' && kind !== 'elasticsearch' && kind !== 'splunk_hec') throw new ConfigError(`${at}.kind: expected syslog, elasticsearch or splunk_hec`);
  for (const k of Object.keys(d)) if (!COMMON_KEYS.includes(k) && !KIND_KEYS[kind].includes(k)) throw new ConfigError(`${at}: unknown key "${k}" for kind ${kind}`);
  const common: DestinationBase = {
    name,
    ...parseAlerts(d.alerts, `${at}.alerts`),
    updates: d.updates === undefined ? true : bool(d.updates, `${at}.updates`),
    retry: parseRetry(d.retry, `${at}.retry`),
    timeoutMs: d.timeout_ms === undefined ? 10_000 : int(d.timeout_ms, `${at}.timeout_ms`, 100, 600_000),
    ...(d.tls !== undefined ? { tls: parseTls(d.tls, `${at}.tls`, base) } : {}),
  };
  const address = str(d.address, `${at}.address`);
  if (kind === 'syslog') return { ...common, kind, syslog: parseSyslog(d, address, at) };
  const url = httpUrl(address, `${at}.address`);
  if (common.tls && !url.startsWith('https:')) throw new ConfigError(`${at}.tls: TLS options need an https:// address`);
  if (kind === 'elasticsearch') return { ...common, kind, elasticsearch: parseElastic(d, url, at) };
  return { ...common, kind, splunk: parseSplunk(d, url, at) };
}

function parseAlerts(v: unknown, at: string): Pick<DestinationBase, 'minSeverity' | 'includeSuppressed'> {
  if (v === undefined) return { minSeverity: 'informational', includeSuppressed: false };
  if (!isObject(v)) throw new ConfigError(`${at}: expected {min_severity, include_suppressed}`);
  for (const k of Object.keys(v)) if (k !== 'min_severity' && k !== 'include_suppressed') throw new ConfigError(`${at}: unknown key "${k}"`);
  const sev = v.min_severity ?? 'informational';
  if (typeof sev !== 'string' || !(SEVERITIES as readonly string[]).includes(sev)) throw new ConfigError(`${at}.min_severity: expected one of ${SEVERITIES.join(', ')}`);
  return { minSeverity: sev as Severity, includeSuppressed: v.include_suppressed === undefined ? false : bool(v.include_suppressed, `${at}.include_suppressed`) };
}

function parseRetry(v: unknown, at: string): DestinationBase['retry'] {
  const r = { maxAttempts: 8, backoffMs: 1000, maxBackoffMs: 300_000 };
  if (v === undefined) return r;
  if (!isObject(v)) throw new ConfigError(`${at}: expected {max_attempts, backoff_ms, max_backoff_ms}`);
  for (const k of Object.keys(v)) if (!['max_attempts', 'backoff_ms', 'max_backoff_ms'].includes(k)) throw new ConfigError(`${at}: unknown key "${k}"`);
  if (v.max_attempts !== undefined) r.maxAttempts = int(v.max_attempts, `${at}.max_attempts`, 1, 100);
  if (v.backoff_ms !== undefined) r.backoffMs = int(v.backoff_ms, `${at}.backoff_ms`, 1, 3_600_000);
  if (v.max_backoff_ms !== undefined) r.maxBackoffMs = int(v.max_backoff_ms, `${at}.max_backoff_ms`, 1, 86_400_000);
  return r;
}

function parseTls(v: unknown, at: string, base: string): ForwardTls {
  if (!isObject(v)) throw new ConfigError(`${at}: expected {ca, cert, key, server_name, verify}`);
  for (const k of Object.keys(v)) if (!['ca', 'cert', 'key', 'server_name', 'verify'].includes(k)) throw new ConfigError(`${at}: unknown key "${k}"`);
  const pem = (k: string): string | undefined => (v[k] === undefined ? undefined : readPem(resolve(base, str(v[k], `${at}.${k}`)), `${at}.${k}`));
  const out: ForwardTls = { verify: v.verify === undefined ? true : bool(v.verify, `${at}.verify`) };
  const ca = pem('ca');
  const cert = pem('cert');
  const key = pem('key');
  if ((cert === undefined) !== (key === undefined)) throw new ConfigError(`${at}: cert and key go together (client certificate)`);
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  if (v.server_name !== undefined) out.serverName = str(v.server_name, `${at}.server_name`);
  return out;
}

function readPem(path: string, at: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${at}: ${(err as Error).message}`);
  }
}

function parseSyslog(d: Record<string, unknown>, address: string, at: string): SyslogOptions {
  const m = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/\s]+):(\d{1,5})$/.exec(address);
  if (!m) throw new ConfigError(`${at}.address: expected tcp://host:port or tls://host:port`);
  const transport = m[1] as 'tcp' | 'tls';
  if (d.tls !== undefined && transport !== 'tls') throw new ConfigError(`${at}.tls: TLS options need a tls:// address`);
  const opts: SyslogOptions = {
    transport,
    host: m[2]!.replace(/^\[|\]$/g, ''),
    port: int(Number(m[3]), `${at}.address port`, 1, 65535),
    facility: facility(d.facility, `${at}.facility`),
    appName: d.app_name === undefined ? 'procwatch' : printable(str(d.app_name, `${at}.app_name`), 48, `${at}.app_name`),
    maxMessageBytes: d.max_message_bytes === undefined ? DEFAULT_SYSLOG_MAX_BYTES : int(d.max_message_bytes, `${at}.max_message_bytes`, 2048, MAX_SYSLOG_MAX_BYTES),
  };
  if (d.hostname !== undefined) opts.hostname = printable(str(d.hostname, `${at}.hostname`), 255, `${at}.hostname`);
  return opts;
}

function facility(v: unknown, at: string): number {
  if (v === undefined) return FACILITIES.indexOf('local0');
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 23) return v;
  if (typeof v === 'string' && FACILITIES.includes(v)) return FACILITIES.indexOf(v);
  throw new ConfigError(`${at}: expected 0-23 or one of ${FACILITIES.join(', ')}`);
}

function parseElastic(d: Record<string, unknown>, url: string, at: string): ElasticOptions {
  const index = d.index === undefined ? 'procwatch-alerts' : str(d.index, `${at}.index`);
  // Elasticsearch's own index-name rules: lower case, no path or wildcard characters, not starting with -_+.
  if (!/^[a-z0-9][a-z0-9._-]{0,254}$/.test(index)) throw new ConfigError(`${at}.index: expected a lower-case Elasticsearch index or data stream name`);
  const opts: ElasticOptions = {
    url,
    index,
    batchSize: d.batch_size === undefined ? 500 : int(d.batch_size, `${at}.batch_size`, 1, 10_000),
    batchBytes: d.batch_bytes === undefined ? 5 << 20 : int(d.batch_bytes, `${at}.batch_bytes`, 1024, 100 << 20),
  };
  if (d.api_key !== undefined) {
    if (d.username !== undefined || d.password !== undefined) throw new ConfigError(`${at}: give api_key or username/password, not both`);
    opts.auth = { apiKey: str(d.api_key, `${at}.api_key`) };
  } else if (d.username !== undefined || d.password !== undefined) {
    opts.auth = { basic: { username: str(d.username, `${at}.username`), password: str(d.password, `${at}.password`) } };
  }
  return opts;
}

function parseSplunk(d: Record<string, unknown>, url: string, at: string): SplunkOptions {
  const opts: SplunkOptions = {
    url,
    token: str(d.token, `${at}.token`),
    source: d.source === undefined ? 'procwatch' : str(d.source, `${at}.source`),
    sourcetype: d.sourcetype === undefined ? 'procwatch:alert' : str(d.sourcetype, `${at}.sourcetype`),
  };
  if (d.index !== undefined) opts.index = str(d.index, `${at}.index`);
  return opts;
}

function httpUrl(v: string, at: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`${at}: expected an http(s):// URL`); // the URL parser's message says no more than this
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(`${at}: expected an http(s):// URL`);
  if (u.username || u.password) throw new ConfigError(`${at}: put credentials in username/password/api_key/token, not the URL`);
  if (u.search || u.hash) throw new ConfigError(`${at}: expected a base URL without query or fragment`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** RFC 5424 header fields are PRINTUSASCII (33-126) and length-limited. */
function printable(v: string, max: number, at: string): string {
  if (v.length > max || !/^[\x21-\x7e]+$/.test(v)) throw new ConfigError(`${at}: expected 1-${max} printable ASCII characters without spaces`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown, at: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${at}: expected a non-empty string`);
  return v;
}
function bool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(`${at}: expected true or false`);
  return v;
}
function int(v: unknown, at: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${at}: expected an integer ${min}-${max}`);
  return v;
}
