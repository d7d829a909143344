/** Child processes of the real CLI (from sources via tsx) for the scale-out tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../helpers/paths.js';

export interface Child {
  proc: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the first match of `re` in stderr (rejects if the process exits first or on timeout). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal). */
  exited: Promise<number | string>;
}

const ENTRY = join(REPO_ROOT, 'test', 'scale', 'support', 'cliChild.ts');

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const waiters = new Set<() => void>();
  proc.stderr!.on('data', (b: Buffer) => {
    err += b.toString('utf8');
    for (const w of waiters) w();
  });
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => {
    resolve(code ?? signal ?? -1);
    for (const w of waiters) w();
  }));
  return {
    proc,
    stderr: () => err,
    exited,
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(err);
          if (m) return done(() => resolve(m));
          if (proc.exitCode !== null || proc.signalCode !== null) return done(() => reject(new Error(`process exited before ${re}: ${err}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${re}; stderr: ${err}`))), timeoutMs);
        const done = (f: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export async function stop(child: Child | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill(signal);
  await child.exited;
}
