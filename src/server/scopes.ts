/**
 * The scope each HTTP route needs (the scopes themselves: src/service/roles.ts). A route not listed here needs
 * `admin` (fail closed: a route added without a decision is reachable by admins only).
 */
import type { Scope } from '../service/roles.js';

/** What a route needs: a scope, or only a valid token (`any`: /api/me). */
export type Need = Scope | 'any';

const API_ROUTES: Record<string, Need> = {
  'GET /api/me': 'any',
  'PATCH /api/alerts/:id': 'triage',
  'POST /api/alerts/:id/status': 'triage',
  'PATCH /api/incidents/:id': 'triage',
  'POST /api/incidents/:id/status': 'triage',
  'POST /api/suppressions': 'triage',
  'POST /api/suppressions/preview': 'triage',
  'DELETE /api/suppressions/:id': 'triage',
  'POST /api/incidents/:id/actions': 'respond',
  'POST /api/actions/:id/approve': 'respond',
  'POST /api/actions/:id/reject': 'respond',
};

/** The Elasticsearch-compatible surface a shipper touches (bulk and the probes clients make at start-up). */
function isElasticRoute(method: string, url: string): boolean {
  if (url === '/_bulk' || url === '/:index/_bulk' || url === '/:index') return true;
  if (method === 'GET' || method === 'HEAD') {
    if (['/', '/_license', '/_xpack', '/_cluster/health', '/_nodes'].includes(url)) return true;
  }
  return /^\/(_index_template|_template|_component_template|_ilm\/policy|_ingest\/pipeline|_data_stream)\/:name$/.test(url);
}

/** The scope a request to route `url` (the route pattern, e.g. /api/alerts/:id) with `method` needs. */
export function routeNeed(method: string, url: string | undefined): Need {
  if (url === undefined) return 'any'; // no such route: any valid token gets the 404
  const m = method === 'HEAD' ? 'GET' : method;
  const listed = API_ROUTES[`${m} ${url}`];
  if (listed) return listed;
  if (url === '/ingest' || url.startsWith('/services/collector')) return 'ingest';
  if (isElasticRoute(m, url)) return 'ingest';
  if (m === 'GET' && (url.startsWith('/api/') || url === '/metrics')) return 'read';
  return 'admin';
}
