// Worker entry: load tsx in this thread (Node 20 does not pass loader hooks to workers), then the TS worker.
import { register } from 'tsx/esm/api';

register();
await import('./fuzzWorker.ts');
