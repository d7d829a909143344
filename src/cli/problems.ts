/**
 * Decode problems on stderr: one summary line per damaged file by default, every problem with --verbose.
 * A damaged EVTX file can hold thousands of bad records; one line each buries everything else `scan` says.
 */
import type { DecodeError } from '../model/event.js';
import { formatDecodeError } from '../model/event.js';
import { safeLine } from '../output/text.js';

/** Distinct kinds counted per file; further kinds count as "other" (the summary line and memory stay bounded). */
export const MAX_KINDS = 8;

/** Known reasons, by the words the decoders use, most specific first. */
const KINDS: ReadonlyArray<[RegExp, string]> = [
  [/file header checksum/i, 'bad file header checksum'],
  [/checksum mismatch/i, 'bad chunk checksum'],
  [/bad file signature|too short for an EVTX/i, 'bad file header'],
  [/bad chunk signature|truncated chunk/i, 'bad chunk header'],
  [/record size|record signature|record header/i, 'bad record header'],
  [/template/i, 'bad template'],
  [/larger than/i, 'oversized record'],
  [/^(not JSON|invalid JSON|incomplete JSON|unterminated JSON)/i, 'bad JSON'],
  [/^(malformed XML|unterminated|unexpected end of input|text outside <Event>)/i, 'bad XML'],
  [/^(expected a JSON object|not a Windows event|root element)/i, 'not a Windows event'],
  [/\bhas no\b|^no (valid|numeric)\b|is not a number/i, 'missing event fields'],
  [/^gzip\b/i, 'bad gzip data'],
];

/** The kind of a problem, for counting: a fixed name for known reasons, else the reason's first clause. */
export function problemKind(e: DecodeError): string {
  for (const [pattern, kind] of KINDS) if (pattern.test(e.reason)) return kind;
  if (e.chunk !== undefined) return 'bad record data'; // BinXml errors: the details differ per record
  const clause = e.reason.split(/[:;(]/, 1)[0]!.replace(/\b0x[0-9a-f]+\b|\d+/gi, 'N').trim();
  return clause.length > 40 ? `${clause.slice(0, 39)}…` : clause || 'problem';
}

interface FileProblems {
  count: number;
  first: DecodeError;
  kinds: Map<string, number>;
}

/** Where a problem is, without the file name: `line 3`, `chunk 2 offset 0x1a0`, `document 4`. */
function locationOf(e: DecodeError): string {
  if (e.line !== undefined) return `line ${e.line}`;
  if (e.chunk !== undefined) return `chunk ${e.chunk}${e.offset !== undefined ? ` offset 0x${e.offset.toString(16)}` : ''}`;
  if (e.index !== undefined) return `document ${e.index + 1}`;
  if (e.offset !== undefined) return `offset 0x${e.offset.toString(16)}`;
  return '';
}

/**
 * Collects decode problems and writes them: at once, one line each, when verbose; otherwise counted per file and
 * written as one line when the file is done (a file with a single problem gets that problem's own line).
 */
export class ProblemReport {
  private readonly files = new Map<string, FileProblems>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly verbose: boolean,
  ) {}

  add(e: DecodeError): void {
    if (this.verbose) {
      this.write(safeLine(formatDecodeError(e)));
      return;
    }
    let f = this.files.get(e.file);
    if (!f) {
      f = { count: 0, first: e, kinds: new Map() };
      this.files.set(e.file, f);
    }
    f.count++;
    let kind = problemKind(e);
    if (!f.kinds.has(kind) && f.kinds.size >= MAX_KINDS) kind = 'other';
    f.kinds.set(kind, (f.kinds.get(kind) ?? 0) + 1);
  }

  /** Writes the summaries of the files seen so far and forgets them (call after each input, and at the end). */
  flush(): void {
    for (const [file, f] of this.files) this.write(safeLine(summarise(file, f)));
    this.files.clear();
  }
}

function summarise(file: string, f: FileProblems): string {
  if (f.count === 1) return formatDecodeError(f.first);
  const kinds = [...f.kinds].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, n]) => `${n} ${k}`);
  const where = locationOf(f.first);
  return `procwatch: ${file}: ${f.count} problems (${kinds.join(', ')})${where ? `, first at ${where}` : ''}; --verbose lists them`;
}
