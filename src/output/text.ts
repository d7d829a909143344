/** Safe rendering of attacker-controlled strings for terminals and CSV. */

/** Replaces control characters (ANSI escapes, CR/LF, NUL, ...) with visible escapes so a command line cannot drive the terminal. */
export function terminalSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Shortens to at most `width` characters, keeping the start and the end (command lines matter at both ends). */
export function shorten(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  if (width <= 3) return s.slice(0, width);
  const tail = Math.floor((width - 1) / 3);
  const head = width - 1 - tail;
  return `${s.slice(0, head)}…${s.slice(s.length - tail)}`;
}

/**
 * One RFC 4180 CSV cell. Cells that a spreadsheet would run as a formula (= + - @, tab, CR at the start) get a
 * leading apostrophe: command lines are attacker-controlled and analysts open these files in spreadsheets.
 */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return '';
  let s = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
