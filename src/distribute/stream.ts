/**
 * The JetStream layout shared by ingest nodes and workers:
 *   stream STREAM (work-queue retention: a message is removed once a worker acknowledged it),
 *   subjects `<stream>.events.<partition>`, one durable pull consumer `<stream>-p<partition>` per partition.
 * The partition count is part of the layout (a host must always hash to the same partition); it is recorded
 * in the stream's description and checked by everyone who attaches.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, nanos, type JetStreamManager } from 'nats';

export interface StreamLayout {
  /** Stream name (letters, digits, `-`, `_`); the subject prefix is its lower-cased form. */
  stream: string;
  /** Partition count; undefined = what the existing stream says (or DEFAULT_PARTITIONS when creating it). */
  partitions?: number;
  /** Bytes the stream may hold before publishes are refused (ingest answers 503 → shippers retry). -1 = no limit. */
  maxBytes?: number;
}

export const DEFAULT_STREAM = 'procwatch';
export const DEFAULT_PARTITIONS = 8;
const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const DESCRIPTION = /partitions=(\d+)/;

export function subjectPrefix(stream: string): string {
  return `${stream.toLowerCase()}.events`;
}
export function subjectFor(stream: string, partition: number): string {
  return `${subjectPrefix(stream)}.${partition}`;
}
export function consumerFor(stream: string, partition: number): string {
  return `${stream}-p${partition}`;
}

export function checkStreamName(stream: string): string {
  if (!STREAM_NAME.test(stream)) throw new Error(`stream name "${stream}": expected 1-64 letters, digits, - or _`);
  return stream;
}

/** Creates the stream if missing; returns its partition count (an existing stream's count wins, a conflict is an error). */
export async function ensureStream(jsm: JetStreamManager, layout: StreamLayout): Promise<number> {
  const name = checkStreamName(layout.stream);
  let existing: { description?: string; retention: RetentionPolicy; subjects: string[] } | undefined;
  try {
    existing = (await jsm.streams.info(name)).config;
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
  }
  if (!existing) {
    const partitions = layout.partitions ?? DEFAULT_PARTITIONS;
    try {
      await jsm.streams.add({
        name,
        description: `procwatch decoded event batches; partitions=${partitions}`,
        subjects: [`${subjectPrefix(name)}.*`],
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        discard: DiscardPolicy.New,
        max_bytes: layout.maxBytes ?? -1,
        num_replicas: 1,
        duplicate_window: nanos(120_000),
      });
      return partitions;
    } catch (err) {
      // Another process created it first: fall through and check what it made.
      if (!/already in use|exists/i.test((err as Error).message)) throw err;
      existing = (await jsm.streams.info(name)).config;
    }
  }
  if (existing.retention !== RetentionPolicy.Workqueue) throw new Error(`stream ${name} exists but is not a work-queue stream`);
  const m = DESCRIPTION.exec(existing.description ?? '');
  if (!m) throw new Error(`stream ${name} exists but was not made by procwatch (no partitions=N in its description)`);
  const partitions = Number(m[1]);
  if (layout.partitions !== undefined && layout.partitions !== partitions) {
    throw new Error(`stream ${name} has ${partitions} partitions, not ${layout.partitions}: hosts would move between partitions`);
  }
  return partitions;
}

/**
 * The durable pull consumer of one partition. `max_ack_pending: 1`: one batch of a partition is in flight at
 * a time across all workers, so a host's batches are processed in order even when several workers share a
 * partition, and unacknowledged work per partition is bounded.
 */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, partition: number, ackWaitMs: number): Promise<string> {
  const name = consumerFor(stream, partition);
  const config = {
    durable_name: name,
    filter_subject: subjectFor(stream, partition),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 1,
    max_deliver: -1,
  };
  try {
    const info = await jsm.consumers.info(stream, name);
    if (info.config.ack_wait !== config.ack_wait) await jsm.consumers.update(stream, name, { ack_wait: config.ack_wait });
  } catch (err) {
    if (!/not found/i.test((err as Error).message)) throw err;
    try {
      await jsm.consumers.add(stream, config);
    } catch (e) {
      if (!/already|exists/i.test((e as Error).message)) throw e;
    }
  }
  return name;
}
