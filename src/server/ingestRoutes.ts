/**
 * Ingest endpoints: `POST /ingest` (any dialect the decoders read), Elasticsearch `_bulk` (+ the probes ES
 * clients make at start-up) and Splunk HEC. Each decodes its body, submits the events to the ingest sink and
 * answers after the commit, in the shape its clients expect.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeDocument, decodeStream, type DecodeOptions } from '../formats/index.js';
import { bodyFaults } from './body.js';
import { formatDecodeError, type DecodeError, type WinEvent } from '../model/event.js';
import type { IngestSink } from '../service/ports.js';
import { storedKey } from '../service/ingest.js';
import type { Metrics } from '../service/metrics.js';
import { bulkResponse, esClusterHealth, esError, esInfo, esLicense, esXpack, parseBulk, type ItemOutcome } from './elastic.js';
import { HEC, splitHec } from './hec.js';
import { HttpError } from './errors.js';

export interface IngestRouteDeps {
  sink: IngestSink;
  metrics: Metrics;
  esVersion: string;
  /** Bounds for decoding bodies (nested gzip, EVTX spool, one event's size). */
  decode?: Pick<DecodeOptions, 'maxInflatedBytes' | 'maxSpoolBytes' | 'maxDocumentBytes'>;
}

/** At most this many decode errors are listed in a response (all are counted). */
const MAX_LISTED_ERRORS = 100;

/** When the request arrived (performance.now() clock), for the received → committed latency metric. */
function arrival(reply: FastifyReply): number {
  return performance.now() - reply.elapsedTime;
}

function bodyBuffer(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

function isEvent(r: WinEvent | DecodeError): r is WinEvent {
  return typeof (r as WinEvent).system === 'object' && (r as WinEvent).system !== null;
}

export async function decodeBody(buf: Buffer, name: string, options: DecodeOptions = {}): Promise<{ events: WinEvent[]; errors: DecodeError[] }> {
  const events: WinEvent[] = [];
  const errors: DecodeError[] = [];
  for await (const item of decodeStream(Readable.from([buf]), name, options)) {
    if ('event' in item) events.push(item.event);
    else errors.push(item.error);
  }
  // Trailing garbage after the body's last gzip member: its data was taken, the garbage is reported.
  for (const reason of bodyFaults.get(buf) ?? []) errors.push({ file: name, reason: `gzip: ${reason}` });
  return { events, errors };
}

export function registerIngestRoutes(app: FastifyInstance, deps: IngestRouteDeps): void {
  const { sink, metrics } = deps;
  const decodeOptions = deps.decode ?? {};

  // ---- generic ingest -------------------------------------------------------------------------------
  app.post('/ingest', async (req, reply) => {
    const buf = bodyBuffer(req);
    if (buf.length === 0) throw new HttpError(400, 'empty body: send NDJSON, a JSON array or Windows event XML');
    const { events, errors } = await decodeBody(buf, 'http:/ingest', decodeOptions);
    metrics.eventsReceived.inc({}, events.length);
    metrics.decodeErrors.inc({}, errors.length);
    const taken = events.length; // not `events` after the await: the decoded events need not outlive detection
    const outcome = await sink.submit(events, arrival(reply));
    const body = {
      ...outcome,
      rejected: errors.length,
      errors: errors.slice(0, MAX_LISTED_ERRORS).map((e) => ({ ...e, message: formatDecodeError(e) })),
    };
    if (errors.length === 0) return reply.code(200).send(body);
    const message =
      taken > 0
        ? `${errors.length} document(s) malformed and skipped; the other ${taken} were taken`
        : `no event could be decoded (${errors.length} error(s))`;
    return reply.code(400).send({ error: message, ...body });
  });

  // ---- Elasticsearch ----------------------------------------------------------------------------------
  const es = (reply: FastifyReply): FastifyReply => reply.header('x-elastic-product', 'Elasticsearch');
  app.get('/', async (req, reply) => es(reply).send(esInfo(deps.esVersion)));
  app.get('/_license', async (_req, reply) => es(reply).send(esLicense()));
  app.get('/_xpack', async (_req, reply) => es(reply).send(esXpack(deps.esVersion)));
  app.get('/_cluster/health', async (_req, reply) => es(reply).send(esClusterHealth()));
  app.get('/_nodes', async (_req, reply) => es(reply).send({ _nodes: { total: 1, successful: 1, failed: 0 }, cluster_name: 'procwatch', nodes: {} }));
  // Templates, ILM policies, pipelines, data streams: clients install them at start-up; procwatch has no use
  // for them, so lookups answer "not there" and installs answer "acknowledged".
  for (const prefix of ['/_index_template', '/_template', '/_component_template', '/_ilm/policy', '/_ingest/pipeline', '/_data_stream']) {
    app.get(`${prefix}/:name`, async (req, reply) => {
      const name = (req.params as { name: string }).name;
      return es(reply).code(404).send(esError(404, 'resource_not_found_exception', `${prefix.slice(1)} [${name}] not found`));
    });
    app.put(`${prefix}/:name`, async (_req, reply) => es(reply).send({ acknowledged: true }));
    app.post(`${prefix}/:name`, async (_req, reply) => es(reply).send({ acknowledged: true }));
  }
  app.put('/:index', async (req, reply) => {
    const index = (req.params as { index: string }).index;
    return es(reply).send({ acknowledged: true, shards_acknowledged: true, index });
  });

  const bulk = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const started = performance.now();
    const defaultIndex = (req.params as { index?: string }).index ?? 'procwatch';
    const items = parseBulk(bodyBuffer(req).toString('utf8'), defaultIndex);
    if (items.length === 0) {
      return es(reply).code(400).send(esError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;'));
    }
    const outcomes: ItemOutcome[] = [];
    const events: WinEvent[] = [];
    const keys: string[] = [];
    items.forEach((it, i) => {
      if (it.error !== undefined || it.doc === undefined) {
        outcomes.push({ status: 400, error: it.error ?? 'no document' });
        return;
      }
      const r = decodeDocument(it.doc, { file: 'http:/_bulk', line: it.line + 1, index: i });
      if (isEvent(r)) {
        const key = storedKey(r);
        events.push(r);
        keys.push(key);
        outcomes.push({ status: 201, id: key });
      } else {
        outcomes.push({ status: 400, error: `line ${it.line + 1}: ${r.reason}` });
      }
    });
    metrics.eventsReceived.inc({}, events.length);
    metrics.decodeErrors.inc({}, outcomes.filter((o) => o.status === 400).length);
    await sink.submit(events, arrival(reply), keys);
    return es(reply).send(bulkResponse(items, outcomes, performance.now() - started));
  };
  app.post('/_bulk', bulk);
  app.put('/_bulk', bulk);
  app.post('/:index/_bulk', bulk);
  app.put('/:index/_bulk', bulk);

  // ---- Splunk HEC -------------------------------------------------------------------------------------
  // Indexer acknowledgement: a client that names a channel gets an ackId. Every batch is committed before it
  // is answered, so each ackId is already acknowledged when the client polls /services/collector/ack.
  const ackIds = new Map<string, number>();
  const withAck = (req: FastifyRequest, body: Record<string, unknown>): Record<string, unknown> => {
    const channel = req.headers['x-splunk-request-channel'] ?? (req.query as { channel?: string } | undefined)?.channel;
    if (typeof channel !== 'string' || channel === '') return body;
    if (!ackIds.has(channel) && ackIds.size >= 10_000) ackIds.clear(); // bounded: ids only need to be unique per channel
    const id = ackIds.get(channel) ?? 0;
    ackIds.set(channel, id + 1);
    return { ...body, ackId: id };
  };
  app.post('/services/collector/ack', async (req, reply) => {
    let acks: unknown;
    try {
      acks = (JSON.parse(bodyBuffer(req).toString('utf8') || '{}') as { acks?: unknown }).acks;
    } catch {
      return reply.code(400).send(HEC.invalidFormat);
    }
    if (!Array.isArray(acks)) return reply.code(400).send(HEC.invalidFormat);
    return reply.send({ acks: Object.fromEntries(acks.map((a) => [String(a), true])) });
  });

  const hecEvent = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const text = bodyBuffer(req).toString('utf8');
    if (text.trim() === '') return reply.code(400).send(HEC.noData);
    const pieces = splitHec(text, decodeOptions.maxDocumentBytes);
    const events: WinEvent[] = [];
    const errors: { index: number; reason: string }[] = [];
    for (const p of pieces) {
      if ('error' in p) {
        errors.push({ index: p.index, reason: p.error });
        continue;
      }
      const r = decodeDocument(p.doc, { file: 'http:/services/collector/event', index: p.index, dialect: 'splunk-hec' });
      if (isEvent(r)) events.push(r);
      else errors.push({ index: p.index, reason: `event ${p.index + 1}: ${r.reason}` });
    }
    metrics.eventsReceived.inc({}, events.length);
    metrics.decodeErrors.inc({}, errors.length);
    await sink.submit(events, arrival(reply));
    if (errors.length === 0) return reply.send(withAck(req, { ...HEC.success }));
    return reply.code(400).send({
      ...HEC.invalidFormat,
      'invalid-event-number': errors[0]!.index,
      accepted: events.length,
      errors: errors.slice(0, MAX_LISTED_ERRORS),
    });
  };
  for (const path of ['/services/collector', '/services/collector/event', '/services/collector/event/1.0']) app.post(path, hecEvent);
  const hecRaw = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const buf = bodyBuffer(req);
    if (buf.length === 0) return reply.code(400).send(HEC.noData);
    const { events, errors } = await decodeBody(buf, 'http:/services/collector/raw', decodeOptions);
    metrics.eventsReceived.inc({}, events.length);
    metrics.decodeErrors.inc({}, errors.length);
    await sink.submit(events, arrival(reply));
    if (errors.length === 0) return reply.send(withAck(req, { ...HEC.success }));
    return reply.code(400).send({ ...HEC.invalidFormat, accepted: events.length, errors: errors.slice(0, MAX_LISTED_ERRORS).map(formatDecodeError) });
  };
  for (const path of ['/services/collector/raw', '/services/collector/raw/1.0']) app.post(path, hecRaw);
  for (const path of ['/services/collector/health', '/services/collector/health/1.0']) {
    app.get(path, async (_req, reply) => (sink.full() ? reply.code(503).send(HEC.busy) : reply.send(HEC.healthy)));
  }
}
