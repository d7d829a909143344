/**
 * GET /api/openapi.json: an OpenAPI 3.1 document generated from the contract's route table (the same schemas
 * the server validates with). Routes outside the JSON contract — ingest in its client dialects (Elasticsearch,
 * Splunk HEC), the console's files, /healthz — are listed too, without schemas, so the document names every
 * route the server answers.
 */
import type { TSchema } from '@sinclair/typebox';
import { ErrorBody, ROUTES, type RouteContract } from './contract.js';
import { routeNeed } from './scopes.js';

export interface RegisteredRoute {
  method: string;
  url: string;
}

type JsonObject = Record<string, unknown>;

/** The schema as plain JSON (TypeBox's symbol-keyed markers dropped). */
function plain(schema: TSchema): JsonObject {
  return JSON.parse(JSON.stringify(schema)) as JsonObject;
}

/** `/api/alerts/:id` → `/api/alerts/{id}`; `/console/*` → `/console/{path}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

function parameters(c: RouteContract): JsonObject[] {
  const out: JsonObject[] = [];
  for (const [where, schema] of [['path', c.params], ['query', c.querystring]] as const) {
    if (!schema) continue;
    const props = (schema as TSchema & { properties?: Record<string, TSchema> }).properties ?? {};
    const required = new Set((schema as TSchema & { required?: string[] }).required ?? []);
    for (const [name, s] of Object.entries(props)) {
      const p = plain(s);
      out.push({ name, in: where, required: where === 'path' || required.has(name), ...(p.description ? { description: p.description } : {}), schema: p });
    }
  }
  return out;
}

function operation(c: RouteContract): JsonObject {
  const need = routeNeed(c.method, c.url);
  const responses: JsonObject = {};
  for (const [status, schema] of Object.entries(c.responses)) {
    responses[status] = schema
      ? { description: 'success', content: { 'application/json': { schema: plain(schema) } } }
      : { description: 'success', ...(c.produces ? { content: { [c.produces]: { schema: { type: 'string' } } } } : {}) };
  }
  const error = { content: { 'application/json': { schema: plain(ErrorBody) } } };
  if (c.querystring || c.params || c.body) responses['400'] = { description: 'invalid request: an unknown or ill-typed parameter or field (named in `field`)', ...error };
  responses['401'] = { description: 'no or unknown token', ...error };
  responses['403'] = { description: 'the token lacks the scope', ...error };
  if (c.params) responses['404'] = { description: 'no such item', ...error };
  return {
    summary: c.summary,
    description: `Needs ${need === 'any' ? 'any valid token' : `the ${need} scope`}.`,
    'x-scope': need,
    parameters: parameters(c),
    ...(c.body ? { requestBody: { required: true, content: { 'application/json': { schema: plain(c.body) } } } } : {}),
    responses,
  };
}

/** A route outside the JSON contract (client dialects, files, liveness). */
function dialectOperation(method: string, url: string): JsonObject {
  const need = routeNeed(method, url);
  const what = url.startsWith('/services/collector')
    ? 'Splunk HTTP Event Collector dialect (see docs/ops); outside the JSON API contract'
    : url === '/ingest'
      ? 'event intake (NDJSON, JSON, XML, EVTX; see docs/ops); outside the JSON API contract'
      : url.startsWith('/console')
        ? 'the web console (static files)'
        : url === '/healthz'
          ? 'liveness (no token)'
          : 'Elasticsearch-compatible dialect for shippers (see docs/ops); outside the JSON API contract';
  const params = [...url.matchAll(/:([A-Za-z0-9_]+)|\*$/g)].map((m) => ({ name: m[1] ?? 'path', in: 'path', required: true, schema: { type: 'string' } }));
  return { summary: what, 'x-scope': need, parameters: params, responses: { default: { description: 'see the dialect' } } };
}

/** The document for the routes the server registered (HEAD twins of GET routes are folded into GET). */
export function openApiDocument(registered: readonly RegisteredRoute[], version: string): JsonObject {
  const contracts = new Map<string, RouteContract>(Object.values(ROUTES).map((c: RouteContract) => [`${c.method} ${c.url}`, c]));
  const paths: Record<string, JsonObject> = {};
  for (const r of registered) {
    if (r.method === 'HEAD' && registered.some((o) => o.method === 'GET' && o.url === r.url)) continue;
    const c = contracts.get(`${r.method} ${r.url}`);
    const path = openApiPath(r.url);
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = c ? operation(c) : dialectOperation(r.method, r.url);
  }
  return {
    openapi: '3.1.0',
    info: { title: 'procwatch API', version, description: 'Payload keys are snake_case; stored documents (alert, request, result, detail, extra) keep their own names. Errors: {error, field?}.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a procwatch token (docs/ops/access.md)' } },
      schemas: { Error: plain(ErrorBody) },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
