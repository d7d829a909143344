/**
 * Windows command-line splitting, as CommandLineToArgvW does it (shell32). certreq and most Windows programs
 * receive their arguments this way, so this is how the attacker's command is really understood — not how a
 * substring matcher sees it (`-P""ost` is `-Post` here).
 *
 * Rules (verified against the documented and the Wine-tested behaviour):
 * - argv[0], the program name, ends at the next `"` when it starts with one, else at the first space/tab
 *   (so a line starting with a blank has an empty program name); backslashes are not special in it.
 * - Arguments are separated by spaces and tabs outside quotes.
 * - 2n backslashes + `"` → n backslashes, the quote toggles quoting; 2n+1 backslashes + `"` → n backslashes
 *   and a literal `"`; backslashes not followed by `"` are literal.
 * - Runs of quotes: every third consecutive quote yields a literal `"`; inside quotes `""` is a literal `"`
 *   that also ends the quoted part (the shell32 rule, unlike the post-2008 C runtime).
 */

/** Longer inputs are cut here: Windows itself limits a command line to 32,767 UTF-16 units. */
export const MAX_COMMAND_LINE = 32_768;
/** At most this many arguments are returned; the rest of the line is ignored (and flagged). */
export const MAX_ARGS = 512;

export interface SplitResult {
  args: string[];
  /** The raw text of each argument as written (quotes and escapes included), same indexes as `args`. */
  raw: string[];
  /** True when the input was longer than MAX_COMMAND_LINE or had more than MAX_ARGS arguments. */
  truncated: boolean;
}

/** Splits a full command line (program name first). */
export function splitCommandLine(commandLine: string): string[] {
  return splitCommandLineDetailed(commandLine).args;
}

export function splitCommandLineDetailed(commandLine: string): SplitResult {
  let truncated = commandLine.length > MAX_COMMAND_LINE;
  const s = truncated ? commandLine.slice(0, MAX_COMMAND_LINE) : commandLine;
  const args: string[] = [];
  const raw: string[] = [];
  let i = 0;
  if (s.length === 0) return { args, raw, truncated };
  // No skipping of leading blanks: like shell32, a line starting with a blank has an empty program name.

  const programStart = i;
  if (s[i] === '"') {
    const close = s.indexOf('"', i + 1);
    const end = close === -1 ? s.length : close;
    args.push(s.slice(i + 1, end));
    i = close === -1 ? s.length : close + 1;
  } else {
    while (i < s.length && !isBlank(s.charCodeAt(i))) i++;
    args.push(s.slice(programStart, i));
  }
  raw.push(s.slice(programStart, i));

  while (i < s.length) {
    while (i < s.length && isBlank(s.charCodeAt(i))) i++;
    if (i >= s.length) break;
    if (args.length >= MAX_ARGS) {
      truncated = true;
      break;
    }
    const start = i;
    const parsed = parseArgument(s, i);
    args.push(parsed.value);
    raw.push(s.slice(start, parsed.end));
    i = parsed.end;
  }
  return { args, raw, truncated };
}

/** Parses one argument starting at `start` (not blank); returns its value and the index after it. */
function parseArgument(s: string, start: number): { value: string; end: number } {
  const out: string[] = [];
  let inQuotes = false;
  let backslashes = 0;
  let i = start;
  while (i < s.length) {
    const c = s[i]!;
    if (!inQuotes && isBlank(c.charCodeAt(0))) break;
    if (c === '\\') {
      backslashes++;
      i++;
      continue;
    }
    if (c === '"') {
      out.push('\\'.repeat(backslashes >> 1));
      let quoteState: number = inQuotes ? 1 : 0;
      if (backslashes % 2 === 1) out.push('"'); // escaped quote: literal, quoting unchanged
      else quoteState++;
      backslashes = 0;
      i++;
      // A run of quotes: every third one is a literal quote; two leave quoting.
      while (i < s.length && s[i] === '"') {
        quoteState++;
        if (quoteState === 3) {
          out.push('"');
          quoteState = 0;
        }
        i++;
      }
      if (quoteState === 2) quoteState = 0;
      inQuotes = quoteState === 1;
      continue;
    }
    if (backslashes > 0) {
      out.push('\\'.repeat(backslashes));
      backslashes = 0;
    }
    out.push(c);
    i++;
  }
  if (backslashes > 0) out.push('\\'.repeat(backslashes));
  return { value: out.join(''), end: i };
}

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** The last path component of a Windows or POSIX path, e.g. 'C:\\Windows\\System32\\certreq.exe' → 'certreq.exe'. */
export function basename(path: string): string {
  const cut = Math.max(path.lastIndexOf('\\'), path.lastIndexOf('/'));
  return cut === -1 ? path : path.slice(cut + 1);
}
