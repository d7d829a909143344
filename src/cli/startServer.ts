/**
 * `procwatch serve` composed: the service core (src/service/compose.ts: store, pipeline, ingest sink, alert
 * feed, response runner, forwarders) with its HTTP front end (src/server/app.ts) and, when the configuration
 * says `nats:`, the JetStream publisher (src/distribute) as the ingest sink. The only place the adapters meet.
 */
import type { FastifyInstance } from 'fastify';
import type { Pipeline } from '../pipeline.js';
import type { Store } from '../store/index.js';
import type { ActionRunner } from '../respond/index.js';
import type { ServeConfig } from '../service/config.js';
import { composeService, type IngestAdapters } from '../service/compose.js';
import type { Ingestor } from '../service/ingest.js';
import type { Metrics } from '../service/metrics.js';
import type { IngestSink } from '../service/ports.js';
import { createLogger, noticeTo } from '../service/logger.js';
import { createHttpServer, httpTokens } from '../server/app.js';
import { jetStreamIngest } from '../distribute/publisher.js';

export interface ServerOverrides {
  /** A ready pipeline (otherwise built from config.rules). */
  pipeline?: Pipeline;
  store?: Store;
  /** Where start-up notices go (generated token, rule errors). Default: stderr. */
  notice?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  app: FastifyInstance;
  store: Store;
  /** Where ingest requests go: the local Ingestor, or the JetStream publisher (`nats:`). */
  sink: IngestSink;
  /** The local Ingestor; undefined when the configuration publishes to JetStream. */
  ingestor: Ingestor | undefined;
  runner: ActionRunner;
  metrics: Metrics;
  pipeline: Pipeline;
  /** Re-reads the config file's tokens now (what SIGHUP does); false when they could not be read. */
  reloadTokens(why?: string): boolean;
  /** Stops accepting requests, finishes queued commits and actions in flight, closes the store. */
  close(): Promise<void>;
}

/** The ingest sinks implemented outside the core. */
const ADAPTERS: IngestAdapters = { jetstream: jetStreamIngest };

export async function startServer(config: ServeConfig, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const notice = overrides.notice ?? noticeTo(createLogger('procwatch-serve'));
  const startedAt = Date.now();
  // Tokens first: a bad token file stops the start before anything is opened.
  const tokens = httpTokens(config, notice);
  const service = await composeService(config, {
    notice,
    adapters: ADAPTERS,
    ...(overrides.store ? { store: overrides.store } : {}),
    ...(overrides.pipeline ? { pipeline: overrides.pipeline } : {}),
  });
  const http = createHttpServer(service, tokens, notice, startedAt);
  await service.start();
  const { url, port } = await http.listen();

  let closed = false;
  return {
    url,
    port,
    app: http.app,
    store: service.store,
    sink: service.sink,
    ingestor: service.ingestor,
    runner: service.runner,
    metrics: service.metrics,
    pipeline: service.pipeline,
    reloadTokens: (why = 'requested') => tokens.reload(why),
    async close() {
      if (closed) return;
      closed = true;
      await http.close();
      await service.close();
    },
  };
}
