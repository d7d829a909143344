import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ARGS, MAX_COMMAND_LINE, splitCommandLine, splitCommandLineDetailed } from '../../src/triage/argv.js';

/** Arguments after the program name. */
const args = (line: string): string[] => splitCommandLine(`prog ${line}`).slice(1);

test('quotes group words; quotes themselves are removed', () => {
  assert.deepEqual(args('"a b c" d e'), ['a b c', 'd', 'e']);
  assert.deepEqual(args('x"y z"w'), ['xy zw']);
});

test('backslashes: 2n+1 before a quote escape it, 2n halve and toggle quoting, others are literal', () => {
  assert.deepEqual(args('"ab\\"c" "\\\\" d'), ['ab"c', '\\', 'd']);
  assert.deepEqual(args('a\\\\\\b d"e f"g h'), ['a\\\\\\b', 'de fg', 'h']);
  assert.deepEqual(args('a\\\\\\"b c d'), ['a\\"b', 'c', 'd']);
  assert.deepEqual(args('a\\\\\\\\"b c" d e'), ['a\\\\b c', 'd', 'e']);
  assert.deepEqual(args('C:\\dir\\ trailing\\'), ['C:\\dir\\', 'trailing\\']);
});

test('runs of quotes follow shell32: "" inside quotes is a literal quote that ends quoting; every third quote is literal', () => {
  assert.deepEqual(args('a"b"" c d'), ['ab"', 'c', 'd']);
  assert.deepEqual(args('"""a"""'), ['"a"']);
  assert.deepEqual(args('"" x'), ['', 'x']);
  assert.deepEqual(args('-P""ost -con""fig'), ['-Post', '-config']);
});

test('the program name ends at the next quote or blank and takes no escapes', () => {
  assert.deepEqual(splitCommandLine('"C:\\Program Files\\x.exe"-a b'), ['C:\\Program Files\\x.exe', '-a', 'b']);
  assert.deepEqual(splitCommandLine('C:\\a\\"b c'), ['C:\\a\\"b', 'c']);
  assert.deepEqual(splitCommandLine('certreq\t-Post\t\t-config  x'), ['certreq', '-Post', '-config', 'x']);
  // A leading blank: empty program name, as shell32 and the C runtime do.
  assert.deepEqual(splitCommandLine('  certreq -Post'), ['', 'certreq', '-Post']);
  assert.deepEqual(splitCommandLine(''), []);
});

test('raw text of each argument is kept beside its value', () => {
  const r = splitCommandLineDetailed('certreq "-Post" -P""ost');
  assert.deepEqual(r.raw, ['certreq', '"-Post"', '-P""ost']);
  assert.deepEqual(r.args, ['certreq', '-Post', '-Post']);
});

test('input size is bounded: huge lines and argument floods are cut and flagged, in linear time', () => {
  const long = `certreq -Post ${'A'.repeat(MAX_COMMAND_LINE * 3)}`;
  const r = splitCommandLineDetailed(long);
  assert.equal(r.truncated, true);
  assert.equal(r.args[2]!.length, MAX_COMMAND_LINE - 'certreq -Post '.length);
  const flood = splitCommandLineDetailed(`x ${'a '.repeat(MAX_ARGS * 4)}`);
  assert.equal(flood.truncated, true);
  assert.equal(flood.args.length, MAX_ARGS);
  // Pathological backslash/quote runs are handled in one pass (would hang a backtracking regex splitter).
  const nasty = splitCommandLineDetailed(`x ${'\\'.repeat(20_000)}${'"'.repeat(10_000)}`);
  assert.equal(nasty.args.length, 2);
  assert.equal(splitCommandLineDetailed('x short').truncated, false);
});
