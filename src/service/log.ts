/**
 * Writes for serve/worker that cannot kill the process (the pino logger over them is in ./logger.ts, kept apart
 * so other commands do not load pino): every line goes out with fs.writeSync and every failure is contained. A full disk (ENOSPC), a closed pipe (EPIPE) or a busy non-blocking pipe
 * (EAGAIN) costs the line, counted in `droppedLogLines()`, never an exception: before, an 'error' event from
 * process.stderr on a full disk was uncaught and ended the server. Writing per line (no stream object) also
 * means logging resumes by itself when space returns.
 */
import { writeSync } from 'node:fs';

let dropped = 0;

/** Log lines lost to write failures since start. */
export function droppedLogLines(): number {
  return dropped;
}

/** Writes text to a file descriptor (stderr by default); a failure is counted and dropped, never thrown. */
export function safeWrite(text: string, fd = 2): void {
  try {
    writeSync(fd, text);
  } catch {
    // Named reason: the log's own volume or pipe failed (ENOSPC, EPIPE, EAGAIN). There is nowhere to report it
    // but the counter; the service must keep running.
    dropped++;
  }
}

/**
 * Stream objects that may still be written by other code (stdout/stderr) get an 'error' listener, so a write
 * failure on them is counted instead of becoming an uncaught exception.
 */
export function containStdioErrors(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') === 0) stream.on('error', () => dropped++);
  }
}

/**
 * Control characters (C0, DEL, C1, line/paragraph separators, bidi overrides) in text echoed from input are shown
 * escaped (`\x1b`, `\u202e`), so a client cannot forge log lines or hide text from a terminal.
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

