/**
 * Token scopes (the roles of the service): what each may do. Which HTTP route needs which scope is the HTTP
 * adapter's business (src/server/scopes.ts).
 *
 *   ingest   event intake (POST /ingest, Elasticsearch _bulk and its start-up probes, Splunk HEC)
 *   read     GET under /api, the SSE stream, /metrics
 *   triage   alert/incident status, assignee and notes; suppressions (implies read)
 *   respond  approve/reject response actions (implies read)
 *   admin    everything
 */
export const SCOPES = ['ingest', 'read', 'triage', 'respond', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Scopes a token holds once implications are applied (admin ⇒ all; triage, respond ⇒ read). */
export function expandScopes(granted: readonly Scope[]): Scope[] {
  const out = new Set<Scope>(granted);
  if (out.has('admin')) for (const s of SCOPES) out.add(s);
  if (out.has('triage') || out.has('respond')) out.add('read');
  return SCOPES.filter((s) => out.has(s));
}
