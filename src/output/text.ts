/**
 * Safe rendering of attacker-controlled strings for terminals and CSV. Display-width arithmetic is in width.ts,
 * loaded only by the table view (string-width and the grapheme segmenter cost start-up time every scan would pay).
 */

/**
 * Characters that must never reach a terminal as they are: C0/C1 controls (ANSI escapes, CR/LF, NUL, ...), line and
 * paragraph separators, and the bidirectional controls (embeddings/overrides U+202A–U+202E, isolates U+2066–U+2069,
 * marks U+200E/U+200F and U+061C) that make text display in another order than it is read ("Trojan Source").
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

/**
 * Replaces every unsafe character with a visible escape (`\x1b`, `\n`, `\u202e`), so event data, file names and rule
 * text can neither drive the terminal nor reorder what is shown. The one function for everything echoed to a
 * terminal: table cells, incident headers, stderr warnings and errors.
 */
export function terminalSafe(s: string): string {
  return s.replace(UNSAFE, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A line for stderr: its text made terminal-safe, then one newline. */
export function safeLine(s: string): string {
  return `${terminalSafe(s)}\n`;
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
