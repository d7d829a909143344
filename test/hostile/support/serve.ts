/** A real `procwatch serve` child for hostile-input tests: its URL, its peak RSS (VmHWM) and a stop function. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { REPO_ROOT } from '../../helpers/paths.js';
import { TOKEN } from '../../server/support/http.js';

export interface ServeChild {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** Peak resident memory of the server process so far, in MiB. */
  peakRssMiB: () => number;
  stop: () => Promise<void>;
}

export async function startServe(args: string[], stderrPath?: string): Promise<ServeChild> {
  const stderrFd = stderrPath === undefined ? undefined : openSync(stderrPath, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/server/support/serveChild.ts', '--port', '0', '--token', TOKEN, '--no-builtin', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', stderrFd ?? 'pipe'],
  });
  let err = '';
  let urlResolved: () => void = () => undefined;
  const urlFound = new Promise<void>((r) => {
    urlResolved = r;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 30_000);
    const found = (text: string): void => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        urlResolved();
        resolve(m[1]!);
      }
    };
    if (child.stderr) child.stderr.on('data', (c: Buffer) => found((err += c.toString())));
    else {
      // stderr goes to a file the test owns: read it until the start-up line shows.
      const poll = setInterval(() => {
        err = readFileSync(stderrPath!, 'utf8');
        found(err);
      }, 200);
      child.once('exit', () => clearInterval(poll));
      void urlFound.then(() => clearInterval(poll));
    }
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
  if (stderrFd !== undefined) closeSync(stderrFd);
  return {
    url,
    child,
    stderr: () => err,
    peakRssMiB: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : Number.NaN;
    },
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
