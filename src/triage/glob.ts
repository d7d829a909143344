/**
 * Case-insensitive patterns for suppressions: globs (`*`, `?`) or RE2 regular expressions. Both compile to re2js,
 * which runs in linear time, so a pattern from a config file cannot stall on a 32k attacker-written command line.
 */
import { RE2JS } from 're2js';

export interface Pattern {
  source: string;
  test(value: string): boolean;
}

export function globPattern(glob: string): Pattern {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += RE2JS.quote(ch);
  }
  const compiled = RE2JS.compile(re, RE2JS.CASE_INSENSITIVE | RE2JS.DOTALL);
  return { source: glob, test: (v) => compiled.testExact(v) };
}

/** An unanchored RE2 regex (anchor with ^/$ yourself). Throws on invalid syntax. */
export function regexPattern(regex: string): Pattern {
  const compiled = RE2JS.compile(regex, RE2JS.CASE_INSENSITIVE);
  return { source: regex, test: (v) => compiled.test(v) };
}

/** A user glob: 'alice' matches CONTOSO\alice too (the name part); 'CONTOSO\alice' only that account. */
export function userPattern(glob: string): Pattern {
  const p = globPattern(glob);
  if (glob.includes('\\')) return p;
  return { source: glob, test: (v) => p.test(v.slice(v.lastIndexOf('\\') + 1)) };
}
