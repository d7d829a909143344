/**
 * Alerts in PostgreSQL: listing, triage, later context and after-the-fact suppression (rows locked in id order,
 * so concurrent writers cannot deadlock), each change audited in its transaction. `insert` is the alerts' part
 * of the engine's batch commit; new and updated alert ids are announced with NOTIFY for other processes' streams.
 */
import pg from 'pg';
import { contextAuditEntry, mergeContext } from '../contextMerge.js';
import { ALERT_ORDER, alertFilter, alertRow as mapAlert, markSuppressed, type Row } from '../rows.js';
import { severityRank, type AlertContextUpdate, type AlertQuery, type AlertRow, type AlertStore, type NewAlert, type Page, type StatusChange } from '../types.js';
import { outboxActions, type OutboxRule } from '../outbox.js';
import type { PgActionStore } from './actions.js';
import { recordAudit } from './audit.js';
import { POSTGRES, TYPES, cmp, type PgDb, type Queryable } from './db.js';
import { updateStatus, updateStatusIn } from './status.js';

const alertRow = (r: Row): AlertRow => mapAlert(r, POSTGRES);

export class PgAlertStore implements AlertStore {
  constructor(
    private readonly conn: PgDb,
    /** Where the outbox of a change goes (its forwards), in the change's transaction. */
    private readonly actions: PgActionStore,
  ) {}

  /** PostgreSQL's channel for this schema's new alerts (LISTEN/NOTIFY channels are per database). */
  private get alertChannel(): string {
    return `procwatch_alerts_${this.conn.schema}`;
  }

  /** The channel for alerts whose context (tree, lifetime, evidence) a later commit updated. */
  private get updateChannel(): string {
    return `procwatch_alert_updates_${this.conn.schema}`;
  }

  /** Inserts the alerts not stored yet (unique by id, written in id order); returns those it created, announced. */
  async insert(c: Queryable, alerts: NewAlert[], now: number): Promise<NewAlert[]> {
    const unique = [...new Map(alerts.map((a) => [a.id, a])).values()];
    if (unique.length === 0) return [];
    const sorted = [...unique].sort((a, b) => cmp(a.id, b.id));
    const r = await c.query(
      `INSERT INTO alerts (id, event_key, rule_id, severity, severity_rank, time, host, user_name, incident_id, suppressed, created_at, updated_at, doc)
       SELECT id, ek, ru, sv, sr, t, h, us, inc, sup, $11, $11, d
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::boolean[], $12::text[])
         AS u(id, ek, ru, sv, sr, t, h, us, inc, sup, d)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [
        sorted.map((a) => a.id),
        sorted.map((a) => a.eventKey),
        sorted.map((a) => a.ruleId),
        sorted.map((a) => a.severity),
        sorted.map((a) => severityRank(a.severity)),
        sorted.map((a) => a.time),
        sorted.map((a) => a.host),
        sorted.map((a) => a.user ?? null),
        sorted.map((a) => a.incidentId ?? null),
        sorted.map((a) => a.suppressed),
        now,
        sorted.map((a) => JSON.stringify(a.doc)),
      ],
    );
    const ids = new Set((r.rows as Row[]).map((x) => String(x.id)));
    const created = unique.filter((a) => ids.has(a.id));
    await this.conn.notify(c, this.alertChannel, created.map((a) => a.id));
    return created;
  }

  async listAlerts(q: AlertQuery): Promise<Page<AlertRow>> {
    return this.conn.page('alerts', alertFilter(q, POSTGRES), ALERT_ORDER, q, alertRow);
  }

  async getAlert(id: string): Promise<AlertRow | undefined> {
    const r = (await this.conn.q('SELECT * FROM alerts WHERE id = $1', [id]))[0];
    return r ? alertRow(r) : undefined;
  }

  /** The rows of these alerts (for streams announcing them). */
  async getAlerts(ids: string[]): Promise<AlertRow[]> {
    if (ids.length === 0) return [];
    return (await this.conn.q('SELECT * FROM alerts WHERE id = ANY($1::text[]) ORDER BY time, id', [ids])).map(alertRow);
  }

  async updateAlert(id: string, change: StatusChange, outbox?: readonly OutboxRule[]): Promise<AlertRow | undefined> {
    if (!outbox || outbox.length === 0) return (await updateStatus(this.conn, 'alerts', 'alert', id, change)) ? this.getAlert(id) : undefined;
    // The change and the forwards of the changed alert in one transaction (outbox.ts).
    return this.conn.tx(async (c) => {
      if (!(await updateStatusIn(c, 'alerts', 'alert', id, change))) return undefined;
      const row = alertRow((await c.query('SELECT * FROM alerts WHERE id = $1', [id])).rows[0] as Row);
      await this.actions.insert(c, outboxActions(row, outbox), row.updatedAt);
      return row;
    });
  }

  async updateAlertContexts(updates: AlertContextUpdate[], actor: string, outbox?: readonly OutboxRule[]): Promise<AlertRow[]> {
    if (updates.length === 0) return [];
    // The last update of an id wins; rows are locked in id order, so concurrent writers cannot deadlock.
    const byId = new Map(updates.map((u) => [u.id, u]));
    const ids = [...byId.keys()].sort(cmp);
    return this.conn.tx(async (c) => {
      const rows = (await c.query('SELECT * FROM alerts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE', [ids])).rows as Row[];
      const now = Date.now();
      const changed: AlertRow[] = [];
      for (const row of rows) {
        const id = String(row.id);
        const merged = mergeContext(JSON.parse(String(row.doc)) as Record<string, unknown>, byId.get(id)!);
        if (merged.changed.length === 0) continue;
        const sev = merged.severity;
        if (sev) {
          await c.query('UPDATE alerts SET doc = $1, updated_at = $2, severity = $3, severity_rank = $4 WHERE id = $5', [JSON.stringify(merged.doc), now, sev, severityRank(sev), id]);
          // The incident takes the highest severity of its alerts.
          if (row.incident_id) await c.query('UPDATE incidents SET severity = $1, severity_rank = $2, updated_at = $3 WHERE id = $4 AND severity_rank < $2', [sev, severityRank(sev), now, row.incident_id]);
        } else await c.query('UPDATE alerts SET doc = $1, updated_at = $2 WHERE id = $3', [JSON.stringify(merged.doc), now, id]);
        await recordAudit(c, now, contextAuditEntry(id, actor, merged.changed, merged.doc));
        const updated: AlertRow = { ...alertRow(row), updatedAt: now, doc: merged.doc, ...(sev ? { severity: sev } : {}) };
        await this.actions.insert(c, outboxActions(updated, outbox), now);
        changed.push(updated);
      }
      await this.conn.notify(c, this.updateChannel, changed.map((r) => r.id));
      return changed;
    });
  }

  async suppressAlerts(ids: string[], by: { ref: string; reason: string }, actor: string): Promise<number> {
    if (ids.length === 0) return 0;
    // Rows locked in id order (as updateAlertContexts does), so concurrent writers cannot deadlock.
    const sorted = [...new Set(ids)].sort(cmp);
    return this.conn.tx(async (c) => {
      const rows = (await c.query('SELECT id, doc FROM alerts WHERE id = ANY($1::text[]) AND NOT suppressed ORDER BY id FOR UPDATE', [sorted])).rows as Row[];
      const now = Date.now();
      for (const row of rows) {
        const doc = markSuppressed(JSON.parse(String(row.doc)) as Record<string, unknown>, by);
        await c.query('UPDATE alerts SET suppressed = true, doc = $1, updated_at = $2 WHERE id = $3', [JSON.stringify(doc), now, row.id]);
        await recordAudit(c, now, { actor, action: 'alert.suppress', targetType: 'alert', targetId: String(row.id), detail: { by: by.ref, reason: by.reason } });
      }
      return rows.length;
    });
  }

  /**
   * Calls `listener` with the ids of alerts committed by any process writing to this schema (workers), for
   * live streams on nodes that do not commit themselves. Reconnects after a lost connection (alerts
   * committed meanwhile are not announced; they are in the store). Returns the unsubscribe function.
   */
  async onAlerts(
    listener: (ids: string[]) => void,
    onError: (err: Error) => void = () => {},
    /** Ids of stored alerts whose context a commit updated (see updateAlertContexts). */
    onUpdated?: (ids: string[]) => void,
  ): Promise<() => Promise<void>> {
    await this.conn.ready;
    let stopped = false;
    let client: pg.Client | undefined;
    const open = async (): Promise<void> => {
      const c = new pg.Client({ connectionString: this.conn.pool.options.connectionString, types: TYPES });
      c.on('notification', (n) => {
        const to = n.channel === this.alertChannel ? listener : n.channel === this.updateChannel ? onUpdated : undefined;
        if (!to || !n.payload) return;
        try {
          to(JSON.parse(n.payload) as string[]);
        } catch (err) {
          onError(err as Error);
        }
      });
      c.on('error', (err: Error) => {
        onError(err);
        c.end().catch(() => {});
        if (!stopped) setTimeout(() => void open().catch(onError), 2000).unref();
      });
      await c.connect();
      await c.query(`LISTEN "${this.alertChannel}"`);
      if (onUpdated) await c.query(`LISTEN "${this.updateChannel}"`);
      client = c;
    };
    await open();
    return async () => {
      stopped = true;
      await client?.end().catch(() => {});
    };
  }

  async counts(): Promise<{ alerts: number; openAlerts: number }> {
    const r = (await this.conn.q(`SELECT count(*) AS n, count(*) FILTER (WHERE status = 'open') AS open FROM alerts`))[0]!;
    return { alerts: r.n as number, openAlerts: r.open as number };
  }
}
