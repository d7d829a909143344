/** Worker thread entry of the block runner (parallel.ts): runs the jobs it is sent, replies with their results. */
import { parentPort } from 'node:worker_threads';
import { runBlockJob, type BlockJob } from './blocks.js';

parentPort?.on('message', (msg: { seq: number; job: BlockJob }) => {
  Promise.resolve(msg.job).then(runBlockJob).then(
    (result) => {
      // Rendered bytes move to the main thread instead of being copied.
      const bytes = (result as { bytes?: unknown } | null)?.bytes;
      parentPort?.postMessage({ seq: msg.seq, result }, bytes instanceof Uint8Array ? [bytes.buffer as ArrayBuffer] : []);
    },
    (err: unknown) => parentPort?.postMessage({ seq: msg.seq, failure: err instanceof Error ? err.message : String(err) }),
  );
});
