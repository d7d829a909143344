/**
 * Splunk HTTP Event Collector bodies: JSON event envelopes back to back (`{...}{...}` or one per line).
 * Each envelope is split out by brace matching (strings and escapes respected), so one malformed envelope is
 * reported by its number and the others are still taken: after a broken one (unbalanced braces, not JSON),
 * reading resumes at the next envelope boundary (a '}' followed, after optional whitespace, by '{').
 */
export type HecPiece = { index: number; doc: Record<string, unknown> } | { index: number; error: string };

/** Largest envelope taken by default (the server passes limits.event_bytes). */
const MAX_ENVELOPE_CHARS = 8 << 20;

export function splitHec(body: string, maxEnvelope = MAX_ENVELOPE_CHARS): HecPiece[] {
  const out: HecPiece[] = [];
  let i = 0;
  let n = 0;
  const len = body.length;
  while (i < len) {
    while (i < len && isSpace(body.charCodeAt(i))) i++;
    if (i >= len) break;
    const index = n++;
    if (body[i] !== '{') {
      out.push({ index, error: `event ${index + 1}: expected '{' at offset ${i}` });
      const next = body.indexOf('{', i);
      if (next < 0) break;
      i = next;
      continue;
    }
    const end = matchBrace(body, i);
    if (end >= 0 && end + 1 - i > maxEnvelope) {
      out.push({ index, error: `event ${index + 1}: envelope larger than ${maxEnvelope} characters at offset ${i}; skipped` });
      i = end + 1;
      continue;
    }
    const doc = end < 0 ? undefined : parseEnvelope(body.slice(i, end + 1));
    if (doc === undefined || typeof doc === 'string') {
      // Unbalanced braces make the match run into the envelopes after this one (or to the end): resume at the
      // first boundary inside this envelope's span instead of after it, so they are still read.
      out.push({ index, error: `event ${index + 1}: ${doc ?? 'unterminated JSON object'} at offset ${i}` });
      const next = nextEnvelope(body, i);
      if (next < 0) break;
      i = next;
      continue;
    }
    i = end + 1;
    if (!('event' in doc)) out.push({ index, error: `event ${index + 1}: Event field is required` });
    else if (doc.event === '' || doc.event === null) out.push({ index, error: `event ${index + 1}: Event field cannot be blank` });
    else out.push({ index, doc });
  }
  return out;
}

/** The envelope object, or why it is not one. */
function parseEnvelope(text: string): Record<string, unknown> | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'not a JSON object';
  return doc as Record<string, unknown>;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/** Start of the next envelope after `from`: a '{' that follows a '}' with only whitespace between; -1 if none. */
function nextEnvelope(s: string, from: number): number {
  let close = s.indexOf('}', from);
  while (close !== -1) {
    let k = close + 1;
    while (k < s.length && isSpace(s.charCodeAt(k))) k++;
    if (s.charCodeAt(k) === 123 /* { */) return k;
    close = s.indexOf('}', k);
  }
  return -1;
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
