/** Whether to colour terminal output, and the severity colours. */
import type { Severity } from '../model/alert.js';

export interface ColourContext {
  /** The destination is a terminal (stream.isTTY). */
  isTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * The usual conventions, in Node's order of precedence: FORCE_COLOR set to anything but `0`/`false` turns colour on
 * even into a pipe (for `less -R`), and `FORCE_COLOR=0` off; otherwise NO_COLOR (any non-empty value, no-color.org)
 * turns it off; otherwise colour only on a terminal that is not `TERM=dumb`. Files and pipes never get escape codes
 * unless forced.
 */
export function colourEnabled({ isTTY, env }: ColourContext): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return isTTY && env['TERM'] !== 'dumb';
}

const SGR: Record<Severity, string> = {
  critical: '\u001b[1;31m', // bold red
  high: '\u001b[31m', // red
  medium: '\u001b[33m', // yellow
  low: '\u001b[36m', // cyan
  informational: '\u001b[2m', // dim
};
const RESET = '\u001b[0m';
const BOLD = '\u001b[1m';

/** Wraps already terminal-safe, already fitted text in the severity's colour (text of unknown severity stays plain). */
export function colourSeverity(severity: string, text: string): string {
  const code = (SGR as Record<string, string | undefined>)[severity];
  return code ? `${code}${text}${RESET}` : text;
}

export function bold(text: string): string {
  return `${BOLD}${text}${RESET}`;
}
