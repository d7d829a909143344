/**
 * `procwatch serve` assembled: store, detection pipeline, ingestor, action runner, SSE hub and the HTTP
 * server (fastify) with authentication on every ingest and API route.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { openStore, type Store } from '../store/index.js';
import type { AlertRow, NewAlert } from '../store/types.js';
import { ActionRunner } from '../respond/index.js';
import type { ServeConfig } from './config.js';
import { readBody } from './body.js';
import { droppedLogLines } from './log.js';
import { createLogger, noticeTo } from './logger.js';
import { InflightBudget, type Reservation } from './budget.js';
import { HttpError } from './errors.js';
import { contractValidator, FieldError, validationError } from './validation.js';
import type { RegisteredRoute } from './openapi.js';
import { Ingestor } from './ingest.js';
import { Metrics } from './metrics.js';
import { SseHub } from './sse.js';
import { SuppressionIndex } from './suppress.js';
import { TokenRegistry } from './tokenRegistry.js';
import { routeNeed } from './scopes.js';
import { registerIngestRoutes } from './ingestRoutes.js';
import { alertView, registerApiRoutes } from './apiRoutes.js';
import { registerStatsRoutes } from './statsRoutes.js';
import { incidentActionsView, registerIncidentActions } from './incidentActions.js';
import { esError } from './elastic.js';
import { HEC } from './hec.js';
import { JetStreamPublisher } from '../distribute/publisher.js';
import { PostgresStore } from '../store/postgres.js';
import { Forwarder, forwardCounters } from '../forward/index.js';

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
  ingestor: Ingestor;
  runner: ActionRunner;
  metrics: Metrics;
  pipeline: Pipeline;
  /** Re-reads the config file's tokens now (what SIGHUP does); false when they could not be read. */
  reloadTokens(why?: string): boolean;
  /** Stops accepting requests, finishes queued commits and actions in flight, closes the store. */
  close(): Promise<void>;
}

/** What an ingest request is charged when admitted, before its body arrives (it then pays for what it holds). */
const ADMISSION_BYTES = 1 << 20;

const PUBLIC_PATHS = new Set(['/healthz', '/services/collector/health', '/services/collector/health/1.0']);

function pathOf(req: FastifyRequest): string {
  const u = req.url;
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

type Dialect = 'hec' | 'es' | 'plain';
function dialectOf(path: string): Dialect {
  if (path.startsWith('/services/collector')) return 'hec';
  if (path.startsWith('/api/') || path === '/ingest' || path === '/metrics' || path.startsWith('/console')) return 'plain';
  return 'es';
}
function isIngest(path: string): boolean {
  return path === '/ingest' || path.endsWith('/_bulk') || (path.startsWith('/services/collector') && !path.includes('/health'));
}

/** An error in the shape the route's clients understand. */
function sendError(reply: FastifyReply, path: string, status: number, message: string, field?: string): FastifyReply {
  const dialect = dialectOf(path);
  if (dialect === 'hec') {
    const body =
      status === 401 ? HEC.tokenRequired : status === 403 ? HEC.invalidToken : status === 429 ? HEC.busy : { text: message, code: status === 413 ? 6 : 8 };
    return reply.code(status).send({ ...body, detail: message });
  }
  if (dialect === 'es') {
    const type = status === 401 || status === 403 ? 'security_exception' : status === 429 ? 'es_rejected_execution_exception' : status === 413 ? 'content_too_long_exception' : 'illegal_argument_exception';
    if (status === 401) reply.header('www-authenticate', 'Basic realm="procwatch", charset="UTF-8"');
    return reply.code(status).header('x-elastic-product', 'Elasticsearch').send(esError(status, type, message));
  }
  return reply.code(status).send({ error: message, ...(field !== undefined ? { field } : {}) });
}

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

interface StaticFile {
  type: string;
  body: Buffer;
}

/**
 * The console as `npm run build` bundles it (scripts/build-console.mjs → dist/console/). Read from the package
 * root's dist/ both when running compiled (dist/server/app.js) and from sources (src/server/app.ts).
 */
function loadConsole(notice: (line: string) => void): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const types: Record<string, string> = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8', 'favicon.svg': 'image/svg+xml' };
  for (const [name, type] of Object.entries(types)) {
    try {
      files.set(name, { type, body: readFileSync(new URL(`../../dist/console/${name}`, import.meta.url)) });
    } catch (err) {
      // The console is optional (the API works without it), but say why it is missing.
      notice(`procwatch: console file ${name} not served (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); run npm run build`);
    }
  }
  return files;
}

export async function startServer(config: ServeConfig, overrides: ServerOverrides = {}): Promise<RunningServer> {
  const notice = overrides.notice ?? noticeTo(createLogger('procwatch-serve'));
  const startedAt = Date.now();
  const version = readVersion();

  const tokens = new TokenRegistry({ tokens: config.tokens, dataDir: config.dataDir, notice, ...(config.configPath ? { configPath: config.configPath } : {}) });

  const store =
    overrides.store ??
    openStore({
      dataDir: config.dataDir,
      durability: config.durability,
      ...(config.store ? { url: config.store.url, ...(config.store.schema ? { schema: config.store.schema } : {}) } : {}),
    });
  const pipeline =
    overrides.pipeline ??
    (await createPipeline({
      rules: { paths: config.rules.paths, builtin: config.rules.builtin },
      ...(config.correlationConfig ? { correlation: { configPath: config.correlationConfig } } : {}),
    }));
  for (const e of pipeline.ruleErrors) notice(`procwatch: rule ${e.source}${e.ruleId ? ` (${e.ruleId})` : ''}: ${e.reason}`);

  const metrics = new Metrics();
  const hub = new SseHub();
  const suppressions = new SuppressionIndex(await store.listSuppressions());
  const forwarder = new Forwarder(config.forwards, store, forwardCounters(metrics));
  const runner = new ActionRunner({
    store,
    workflows: config.workflows,
    deliveries: forwarder.attempts(),
    ...(forwarder.runnerBatch() ? { batch: forwarder.runnerBatch()! } : {}),
    onOutcome: (kind, status) => metrics.actions.inc({ kind, status }),
    onError: (err) => {
      metrics.errors.inc({ component: 'respond' });
      notice(`procwatch: response runner: ${err.message}`);
    },
  });

  // Later states of stored alerts are forwarded through the outbox: the store writes their forward actions in
  // the transaction of the change (store/outbox.ts); the runner is woken once it is committed.
  const updateOutbox = forwarder.updateOutbox();

  const ingestor = new Ingestor({
    store,
    detector: pipeline,
    workflows: config.workflows,
    suppressions,
    metrics,
    queueEvents: config.limits.queueEvents,
    commitEvents: config.limits.commitEvents,
    expectedEvents: config.retention.maxEvents,
    ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    ...(forwarder.size > 0 ? { planMore: (a: NewAlert) => forwarder.plan(a) } : {}),
    ...(updateOutbox ? { updateOutbox } : {}),
    onCommitted: (alerts, actionIds, hits) => {
      for (const a of alerts) {
        hub.publish('alert', a.id, {
          ...alertView({
            ...a,
            status: 'open',
            assignee: null,
            statusReason: null,
            user: a.user ?? null,
            incidentId: a.incidentId ?? null,
            createdAt: Date.now(),
            updatedAt: Date.now(),
          }),
        });
      }
      for (const id of hits) store.countSuppressionHit(id).catch(() => metrics.errors.inc({ component: 'store' }));
      if (actionIds.length > 0) runner.kick();
    },
    // Later events completed a stored alert's tree/lifetime/evidence: consoles showing it refresh.
    onContextUpdated: (rows) => {
      for (const row of rows) hub.publish('alert-updated', row.id, alertView(row));
      if (rows.length > 0 && updateOutbox) runner.kick();
    },
    onCommitFailed: everyTenSeconds((err, repeated) => notice(`procwatch: ${err.message}; answering 503 (retry)${repeated > 0 ? ` (${repeated} more since the last report)` : ''}`)),
    onDetectionError: (err, ev) => {
      notice(`procwatch: detection failed on ${ev.system.computer} ${ev.system.channel} record ${ev.system.recordId ?? '?'}: ${err.message}`);
      store.audit({
        actor: 'procwatch',
        action: 'detection.error',
        targetType: 'event',
        targetId: `${ev.system.computer}|${ev.system.channel}|${ev.system.recordId ?? ''}`,
        detail: { error: err.message },
      }).catch(() => metrics.errors.inc({ component: 'store' }));
    },
  });
  // Scale-out (--nats): requests are published to JetStream and answered once it stored them; `procwatch
  // worker`s detect and commit. Detection state then lives in the workers, so this node neither loads keys
  // nor replays events. The publisher offers the routes the Ingestor's submit/full/depth/drained surface.
  let publisher: JetStreamPublisher | undefined;
  if (config.nats) {
    publisher = await JetStreamPublisher.connect({
      url: config.nats.url,
      stream: config.nats.stream,
      ...(config.nats.partitions !== undefined ? { partitions: config.nats.partitions } : {}),
      maxBytes: config.nats.maxBytes,
      maxInflightEvents: config.limits.queueEvents,
    });
    notice(`procwatch: publishing to JetStream ${config.nats.url} stream ${publisher.stream} (${publisher.partitions} partitions)`);
  } else {
    await ingestor.loadKeys();
    const replayed = await ingestor.warmUp();
    if (replayed > 0) notice(`procwatch: correlation state rebuilt from ${replayed} retained events`);
  }
  const sink = publisher ? asIngestSink(publisher) : ingestor;
  // Alerts are made by the workers then: stream the ones PostgreSQL announces as committed.
  const unlisten =
    publisher && store instanceof PostgresStore
      ? await store.onAlerts(
          (ids) => {
            store.getAlerts(ids).then(
              (rows) => {
                for (const row of rows) hub.publish('alert', row.id, alertView(row));
              },
              () => metrics.errors.inc({ component: 'store' }),
            );
          },
          (err) => {
            metrics.errors.inc({ component: 'store' });
            notice(`procwatch: alert notifications: ${err.message}`);
          },
          (ids) => {
            store.getAlerts(ids).then(
              (rows) => {
                for (const row of rows) hub.publish('alert-updated', row.id, alertView(row));
              },
              () => metrics.errors.inc({ component: 'store' }),
            );
          },
        )
      : undefined;

  metrics.gauge('procwatch_queue_events', publisher ? 'Events waiting for the JetStream acknowledgement.' : 'Events waiting for commit.', () => sink.depth);
  metrics.gauge('procwatch_queue_capacity_events', 'Queue bound (429 beyond).', () => config.limits.queueEvents);
  metrics.gauge('procwatch_stream_subscribers', 'SSE clients connected.', () => hub.size);
  metrics.gauge('procwatch_rules_loaded', 'Rules loaded.', () => pipeline.rules.length);
  metrics.gauge('procwatch_extent_followed', 'certreq alerts whose extent later events update.', () => pipeline.correlator.extentStats()?.followed ?? 0);
  metrics.gauge('procwatch_extent_evicted', 'Followed certreq alerts and remembered destinations forgotten at their caps.', () => {
    const x = pipeline.correlator.extentStats();
    return x ? x.followedEvicted + x.destinationsEvicted + x.resolvedEvicted : 0;
  });
  metrics.gauge('procwatch_log_lines_dropped', 'Log lines lost to write failures (full disk, closed pipe).', () => droppedLogLines());

  const app = Fastify({
    logger: false,
    bodyLimit: config.limits.bodyBytes,
    ...(config.tls ? { https: { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } } : {}),
    return503OnClosing: true,
    // A client must deliver its whole request within this time (slow uploads would hold the in-flight budget).
    requestTimeout: 120_000,
  }) as unknown as FastifyInstance;
  // The API contract's schemas reject what they do not declare (an unknown parameter is a 400, not ignored).
  app.setValidatorCompiler(contractValidator);
  const registeredRoutes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) registeredRoutes.push({ method, url: r.url });
  });

  // Every body arrives as a Buffer (decompressed, size-checked); each route decides how to read it.
  app.removeAllContentTypeParsers();
  // Ingest bodies charge what they hold (inflated bytes included) to the in-flight budget as they arrive.
  const budget = new InflightBudget(config.limits.inflightBytes);
  const reservations = new WeakMap<FastifyRequest['raw'], Reservation>();
  app.addContentTypeParser('*', (req, payload, done) => {
    const reservation = reservations.get(req.raw);
    const hold = reservation ? (total: number): boolean => reservation.cover(total) : undefined;
    readBody(payload, req.headers['content-encoding'], config.limits, req.headers['content-length'], hold).then(
      (buf) => done(null, buf),
      (err: Error) => done(err, undefined),
    );
  });

  // Bytes of ingest bodies held now (released when the response is done or the client goes).
  metrics.gauge('procwatch_inflight_body_bytes', 'Ingest request body bytes held (inflated) while received or decoded.', () => budget.bytes);
  app.addHook('onRequest', async (req, reply) => {
    const path = pathOf(req);
    if (PUBLIC_PATHS.has(path) || path === '/console' || path.startsWith('/console/')) return;
    if (path === '/' && req.method === 'GET' && !req.headers.authorization && (req.headers.accept ?? '').includes('text/html')) {
      return reply.redirect('/console/');
    }
    const r = tokens.authenticator.check(req.headers.authorization);
    if (!r.ok) return sendError(reply, path, r.status, r.reason);
    const need = routeNeed(req.method, req.routeOptions.url);
    if (need !== 'any' && !r.scopes.includes(need)) {
      return sendError(reply, path, 403, `token "${r.actor}" lacks the ${need} scope needed for ${req.method} ${path} (it has: ${r.scopes.join(', ')})`);
    }
    Object.assign(req, { actor: r.actor, scopes: r.scopes });
    if (isIngest(path)) {
      // Admitted with a small charge (a declared Content-Length is only a promise: a slow client declaring
      // 16 MiB must not hold 16 MiB of budget); the reservation then grows with the bytes actually held.
      const declared = Number(req.headers['content-length']);
      const initial = Math.min(Number.isFinite(declared) ? declared : config.limits.bodyBytes, ADMISSION_BYTES, config.limits.bodyBytes);
      const reservation = sink.full() ? undefined : budget.admit(initial);
      if (!reservation) {
        metrics.rejected.inc();
        reply.header('retry-after', '1');
        return sendError(reply, path, 429, `${sink.full() ? 'ingest queue full' : 'too many request bodies in progress'}; retry after 1 s`);
      }
      reservations.set(req.raw, reservation);
      reply.raw.once('close', () => reservation.release());
    }
    return undefined;
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.requests.inc({ route: req.routeOptions.url ?? 'unmatched', code: String(reply.statusCode) });
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const path = pathOf(req);
    const invalid = validationError(err);
    if (invalid) return sendError(reply, path, invalid.status, invalid.message, invalid.field);
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return sendError(reply, path, err.status, err.message, err instanceof FieldError ? err.field : undefined);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendError(reply, path, err.statusCode, err.message);
    metrics.errors.inc({ component: 'http' });
    notice(`procwatch: ${req.method} ${path}: ${err.stack ?? err.message}`);
    return sendError(reply, path, 503, `internal error: ${err.message}; the batch was not committed, retry`);
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, pathOf(req), 404, `no route ${req.method} ${pathOf(req)}`));

  app.get('/healthz', async () => ({ status: 'ok' }));
  const consoleFiles = loadConsole(notice);
  const securityHeaders = {
    'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
  };
  app.get('/console', async (_req, reply) => reply.redirect('/console/'));
  app.get('/console/*', async (req, reply) => {
    const name = (req.params as { '*': string })['*'] || 'index.html';
    const f = consoleFiles.get(name);
    if (!f) throw new HttpError(404, `no file ${name}`);
    return reply.headers(securityHeaders).type(f.type).send(f.body);
  });

  registerIngestRoutes(app, {
    ingestor: sink,
    metrics,
    esVersion: config.elasticsearchVersion,
    decode: { maxInflatedBytes: config.limits.decompressedBytes, maxSpoolBytes: config.limits.spoolBytes, maxDocumentBytes: config.limits.eventBytes },
  });
  registerApiRoutes(app, {
    store,
    runner,
    ingestor: sink,
    metrics,
    hub,
    suppressions,
    rules: pipeline.rules,
    ruleErrors: pipeline.ruleErrors,
    ruleWarnings: pipeline.warnings,
    queueCapacity: config.limits.queueEvents,
    version,
    startedAt,
    ...(updateOutbox ? { alertOutbox: updateOutbox, afterAlertUpdate: async () => runner.kick() } : {}),
    incidentExtras: (id: string) => incidentActionsView({ store, runner, workflows: config.workflows }, id),
    registeredRoutes,
  });
  registerStatsRoutes(app, store);
  registerIncidentActions(app, { store, runner, workflows: config.workflows });

  const pruneTimer = setInterval(() => {
    store.pruneEvents(config.retention.hours * 3_600_000, config.retention.maxEvents).catch(() => metrics.errors.inc({ component: 'retention' }));
  }, 60_000);
  pruneTimer.unref();

  await runner.start();
  await app.listen({ host: config.host, port: config.port });
  tokens.start();
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${hostForUrl}:${port}`;

  let closed = false;
  return {
    url,
    port,
    app,
    store,
    ingestor,
    runner,
    metrics,
    pipeline,
    reloadTokens: (why = 'requested') => tokens.reload(why),
    async close() {
      if (closed) return;
      closed = true;
      tokens.close();
      clearInterval(pruneTimer);
      await unlisten?.();
      hub.close();
      await app.close();
      await ingestor.drained();
      await publisher?.close();
      await runner.stop();
      forwarder.close();
      await store.close();
    },
  };
}

/**
 * The routes type their dependency as the Ingestor but use only this surface; the Pick makes the compiler
 * check that the JetStream publisher really offers it.
 */
function asIngestSink(p: Pick<Ingestor, 'submit' | 'full' | 'depth' | 'drained'>): Ingestor {
  return p as Ingestor;
}

/**
 * At most one report per ten seconds, with how many were held back: a store that fails every commit (a full disk,
 * a database outage) is reported without flooding the log.
 */
function everyTenSeconds(report: (err: Error, repeated: number) => void): (err: Error) => void {
  let last = 0;
  let held = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < 10_000) {
      held++;
      return;
    }
    report(err, held);
    last = now;
    held = 0;
  };
}
