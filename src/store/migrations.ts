/**
 * Schema migrations of both stores, from ONE ordered list: version n is applied once, in a transaction together
 * with its row in `schema_migrations (version, applied_at)`, to every SQLite data directory and PostgreSQL
 * schema that has not had it yet. A migration gives one dialect-neutral SQL text, or one per dialect where
 * the two differ. Never edit a migration that shipped: add the next one.
 *
 * Version 1 is the schema procwatch used before this list existed (SQLite kept it as `CREATE TABLE IF NOT
 * EXISTS`, so it is a no-op on those data directories and records them as version 1; PostgreSQL already
 * numbered it 1).
 */

export type SqlDialect = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  /** What it does, for the error message of a failed migration. */
  name: string;
  sql: string | Record<SqlDialect, string>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: {
      sqlite: `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  key TEXT NOT NULL UNIQUE,
  received_at INTEGER NOT NULL,
  time TEXT NOT NULL,
  host TEXT NOT NULL,
  doc TEXT
);
-- One row per commit: (last event seq, time). Retention by age finds its cut here instead of keeping an
-- index on events.received_at, which would cost every insert.
CREATE TABLE IF NOT EXISTS commits (
  last_seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
  id TEXT PRIMARY KEY,
  event_key TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  severity TEXT NOT NULL,
  severity_rank INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  assignee TEXT,
  status_reason TEXT,
  time TEXT NOT NULL,
  host TEXT NOT NULL,
  user_name TEXT,
  incident_id TEXT,
  suppressed INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
CREATE INDEX IF NOT EXISTS alerts_status ON alerts(status, time);
CREATE INDEX IF NOT EXISTS alerts_incident ON alerts(incident_id);
CREATE INDEX IF NOT EXISTS alerts_host ON alerts(host);
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  user_name TEXT,
  first_seen TEXT NOT NULL,
  last_seen TEXT NOT NULL,
  severity TEXT NOT NULL,
  severity_rank INTEGER NOT NULL,
  alert_count INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'open',
  assignee TEXT,
  status_reason TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_last ON incidents(last_seen);
CREATE TABLE IF NOT EXISTS suppressions (
  id INTEGER PRIMARY KEY,
  rule_id TEXT, host TEXT, user_name TEXT, parent_image TEXT, command_line TEXT,
  reason TEXT NOT NULL,
  expires_at TEXT,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  hits INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS actions (
  id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  workflow TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  destructive INTEGER NOT NULL,
  dry_run INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  request TEXT NOT NULL,
  result TEXT,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS actions_due ON actions(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS actions_alert ON actions(alert_id);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_target ON audit(target_id);
`,
      postgres: `
  CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    received_at BIGINT NOT NULL,
    time TEXT COLLATE "C" NOT NULL,
    host TEXT NOT NULL,
    doc TEXT
  );
  -- Append-only by time: a BRIN index finds the retention cut at almost no cost per insert.
  CREATE INDEX events_received ON events USING brin (received_at);
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    event_key TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    assignee TEXT,
    status_reason TEXT,
    time TEXT COLLATE "C" NOT NULL,
    host TEXT NOT NULL,
    user_name TEXT,
    incident_id TEXT,
    suppressed BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    doc TEXT NOT NULL
  );
  CREATE INDEX alerts_time ON alerts (time);
  CREATE INDEX alerts_status ON alerts (status, time);
  CREATE INDEX alerts_incident ON alerts (incident_id);
  CREATE INDEX alerts_host ON alerts (lower(host));
  CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    user_name TEXT,
    first_seen TEXT COLLATE "C" NOT NULL,
    last_seen TEXT COLLATE "C" NOT NULL,
    severity TEXT NOT NULL,
    severity_rank INTEGER NOT NULL,
    alert_count INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    assignee TEXT,
    status_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX incidents_last ON incidents (last_seen);
  CREATE TABLE suppressions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id TEXT, host TEXT, user_name TEXT, parent_image TEXT, command_line TEXT,
    reason TEXT NOT NULL,
    expires_at TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    hits BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE actions (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    workflow TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    destructive BOOLEAN NOT NULL,
    dry_run BOOLEAN NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until BIGINT,
    request TEXT NOT NULL,
    result TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX actions_due ON actions (status, next_attempt_at);
  CREATE INDEX actions_alert ON actions (alert_id);
  CREATE TABLE audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX audit_target ON audit (target_id);
  `,
    },
  },
  {
    version: 2,
    name: 'content identity of events: mark the rows stored under the record-id identity',
    // Events stored so far are keyed by host + channel + record id (legacyEventKey). Their keys stay as they are
    // (most rows keep no document to re-key from); this remembers the last of them, so re-sends of those events
    // are still recognised while retention keeps them (Ingestor: legacy lookup by key AND event time).
    sql: `
CREATE TABLE legacy_event_keys (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  max_seq BIGINT NOT NULL
);
INSERT INTO legacy_event_keys (id, max_seq) SELECT 1, seq FROM events ORDER BY seq DESC LIMIT 1;
`,
  },
  {
    version: 3,
    name: 'index the retained documents of each host, newest first (response-target verification)',
    // Verifying a stop-process target reads the newest process events of one host (hostEventDocs). Partial: only
    // rows that keep a document (the events correlation needs) pay for it on insert.
    sql: {
      sqlite: 'CREATE INDEX events_host_docs ON events(host COLLATE NOCASE, seq) WHERE doc IS NOT NULL;',
      postgres: 'CREATE INDEX events_host_docs ON events (lower(host), seq) WHERE doc IS NOT NULL;',
    },
  },
  {
    version: 4,
    name: 'suppressions made through the API match the process image too (as config-file suppressions do)',
    sql: 'ALTER TABLE suppressions ADD COLUMN image TEXT;',
  },
];

/** The SQL of a migration for one dialect. */
export function migrationSql(m: Migration, dialect: SqlDialect): string {
  return typeof m.sql === 'string' ? m.sql : m.sql[dialect];
}

export const SCHEMA_MIGRATIONS_DDL = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)';

/** The newest version this build knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Refuses a database that a newer procwatch migrated (its schema may not be what this build writes). */
export function checkNotNewer(applied: number, where: string): void {
  if (applied > SCHEMA_VERSION) {
    throw new Error(`${where}: schema version ${applied} is newer than this procwatch knows (${SCHEMA_VERSION}); upgrade procwatch`);
  }
}
