/**
 * Worker side of the fuzz harness (see fuzz.ts): parses each mutant, renders every record it yields (root(),
 * XML, JSON — lazy decoding happens there) and reports time, counts, heap growth and any exception.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compileLiterals, parseEvtxBuffer, recordMayContain, recordSystemKey, recordToJson, recordToJsonString, recordToXml, type EvtxRecord } from '../../../src/evtx/index.js';
import { ChunkRecord } from '../../../src/evtx/record.js';
import { ByteSink, writeRecordJson } from '../../../src/evtx/render/jsonDirect.js';
import { recordToWinEvent } from '../../../src/formats/evtxFile.js';
import { everyFeatureFile } from '../writer/samples.js';
import { loadSeedfiles, makeMutant, type CaseResult, type FuzzOptions, type Seedfile, type WorkerMessage } from './fuzz.js';

const options = workerData as FuzzOptions;
const literals = compileLiterals(['certreq', 'post', 'config', 'http', 'win.ini'])!;
const port = parentPort!;
const sink = new ByteSink(1 << 16);

/**
 * The fast paths must agree with the element tree on damaged input too: the direct JSON writer writes exactly
 * what recordToJsonString renders (or gives up), and the cheap System header read gives the rendered
 * provider/EventID (or gives up). A disagreement is thrown, so the case is reported with its seed.
 */
function checkFastPaths(record: EvtxRecord): void {
  let tree: string | null = null;
  let event: ReturnType<typeof recordToWinEvent> | null = null;
  try {
    tree = recordToJsonString(record.root());
    event = recordToWinEvent(record, record.root(), { file: 'fuzz', dialect: 'evtx' });
  } catch {
    // damaged, or not an event: fast paths may give up or throw too, but must not claim a rendering
  }
  sink.pos = 0;
  if (record instanceof ChunkRecord && writeRecordJson(record, sink)) {
    const fast = sink.view().toString('utf8');
    if (fast !== tree) throw new Error(`direct JSON writer disagrees with the tree for record ${record.recordId}:\n${fast.slice(0, 300)}\n${String(tree).slice(0, 300)}`);
  }
  let key: ReturnType<typeof recordSystemKey> = null;
  try {
    key = recordSystemKey(record);
  } catch {
    return;
  }
  if (key && event && key.provider !== event.system.provider) throw new Error(`recordSystemKey provider ${key.provider} != ${event.system.provider}`);
}
const post = (m: WorkerMessage): void => port.postMessage(m);

const seeds: Seedfile[] = loadSeedfiles(options.seedPaths);
if (options.includeFixtures) seeds.push({ name: 'writer:every-feature', bytes: everyFeatureFile() });

for (let index = 0; index < options.cases; index++) {
  const m = makeMutant(options.seed, index, seeds);
  post({ type: 'start', index, describe: `case ${index} (${m.base}, ${m.kind}: ${m.detail}, seed ${options.seed})` });
  const heapStart = process.memoryUsage().heapUsed;
  let heapPeak = heapStart;
  let records = 0;
  let errors = 0;
  let exception: string | undefined;
  const t0 = performance.now();
  try {
    for (const item of parseEvtxBuffer(m.bytes, `fuzz-${index}.evtx`)) {
      if ('record' in item) {
        records++;
        const root = item.record.root();
        recordToXml(root);
        recordToJson(root);
      } else {
        errors++;
        if (typeof item.error.reason !== 'string') throw new Error('error item without a reason');
      }
      if (((records + errors) & 255) === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    // The scan path: lazy records behind the literal prefilter. There root() may throw by contract (the
    // decoder turns that into an error item), but iteration itself must not.
    for (const item of parseEvtxBuffer(m.bytes, `fuzz-${index}.evtx`, { lazy: true })) {
      if (!('record' in item)) continue;
      try {
        if (recordMayContain(item.record, literals)) recordToJson(item.record.root());
      } catch {
        // allowed in lazy mode
      }
      checkFastPaths(item.record);
    }
  } catch (e) {
    exception = e instanceof Error ? `${e.message}\n${e.stack?.split('\n').slice(1, 6).join('\n')}` : String(e);
  }
  const ms = performance.now() - t0;
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  const result: CaseResult = {
    index,
    base: m.base,
    kind: m.kind,
    detail: m.detail,
    size: m.bytes.length,
    ms,
    records,
    errors,
    heapGrowth: heapPeak - heapStart,
    ...(exception !== undefined ? { exception } : {}),
  };
  post({ type: 'done', result });
}
post({ type: 'finished' });
