// The NATS worker under a failing PostgreSQL commit: the message is not acknowledged (nak), JetStream
// redelivers it, and the redelivery raises the alert — stored exactly once, in one incident.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { EventWorker } from '../../src/distribute/worker.js';
import { JetStreamPublisher } from '../../src/distribute/publisher.js';
import { defaultConfig } from '../../src/service/config.js';
import { decodeDocument } from '../../src/formats/index.js';
import type { Store } from '../../src/store/index.js';
import type { WinEvent } from '../../src/model/event.js';
import { benign, sysmonProcessCreate } from '../server/support/events.js';
import { until } from '../server/support/http.js';
import { freshStore, NATS_URL, requireNats, requirePostgres, uniqueName } from './support/services.js';

const STREAM = uniqueName('PWFAIL');
let store: Awaited<ReturnType<typeof freshStore>>;

before(async () => {
  await requirePostgres();
  await requireNats();
  store = await freshStore(uniqueName('pw_wfail'));
});
after(async () => {
  await store?.drop().catch(() => {});
  const nc = await connect({ servers: NATS_URL });
  await (await nc.jetstreamManager()).streams.delete(STREAM).catch(() => {});
  await nc.close();
});

/** Delegates to `inner`; its next `failures` commits throw as a lost PostgreSQL connection does. */
function failingCommits(inner: Store, failures: { left: number }): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'commit') {
        return async (...args: Parameters<Store['commit']>) => {
          if (failures.left > 0) {
            failures.left--;
            throw new Error('injected: Connection terminated unexpectedly');
          }
          return target.commit(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('a worker whose commit fails naks the batch; the redelivery stores every alert exactly once', { timeout: 60_000 }, async () => {
  const nats = { url: NATS_URL, stream: STREAM, partitions: 1, ackWaitMs: 2000, maxBytes: -1 };
  const failures = { left: 2 };
  const worker = await EventWorker.start({ config: { ...defaultConfig(), nats }, nats, store: failingCommits(store, failures), notice: () => {} });
  const publisher = await JetStreamPublisher.connect({ ...nats, maxInflightEvents: 10_000 });
  try {
    const docs = [sysmonProcessCreate({ recordId: 1, host: 'WFAIL01' }), benign(2, 'WFAIL01'), sysmonProcessCreate({ recordId: 3, host: 'WFAIL01', pid: 901 })];
    await publisher.submit(docs.map((d) => decodeDocument(d, { file: 'test' }) as WinEvent));
    await until(() => worker.stats.messages === 1, 30_000, 'the batch to be committed and acknowledged');
    assert.equal(failures.left, 0, 'the first two attempts failed');
    assert.ok(worker.stats.failed >= 2 && worker.stats.redelivered >= 2, JSON.stringify(worker.stats));
    assert.equal(worker.stats.alerts, 2, 'the redelivery raised both alerts');
    const alerts = await store.listAlerts({ host: 'WFAIL01', limit: 100, offset: 0 });
    assert.equal(alerts.total, 2);
    const incidents = await store.listIncidents({ host: 'WFAIL01', limit: 10, offset: 0 });
    assert.deepEqual(incidents.items.map((i) => i.alertCount), [2]);
  } finally {
    await publisher.close();
    await worker.stop();
  }
});
