/**
 * Splunk HTTP Event Collector bodies: JSON event envelopes back to back (`{...}{...}` or one per line).
 * Each envelope is split out by brace matching (strings and escapes respected), so one malformed envelope is
 * reported by its number and the others are still taken.
 */
export type HecPiece = { index: number; doc: Record<string, unknown> } | { index: number; error: string };

export function splitHec(body: string): HecPiece[] {
  const out: HecPiece[] = [];
  let i = 0;
  let n = 0;
  const len = body.length;
  while (i < len) {
    while (i < len && /\s/.test(body[i]!)) i++;
    if (i >= len) break;
    if (body[i] !== '{') {
      out.push({ index: n++, error: `event ${n}: expected '{' at offset ${i}` });
      // Resynchronise at the next line that starts an object.
      const next = body.indexOf('\n{', i);
      if (next < 0) break;
      i = next + 1;
      continue;
    }
    const end = matchBrace(body, i);
    if (end < 0) {
      out.push({ index: n++, error: `event ${n}: unterminated JSON object at offset ${i}` });
      break;
    }
    const text = body.slice(i, end + 1);
    i = end + 1;
    const index = n++;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      out.push({ index, error: `event ${index + 1}: not JSON: ${(err as Error).message}` });
      continue;
    }
    const d = doc as Record<string, unknown>;
    if (!('event' in d)) out.push({ index, error: `event ${index + 1}: Event field is required` });
    else if (d.event === '' || d.event === null) out.push({ index, error: `event ${index + 1}: Event field cannot be blank` });
    else out.push({ index, doc: d });
  }
  return out;
}

/** Index of the brace closing the object that opens at `start`, or -1. */
function matchBrace(s: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 /* { */) depth++;
    else if (c === 125 /* } */ && --depth === 0) return i;
  }
  return -1;
}

/** Splunk HEC status codes for the errors we answer. */
export const HEC = {
  success: { text: 'Success', code: 0 },
  tokenRequired: { text: 'Token is required', code: 2 },
  invalidAuth: { text: 'Invalid authorization', code: 3 },
  invalidToken: { text: 'Invalid token', code: 4 },
  noData: { text: 'No data', code: 5 },
  invalidFormat: { text: 'Invalid data format', code: 6 },
  busy: { text: 'Server is busy', code: 9 },
  healthy: { text: 'HEC is healthy', code: 17 },
} as const;
