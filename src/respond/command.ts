/**
 * Command action: execFile (no shell, ever) with the alert JSON on stdin, a timeout and an output cap.
 */
import { execFile } from 'node:child_process';
import type { AttemptResult } from './webhook.js';

export interface CommandRequest {
  argv: string[];
  env: Record<string, string>;
  /** Written to the child's stdin (the alert document). */
  stdin: string;
}

export interface CommandLimits {
  timeoutMs: number;
  /** Each of stdout/stderr; a child that writes more is killed and the attempt fails. */
  maxOutputBytes: number;
}

export function runCommand(req: CommandRequest, limits: CommandLimits): Promise<AttemptResult> {
  const [file, ...args] = req.argv;
  if (!file) return Promise.resolve({ ok: false, detail: {}, error: 'empty argv' });
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      {
        shell: false,
        timeout: limits.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: limits.maxOutputBytes,
        windowsHide: true,
        env: { ...process.env, ...req.env },
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const detail: Record<string, unknown> = {
          ms: Date.now() - started,
          stdout: String(stdout).slice(0, limits.maxOutputBytes),
          stderr: String(stderr).slice(0, limits.maxOutputBytes),
        };
        if (!err) return resolve({ ok: true, detail: { ...detail, exit_code: 0 } });
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string };
        let why: string;
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') why = `output exceeded ${limits.maxOutputBytes} bytes; killed`;
        else if (e.killed && e.signal === 'SIGKILL') why = `timed out after ${limits.timeoutMs} ms; killed`;
        else if (typeof e.code === 'number') why = `exited with code ${e.code}`;
        else if (e.code === 'ENOENT') why = `program not found: ${file}`;
        else why = e.message;
        resolve({ ok: false, detail: { ...detail, exit_code: typeof e.code === 'number' ? e.code : null, signal: e.signal ?? null }, error: why });
      },
    );
    // A child that exits without reading stdin makes the write fail with EPIPE; that is its business, not an error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(req.stdin);
  });
}
