/** The structured service logger (pino, JSON lines) over the contained writer of ./log.ts. */
import { pino, type Logger } from 'pino';
import { escapeControl, safeWrite } from './log.js';

/** The service logger: JSON lines on stderr (or `fd`), write failures contained. */
export function createLogger(name: string, fd = 2): Logger {
  return pino({ name, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, { write: (line: string) => safeWrite(line, fd) });
}

/** A notice function (one message per call) over the logger; messages are escaped (they can echo input). */
export function noticeTo(logger: Logger): (line: string) => void {
  return (line) => logger.info(escapeControl(line));
}
