/** Worker thread entry of the block runner (parallel.ts): runs the jobs it is sent, replies with their results. */
import { parentPort } from 'node:worker_threads';
import { runBlockJob, type BlockJob } from './blocks.js';

parentPort?.on('message', (msg: { seq: number; job: BlockJob }) => {
  runBlockJob(msg.job).then(
    (result) => parentPort?.postMessage({ seq: msg.seq, result }),
    (err: unknown) => parentPort?.postMessage({ seq: msg.seq, failure: err instanceof Error ? err.message : String(err) }),
  );
});
