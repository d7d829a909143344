/**
 * Enough of the Elasticsearch HTTP API for Winlogbeat, Elastic Agent, Fluent Bit, Vector and Logstash to
 * use procwatch as their Elasticsearch output: the `_bulk` format, its per-item answers, and the info /
 * license / template endpoints these clients probe at start-up.
 */
import { randomUUID } from 'node:crypto';

export type BulkOp = 'index' | 'create' | 'delete' | 'update';

export interface BulkItem {
  op: BulkOp;
  index: string;
  /** 1-based line of the action line in the body. */
  line: number;
  /** The source document (index/create). */
  doc?: unknown;
  /** Why the item cannot be taken (bad JSON, unsupported op); answered per item with 400. */
  error?: string;
}

const OPS = new Set<BulkOp>(['index', 'create', 'delete', 'update']);

/** Splits a `_bulk` body (NDJSON of action/source pairs). A bad action line is an item error, not a 400. */
export function parseBulk(body: string, defaultIndex: string): BulkItem[] {
  const lines = body.split('\n');
  const items: BulkItem[] = [];
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.trim();
    if (text === '') continue;
    const line = i + 1;
    let action: unknown;
    try {
      action = JSON.parse(text);
    } catch (err) {
      items.push({ op: 'index', index: defaultIndex, line, error: `line ${line}: action is not JSON: ${(err as Error).message}` });
      continue;
    }
    const op = action && typeof action === 'object' && !Array.isArray(action) ? (Object.keys(action)[0] as BulkOp | undefined) : undefined;
    if (!op || !OPS.has(op)) {
      items.push({ op: 'index', index: defaultIndex, line, error: `line ${line}: expected an action {"index"|"create"|"delete"|"update": {...}}` });
      continue;
    }
    const meta = (action as Record<string, unknown>)[op];
    const index = meta && typeof meta === 'object' && typeof (meta as Record<string, unknown>)._index === 'string' ? String((meta as Record<string, unknown>)._index) : defaultIndex;
    if (op === 'delete') {
      items.push({ op, index, line, error: 'delete is not supported: procwatch keeps events' });
      continue;
    }
    const srcText = lines[i + 1]?.trim();
    i++;
    if (srcText === undefined || srcText === '') {
      items.push({ op, index, line, error: `line ${line + 1}: missing source document after the action line` });
      continue;
    }
    if (op === 'update') {
      items.push({ op, index, line, error: 'update is not supported: send events with index or create' });
      continue;
    }
    try {
      items.push({ op, index, line, doc: JSON.parse(srcText) });
    } catch (err) {
      items.push({ op, index, line, error: `line ${line + 1}: document is not JSON: ${(err as Error).message}` });
    }
  }
  return items;
}

export interface ItemOutcome {
  id?: string;
  /** 201 created, 200 noop (already stored), 400 rejected. */
  status: number;
  error?: string;
}

export function bulkResponse(items: BulkItem[], outcomes: ItemOutcome[], tookMs: number): Record<string, unknown> {
  let seq = 0;
  return {
    took: Math.round(tookMs),
    errors: outcomes.some((o) => o.status >= 300),
    items: items.map((it, i) => {
      const o = outcomes[i]!;
      const base: Record<string, unknown> = { _index: it.index, _id: o.id ?? null, status: o.status };
      if (o.status >= 300) {
        base.error = { type: o.status === 400 ? 'document_parsing_exception' : 'illegal_argument_exception', reason: o.error ?? 'rejected' };
      } else {
        Object.assign(base, {
          _version: 1,
          result: o.status === 201 ? 'created' : 'noop',
          _shards: { total: 1, successful: 1, failed: 0 },
          _seq_no: seq++,
          _primary_term: 1,
        });
      }
      return { [it.op]: base };
    }),
  };
}

export function esError(status: number, type: string, reason: string): Record<string, unknown> {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

const CLUSTER_UUID = randomUUID();

export function esInfo(version: string): Record<string, unknown> {
  return {
    name: 'procwatch',
    cluster_name: 'procwatch',
    cluster_uuid: CLUSTER_UUID,
    version: {
      number: version,
      build_flavor: 'default',
      build_type: 'procwatch',
      build_hash: '0000000000000000000000000000000000000000',
      build_date: '2024-01-01T00:00:00.000Z',
      build_snapshot: false,
      lucene_version: '9.11.1',
      minimum_wire_compatibility_version: '7.17.0',
      minimum_index_compatibility_version: '7.0.0',
    },
    tagline: 'You Know, for Search',
  };
}

export function esLicense(): Record<string, unknown> {
  return {
    license: {
      status: 'active',
      uid: CLUSTER_UUID,
      type: 'basic',
      issue_date: '2024-01-01T00:00:00.000Z',
      issue_date_in_millis: 1704067200000,
      max_nodes: 1000,
      issued_to: 'procwatch',
      issuer: 'elasticsearch',
      start_date_in_millis: -1,
    },
  };
}

export function esXpack(version: string): Record<string, unknown> {
  const on = { available: true, enabled: true };
  return {
    build: { hash: '0000000', date: '2024-01-01T00:00:00.000Z' },
    license: { uid: CLUSTER_UUID, type: 'basic', mode: 'basic', status: 'active' },
    features: { ilm: on, security: on, monitoring: { available: true, enabled: false } },
    tagline: `procwatch (Elasticsearch ${version} compatible ingest)`,
  };
}

export function esClusterHealth(): Record<string, unknown> {
  return {
    cluster_name: 'procwatch',
    status: 'green',
    timed_out: false,
    number_of_nodes: 1,
    number_of_data_nodes: 1,
    active_primary_shards: 1,
    active_shards: 1,
    relocating_shards: 0,
    initializing_shards: 0,
    unassigned_shards: 0,
  };
}
