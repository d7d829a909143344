/**
 * The ingest side of scale-out: decoded events are split by host partition and published to JetStream. A
 * request is answered only after JetStream has acknowledged every message of it (stored in the stream, so a
 * crash of this node loses nothing acknowledged). No detection, no de-duplication here: workers do both.
 *
 * The service's IngestSink of scale-out (`nats:`): the HTTP routes submit to it as they would to the local Ingestor.
 */
import { connect, type JetStreamClient, type NatsConnection } from 'nats';
import type { WinEvent } from '../model/event.js';
import type { NatsConfig } from '../service/config.js';
import { OverloadedError } from '../service/errors.js';
import type { BatchOutcome, RemoteIngestSink } from '../service/ports.js';
import { encodeBatches, messageId } from './codec.js';
import { partitionOf } from './partition.js';
import { ensureStream, subjectFor, type StreamLayout } from './stream.js';

export interface PublisherOptions extends StreamLayout {
  url: string;
  /** Events being published (not yet acknowledged by JetStream) before ingest answers 429. */
  maxInflightEvents: number;
  /** Bound on one message body; default: 90% of the server's max_payload (room for headers). */
  maxMessageBytes?: number;
  /** Per-publish timeout (ms). */
  timeoutMs?: number;
}

export class JetStreamPublisher implements RemoteIngestSink {
  private inflight = 0;
  private published = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    readonly stream: string,
    readonly partitions: number,
    private readonly maxInflight: number,
    private readonly maxBytes: number,
    private readonly timeoutMs: number,
  ) {}

  static async connect(o: PublisherOptions): Promise<JetStreamPublisher> {
    const nc = await connect({ servers: o.url, name: 'procwatch-ingest', maxReconnectAttempts: -1 }).catch((err: Error) => {
      throw new Error(`NATS ${o.url}: ${err.message}`);
    });
    try {
      const partitions = await ensureStream(await nc.jetstreamManager(), o);
      const maxBytes = o.maxMessageBytes ?? Math.floor(nc.info!.max_payload * 0.9);
      return new JetStreamPublisher(nc, nc.jetstream(), o.stream, partitions, o.maxInflightEvents, maxBytes, o.timeoutMs ?? 10_000);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  /** Events waiting for JetStream's acknowledgement. */
  get depth(): number {
    return this.inflight;
  }

  /** Events published and acknowledged since start. */
  get publishedEvents(): number {
    return this.published;
  }

  full(): boolean {
    return this.inflight >= this.maxInflight;
  }

  /**
   * Publishes a decoded batch; resolves once JetStream stored all of it. `stored` counts events durably queued
   * (detection and de-duplication happen later in the workers, so `alerts` is 0 and `duplicates` unknown: 0).
   */
  async submit(events: WinEvent[], _receivedAt = performance.now()): Promise<BatchOutcome> {
    if (events.length === 0) return { received: 0, stored: 0, duplicates: 0, alerts: 0 };
    if (this.inflight > 0 && this.inflight + events.length > this.maxInflight) throw new OverloadedError(1);
    this.inflight += events.length;
    try {
      const byPartition = new Map<number, WinEvent[]>();
      for (const ev of events) {
        const p = partitionOf(ev.system.computer, this.partitions);
        const list = byPartition.get(p);
        if (list) list.push(ev);
        else byPartition.set(p, [ev]);
      }
      const pubs: Promise<unknown>[] = [];
      for (const [p, list] of byPartition) {
        for (const body of encodeBatches(list, this.maxBytes)) {
          pubs.push(this.js.publish(subjectFor(this.stream, p), body, { msgID: messageId(body), timeout: this.timeoutMs }));
        }
      }
      // allSettled: never leave a publish running unobserved when another failed.
      const results = await Promise.allSettled(pubs);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw new Error(`JetStream publish failed: ${(failed.reason as Error).message}`);
      this.published += events.length;
      return { received: events.length, stored: events.length, duplicates: 0, alerts: 0 };
    } finally {
      this.inflight -= events.length;
    }
  }

  async drained(): Promise<void> {
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, 5));
  }

  async close(): Promise<void> {
    await this.drained();
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}

/** The JetStream ingest sink of the configuration's `nats:` section (the adapter serve's composition hands the core). */
export async function jetStreamIngest(nats: NatsConfig, maxInflightEvents: number, notice: (line: string) => void): Promise<JetStreamPublisher> {
  const publisher = await JetStreamPublisher.connect({
    url: nats.url,
    stream: nats.stream,
    ...(nats.partitions !== undefined ? { partitions: nats.partitions } : {}),
    maxBytes: nats.maxBytes,
    maxInflightEvents,
  });
  notice(`procwatch: publishing to JetStream ${nats.url} stream ${publisher.stream} (${publisher.partitions} partitions)`);
  return publisher;
}
