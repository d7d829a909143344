/**
 * `procwatch serve` settings: YAML config file, then command-line flags and PROCWATCH_TOKEN on top.
 * Validated once; every error names the key.
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseWorkflows, type Workflow } from '../respond/config.js';
import { ConfigError } from '../configError.js';
import { SCOPES, type Scope } from './roles.js';
import { parseForwards, type ForwardDestination } from '../forward/config.js';

export { ConfigError };

/** Tokens shorter than this are refused (config, token files, the data-directory token). */
export const MIN_TOKEN_CHARS = 16;

export interface ApiToken {
  /** Shown as the actor in the audit log. */
  name: string;
  /** The token itself (--token, PROCWATCH_TOKEN, `token:` or a token file); or give `sha256`. */
  token?: string;
  /** Lower-case hex SHA-256 of the token (`hash: sha256:<hex>` in the config): the token is not kept at rest. */
  sha256?: string;
  /** What the token may do; absent = admin (the single-token set-ups of earlier versions keep working). */
  scopes?: Scope[];
  /** The token file it was read from (watched for rotation). */
  file?: string;
  /** 'cli': from --token / PROCWATCH_TOKEN, kept when the config file's tokens are re-read. */
  source?: 'cli' | 'config';
}

export interface ServeConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Empty: a token is generated (or read) in the data directory. */
  tokens: ApiToken[];
  /** The YAML config file (absolute), re-read for its tokens on SIGHUP or when it changes. */
  configPath?: string;
  tls?: { cert: string; key: string };
  limits: {
    /** Bytes on the wire per request. */
    bodyBytes: number;
    /** Bytes after gzip/deflate decompression (zip bombs). */
    decompressedBytes: number;
    /** Events waiting for commit before ingest answers 429. */
    queueEvents: number;
    /**
     * Request body bytes held at once (inflated bytes for compressed bodies, charged as they arrive) before ingest
     * answers 429: bounds the memory of bodies not yet in the queue.
     */
    inflightBytes: number;
    /** Events committed per transaction at most (group commit). */
    commitEvents: number;
    /** A request body delivering fewer bytes than this in any `bodyWindowMs` window is cut off (408). */
    minBodyBytes: number;
    bodyWindowMs: number;
    /** Largest EVTX body spooled to a temporary file to be read (EVTX needs random access). */
    spoolBytes: number;
    /** Largest single event (JSON document, XML event, HEC envelope) in a body. */
    eventBytes: number;
  };
  durability: 'full' | 'normal';
  retention: { hours: number; maxEvents: number };
  rules: { paths: string[]; builtin: boolean };
  /** Correlation/triage YAML (incidents, suppressions) handed to the correlator. */
  correlationConfig?: string;
  elasticsearchVersion: string;
  publicUrl?: string;
  workflows: Workflow[];
  /** Alert forwarding destinations (`forward:`): syslog, Elasticsearch, Splunk HEC. */
  forwards: ForwardDestination[];
  /** Shared PostgreSQL store (`store: {url, schema}` / `--store`); absent: the embedded SQLite store in dataDir. */
  store?: { url: string; schema?: string };
  /** Scale-out (`nats:` / `--nats`): ingest publishes decoded batches to JetStream, `procwatch worker`s detect and store. */
  nats?: NatsConfig;
}

export interface NatsConfig {
  url: string;
  /** JetStream stream name (subjects `<stream lower-cased>.events.<partition>`). */
  stream: string;
  /** Host partitions; undefined = the existing stream's count (8 when the stream is created). */
  partitions?: number;
  /** Workers: how long a batch may stay unacknowledged (the worker extends it while working) before redelivery. */
  ackWaitMs: number;
  /** Stream size bound in bytes (-1: none); beyond it publishes fail and ingest answers 503. */
  maxBytes: number;
}

export interface CliServeOptions {
  host?: string;
  port?: string | number;
  data?: string;
  token?: string;
  config?: string;
  rules?: string[];
  builtin?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  store?: string;
  nats?: string;
  natsStream?: string;
  partitionCount?: string | number;
}

export const DEFAULT_PORT = 8088;

export function defaultConfig(): ServeConfig {
  return {
    host: '127.0.0.1',
    port: DEFAULT_PORT,
    dataDir: resolve('procwatch-data'),
    tokens: [],
    limits: {
      bodyBytes: 16 << 20,
      decompressedBytes: 128 << 20,
      queueEvents: 20_000,
      commitEvents: 10_000,
      inflightBytes: 128 << 20,
      minBodyBytes: 16 << 10,
      bodyWindowMs: 10_000,
      spoolBytes: 128 << 20,
      eventBytes: 8 << 20,
    },
    durability: 'full',
    retention: { hours: 72, maxEvents: 1_000_000 },
    rules: { paths: [], builtin: true },
    elasticsearchVersion: '8.15.0',
    workflows: [],
    forwards: [],
  };
}

/** Reads the YAML file (if any) and applies the command-line options over it. */
export function loadServeConfig(cli: CliServeOptions, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const cfg = defaultConfig();
  if (cli.config) {
    let text: string;
    try {
      text = readFileSync(cli.config, 'utf8');
    } catch (err) {
      throw new ConfigError((err as Error).message, { file: cli.config });
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw new ConfigError((err as Error).message, { file: cli.config });
    }
    try {
      applyYaml(cfg, doc ?? {}, dirname(resolve(cli.config)));
    } catch (err) {
      // The document's parsers name the key; the error says which file too.
      throw err instanceof ConfigError ? err.inFile(cli.config) : err;
    }
    cfg.configPath = resolve(cli.config);
  }
  if (cli.host) cfg.host = cli.host;
  if (cli.port !== undefined) cfg.port = port(cli.port, '--port');
  if (cli.data) cfg.dataDir = resolve(cli.data);
  const token = cli.token ?? env.PROCWATCH_TOKEN;
  if (token) cfg.tokens = [{ name: 'default', token: checkToken(token, cli.token ? '--token' : 'PROCWATCH_TOKEN'), scopes: ['admin'], source: 'cli' }, ...cfg.tokens];
  if (cli.rules && cli.rules.length > 0) cfg.rules.paths = [...cfg.rules.paths, ...cli.rules.map((p) => resolve(p))];
  if (cli.builtin === false) cfg.rules.builtin = false;
  if (cli.tlsCert || cli.tlsKey) {
    if (!cli.tlsCert || !cli.tlsKey) throw new ConfigError('--tls-cert and --tls-key go together');
    cfg.tls = { cert: resolve(cli.tlsCert), key: resolve(cli.tlsKey) };
  }
  if (cli.store) cfg.store = { ...cfg.store, url: storeUrl(cli.store, '--store') };
  if (cli.nats) cfg.nats = { ...(cfg.nats ?? defaultNats()), url: natsUrl(cli.nats, '--nats') };
  if (cli.natsStream || cli.partitionCount !== undefined) {
    if (!cfg.nats) throw new ConfigError(`${cli.natsStream ? '--nats-stream' : '--partition-count'} needs --nats (or nats.url in the config)`);
    if (cli.natsStream) cfg.nats.stream = streamName(cli.natsStream, '--nats-stream');
    if (cli.partitionCount !== undefined) cfg.nats.partitions = int(Number(cli.partitionCount), '--partition-count', 1);
  }
  if (cfg.nats && !cfg.store) throw new ConfigError('--nats needs the shared store: --store postgres://... (or store.url in the config)');
  return cfg;
}

function applyYaml(cfg: ServeConfig, doc: unknown, base: string): void {
  if (!isObject(doc)) throw new ConfigError('config: expected a YAML mapping at the top');
  const known = new Set(['host', 'port', 'data', 'token', 'tokens', 'tls', 'limits', 'durability', 'retention', 'rules', 'correlation', 'elasticsearch', 'public_url', 'response', 'forward', 'store', 'nats']);
  for (const k of Object.keys(doc)) if (!known.has(k)) throw new ConfigError(`config: unknown key "${k}"`);
  if (doc.host !== undefined) cfg.host = str(doc.host, 'host');
  if (doc.port !== undefined) cfg.port = port(doc.port, 'port');
  if (doc.data !== undefined) cfg.dataDir = resolve(base, str(doc.data, 'data'));
  cfg.tokens.push(...parseTokens(doc, base));
  if (doc.tls !== undefined) {
    if (!isObject(doc.tls)) throw new ConfigError('tls: expected {cert, key}');
    cfg.tls = { cert: resolve(base, str(doc.tls.cert, 'tls.cert')), key: resolve(base, str(doc.tls.key, 'tls.key')) };
  }
  if (doc.limits !== undefined) {
    if (!isObject(doc.limits)) throw new ConfigError('limits: expected a mapping');
    const l = doc.limits;
    if (l.body_bytes !== undefined) cfg.limits.bodyBytes = int(l.body_bytes, 'limits.body_bytes', 1024);
    if (l.decompressed_bytes !== undefined) cfg.limits.decompressedBytes = int(l.decompressed_bytes, 'limits.decompressed_bytes', 1024);
    if (l.queue_events !== undefined) cfg.limits.queueEvents = int(l.queue_events, 'limits.queue_events', 1);
    if (l.commit_events !== undefined) cfg.limits.commitEvents = int(l.commit_events, 'limits.commit_events', 1);
    if (l.inflight_bytes !== undefined) cfg.limits.inflightBytes = int(l.inflight_bytes, 'limits.inflight_bytes', 1024);
    if (l.min_body_bytes !== undefined) cfg.limits.minBodyBytes = int(l.min_body_bytes, 'limits.min_body_bytes', 0);
    if (l.body_window_seconds !== undefined) cfg.limits.bodyWindowMs = 1000 * int(l.body_window_seconds, 'limits.body_window_seconds', 1);
    if (l.spool_bytes !== undefined) cfg.limits.spoolBytes = int(l.spool_bytes, 'limits.spool_bytes', 1 << 16);
    if (l.event_bytes !== undefined) cfg.limits.eventBytes = int(l.event_bytes, 'limits.event_bytes', 1024);
    const knownLimits = ['body_bytes', 'decompressed_bytes', 'queue_events', 'commit_events', 'inflight_bytes', 'min_body_bytes', 'body_window_seconds', 'spool_bytes', 'event_bytes'];
    for (const k of Object.keys(l)) if (!knownLimits.includes(k)) throw new ConfigError(`limits: unknown key "${k}"`);
  }
  if (doc.durability !== undefined) {
    if (doc.durability !== 'full' && doc.durability !== 'normal') throw new ConfigError('durability: expected full or normal');
    cfg.durability = doc.durability;
  }
  if (doc.retention !== undefined) {
    if (!isObject(doc.retention)) throw new ConfigError('retention: expected {hours, max_events}');
    if (doc.retention.hours !== undefined) cfg.retention.hours = num(doc.retention.hours, 'retention.hours');
    if (doc.retention.max_events !== undefined) cfg.retention.maxEvents = int(doc.retention.max_events, 'retention.max_events', 0);
  }
  if (doc.rules !== undefined) {
    if (!isObject(doc.rules)) throw new ConfigError('rules: expected {paths, builtin}');
    const paths = doc.rules.paths ?? [];
    if (!Array.isArray(paths)) throw new ConfigError('rules.paths: expected a list');
    cfg.rules.paths = paths.map((p, i) => resolve(base, str(p, `rules.paths[${i}]`)));
    if (doc.rules.builtin !== undefined) {
      if (typeof doc.rules.builtin !== 'boolean') throw new ConfigError('rules.builtin: expected true or false');
      cfg.rules.builtin = doc.rules.builtin;
    }
  }
  if (doc.correlation !== undefined) {
    if (!isObject(doc.correlation)) throw new ConfigError('correlation: expected {config: path}');
    cfg.correlationConfig = resolve(base, str(doc.correlation.config, 'correlation.config'));
  }
  if (doc.elasticsearch !== undefined) {
    if (!isObject(doc.elasticsearch)) throw new ConfigError('elasticsearch: expected {version}');
    const v = str(doc.elasticsearch.version, 'elasticsearch.version');
    if (!/^\d+\.\d+\.\d+$/.test(v)) throw new ConfigError('elasticsearch.version: expected x.y.z');
    cfg.elasticsearchVersion = v;
  }
  if (doc.public_url !== undefined) cfg.publicUrl = str(doc.public_url, 'public_url');
  if (doc.response !== undefined) cfg.workflows = parseWorkflows(doc.response);
  if (doc.forward !== undefined) cfg.forwards = parseForwards(doc.forward, base);
  if (doc.store !== undefined) {
    if (!isObject(doc.store)) throw new ConfigError('store: expected {url, schema}');
    for (const k of Object.keys(doc.store)) if (k !== 'url' && k !== 'schema') throw new ConfigError(`store: unknown key "${k}"`);
    cfg.store = { url: storeUrl(str(doc.store.url, 'store.url'), 'store.url') };
    if (doc.store.schema !== undefined) {
      const schema = str(doc.store.schema, 'store.schema');
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ConfigError('store.schema: expected lower-case letters, digits and _');
      cfg.store.schema = schema;
    }
  }
  if (doc.nats !== undefined) {
    if (!isObject(doc.nats)) throw new ConfigError('nats: expected {url, stream, partitions, ack_wait_ms, max_bytes}');
    const n = doc.nats;
    for (const k of Object.keys(n)) if (!['url', 'stream', 'partitions', 'ack_wait_ms', 'max_bytes'].includes(k)) throw new ConfigError(`nats: unknown key "${k}"`);
    cfg.nats = { ...defaultNats(), url: natsUrl(str(n.url, 'nats.url'), 'nats.url') };
    if (n.stream !== undefined) cfg.nats.stream = streamName(str(n.stream, 'nats.stream'), 'nats.stream');
    if (n.partitions !== undefined) cfg.nats.partitions = int(n.partitions, 'nats.partitions', 1);
    if (n.ack_wait_ms !== undefined) cfg.nats.ackWaitMs = int(n.ack_wait_ms, 'nats.ack_wait_ms', 1000);
    if (n.max_bytes !== undefined) cfg.nats.maxBytes = n.max_bytes === -1 ? -1 : int(n.max_bytes, 'nats.max_bytes', 1 << 20);
  }
}

function defaultNats(): NatsConfig {
  return { url: 'nats://127.0.0.1:4222', stream: 'procwatch', ackWaitMs: 30_000, maxBytes: -1 };
}
function storeUrl(v: string, at: string): string {
  if (!/^postgres(ql)?:\/\/./i.test(v)) throw new ConfigError(`${at}: expected a postgres://user@host:port/database URL`);
  return v;
}
function natsUrl(v: string, at: string): string {
  if (!/^(nats|tls|wss?):\/\/./i.test(v)) throw new ConfigError(`${at}: expected a nats://host:port URL`);
  return v;
}
function streamName(v: string, at: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) throw new ConfigError(`${at}: expected 1-64 letters, digits, - or _`);
  return v;
}

/**
 * The `token:` / `tokens:` keys of a config document. Each entry names the token (the audit actor), gives it as
 * `token` (plain), `hash` (`sha256:<64 hex>`) or `file` (a file holding the plain token), and lists its
 * `scopes` (default admin).
 */
export function parseTokens(doc: Record<string, unknown>, base: string): ApiToken[] {
  const out: ApiToken[] = [];
  if (doc.token !== undefined) out.push({ name: 'default', token: checkToken(str(doc.token, 'token'), 'token'), scopes: ['admin'], source: 'config' });
  if (doc.tokens !== undefined) {
    if (!Array.isArray(doc.tokens)) throw new ConfigError('tokens: expected a list of {name, token | hash | file, scopes}');
    doc.tokens.forEach((t, i) => out.push(parseTokenEntry(t, `tokens[${i}]`, base)));
  }
  const names = new Set<string>();
  for (const t of out) {
    if (names.has(t.name)) throw new ConfigError(`tokens: duplicate token name "${t.name}" (names identify the actor in the audit log)`);
    names.add(t.name);
  }
  return out;
}

function parseTokenEntry(t: unknown, at: string, base: string): ApiToken {
  if (!isObject(t)) throw new ConfigError(`${at}: expected {name, token | hash | file, scopes}`);
  for (const k of Object.keys(t)) if (!['name', 'token', 'hash', 'file', 'scopes'].includes(k)) throw new ConfigError(`${at}: unknown key "${k}"`);
  const name = str(t.name, `${at}.name`);
  const given = ['token', 'hash', 'file'].filter((k) => t[k] !== undefined);
  if (given.length !== 1) throw new ConfigError(`${at} (${name}): give exactly one of token, hash, file`);
  const scopes = parseScopes(t.scopes, `${at} (${name}).scopes`);
  if (t.hash !== undefined) {
    const h = str(t.hash, `${at} (${name}).hash`);
    const m = /^sha256:([0-9a-fA-F]{64})$/.exec(h);
    if (!m) throw new ConfigError(`${at} (${name}).hash: expected sha256:<64 hex digits> (procwatch token hash)`);
    return { name, sha256: m[1]!.toLowerCase(), scopes, source: 'config' };
  }
  if (t.file !== undefined) {
    const file = resolve(base, str(t.file, `${at} (${name}).file`));
    return { name, token: readTokenFile(file), scopes, file, source: 'config' };
  }
  return { name, token: checkToken(str(t.token, `${at} (${name}).token`), `${at} (${name}).token`), scopes, source: 'config' };
}

function parseScopes(v: unknown, at: string): Scope[] {
  if (v === undefined || v === null) return ['admin'];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${at}: expected a list of ${SCOPES.join(', ')}`);
  return list.map((s, i) => {
    if (typeof s !== 'string' || !(SCOPES as readonly string[]).includes(s)) throw new ConfigError(`${at}[${i}]: expected one of ${SCOPES.join(', ')}`);
    return s as Scope;
  });
}

/** A plain token kept in a file (trimmed): unreadable, empty or short is an error naming the file. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`token file ${path}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (token === '') throw new ConfigError(`token file ${path} is empty (put a token of at least ${MIN_TOKEN_CHARS} characters in it, or delete it to have one generated)`);
  return checkToken(token, `token file ${path}`);
}

/** The tokens of the config file alone (rotation: re-read on SIGHUP or when the file changes). */
export function readConfigTokens(path: string): ApiToken[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
  if (!isObject(doc ?? {})) throw new ConfigError(`${path}: expected a YAML mapping at the top`);
  return parseTokens((doc ?? {}) as Record<string, unknown>, dirname(path));
}

function checkToken(t: string, at: string): string {
  if (t.length < MIN_TOKEN_CHARS) throw new ConfigError(`${at}: a token must be at least ${MIN_TOKEN_CHARS} characters`);
  if (/[\s:]/.test(t)) throw new ConfigError(`${at}: a token must not contain whitespace or ':'`);
  return t;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown, at: string): string {
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${at}: expected a non-empty string`);
  return v;
}
function num(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`${at}: expected a non-negative number`);
  return v;
}
function int(v: unknown, at: string, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`${at}: expected an integer >= ${min}`);
  return v;
}
function port(v: unknown, at: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${at}: expected a port number 0-65535`);
  return n;
}
