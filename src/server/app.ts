/**
 * The HTTP adapter of the service: Fastify with authentication on every ingest and API route, the ingest
 * dialects, the REST API, SSE (subscribed to the service's alert feed), /metrics and the console's files. It
 * uses the service core through its interfaces (src/service) and knows nothing of how batches are committed
 * or where alerts are made; src/cli/startServer.ts composes it with the service.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AlertRow } from '../store/types.js';
import type { ServeConfig } from '../service/config.js';
import type { Service } from '../service/compose.js';
import type { AlertFeed } from '../service/ports.js';
import { readBody } from './body.js';
import { InflightBudget, type Reservation } from './budget.js';
import { asHttpError, HttpError } from './errors.js';
import { contractValidator, FieldError, validationError } from './validation.js';
import type { RegisteredRoute } from './openapi.js';
import { SseHub } from './sse.js';
import { TokenRegistry } from './tokenRegistry.js';
import { routeNeed } from './scopes.js';
import { registerIngestRoutes } from './ingestRoutes.js';
import { alertView, registerApiRoutes } from './apiRoutes.js';
import { registerStatsRoutes } from './statsRoutes.js';
import { incidentActionsView, registerIncidentActions } from './incidentActions.js';
import { esError } from './elastic.js';
import { HEC } from './hec.js';

/** What the HTTP adapter uses of the composed service. */
export type HttpService = Pick<Service, 'config' | 'store' | 'pipeline' | 'metrics' | 'suppressions' | 'runner' | 'forwarder' | 'sink' | 'feed'>;

export interface HttpServer {
  app: FastifyInstance;
  tokens: TokenRegistry;
  /** Listens on the configured host and port and starts watching the token files; resolves with the URL. */
  listen(): Promise<{ url: string; port: number }>;
  /** Stops watching tokens, ends SSE streams, stops accepting requests (those in progress finish). */
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

/** The token registry of the configuration (read now: a bad token file is a start-up error). */
export function httpTokens(config: ServeConfig, notice: (line: string) => void): TokenRegistry {
  return new TokenRegistry({ tokens: config.tokens, dataDir: config.dataDir, notice, ...(config.configPath ? { configPath: config.configPath } : {}) });
}

/** SSE: every alert the feed announces goes to the subscribed consoles. */
export function streamAlerts(feed: AlertFeed, hub: SseHub): () => void {
  return feed.subscribe((change) => {
    const event = change.kind === 'created' ? 'alert' : 'alert-updated';
    for (const row of change.rows) hub.publish(event, row.id, alertView(row));
  });
}

/** The Fastify instance: body limits, TLS, the contract's validator, the route list kept for OpenAPI. */
function fastifyFor(config: ServeConfig): { app: FastifyInstance; registeredRoutes: RegisteredRoute[] } {
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
  return { app, registeredRoutes };
}

/**
 * Authentication and scopes on every route but the public ones; ingest requests admitted against the sink's
 * queue and the in-flight body budget, their bodies charged to it as they arrive.
 */
function guardRequests(app: FastifyInstance, s: HttpService, tokens: TokenRegistry): void {
  const { config, metrics, sink } = s;
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
}

/** Errors in the shape each route's clients understand; anything unexpected is a counted 503. */
function answerErrors(app: FastifyInstance, s: HttpService, notice: (line: string) => void): void {
  app.setErrorHandler((thrown: Error & { statusCode?: number }, req, reply) => {
    const path = pathOf(req);
    const invalid = validationError(thrown);
    if (invalid) return sendError(reply, path, invalid.status, invalid.message, invalid.field);
    const err = asHttpError(thrown);
    if (err instanceof HttpError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return sendError(reply, path, err.status, err.message, err instanceof FieldError ? err.field : undefined);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return sendError(reply, path, err.statusCode, err.message);
    s.metrics.errors.inc({ component: 'http' });
    notice(`procwatch: ${req.method} ${path}: ${err.stack ?? err.message}`);
    return sendError(reply, path, 503, `internal error: ${err.message}; the batch was not committed, retry`);
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, pathOf(req), 404, `no route ${req.method} ${pathOf(req)}`));
}

/** /healthz and the console's files (public: the console asks for a token itself). */
function publicRoutes(app: FastifyInstance, notice: (line: string) => void): void {
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
}

/** The HTTP front end of `service`, not yet listening. */
export function createHttpServer(s: HttpService, tokens: TokenRegistry, notice: (line: string) => void, startedAt = Date.now()): HttpServer {
  const { config, store, metrics, pipeline, forwarder, runner, sink } = s;
  const { app, registeredRoutes } = fastifyFor(config);
  const hub = new SseHub();
  const unstream = streamAlerts(s.feed, hub);
  metrics.gauge('procwatch_stream_subscribers', 'SSE clients connected.', () => hub.size);
  guardRequests(app, s, tokens);
  answerErrors(app, s, notice);
  publicRoutes(app, notice);

  registerIngestRoutes(app, {
    sink,
    metrics,
    esVersion: config.elasticsearchVersion,
    decode: { maxInflatedBytes: config.limits.decompressedBytes, maxSpoolBytes: config.limits.spoolBytes, maxDocumentBytes: config.limits.eventBytes },
  });
  registerApiRoutes(app, {
    store,
    runner,
    sink,
    metrics,
    hub,
    suppressions: s.suppressions,
    rules: pipeline.rules,
    ruleErrors: pipeline.ruleErrors,
    ruleWarnings: pipeline.warnings,
    queueCapacity: config.limits.queueEvents,
    version: readVersion(),
    startedAt,
    ...(forwarder.updateOutbox() ? { alertOutbox: forwarder.updateOutbox()!, afterAlertUpdate: async () => runner.kick() } : {}),
    incidentExtras: (id: string) => incidentActionsView({ store, runner, workflows: config.workflows }, id),
    registeredRoutes,
  });
  registerStatsRoutes(app, store);
  registerIncidentActions(app, { store, runner, workflows: config.workflows });

  return {
    app,
    tokens,
    async listen() {
      await app.listen({ host: config.host, port: config.port });
      tokens.start();
      const addr = app.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : config.port;
      const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
      return { url: `${config.tls ? 'https' : 'http'}://${hostForUrl}:${port}`, port };
    },
    async close() {
      tokens.close();
      unstream();
      hub.close();
      await app.close();
    },
  };
}
