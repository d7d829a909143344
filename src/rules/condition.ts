/**
 * The Sigma condition language: `and`/`or`/`not`, parentheses, `1 of`/`any of`/`all of`/`N of` with name
 * patterns or `them`. Parsed once into a tree; quantifiers are expanded over the rule's search identifiers
 * so the engine only sees and/or/not/references.
 */
import type { ConditionNode } from './model.js';

export class ConditionError extends Error {}

type Token = { kind: 'lparen' | 'rparen' | 'word'; text: string; pos: number };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\()|(\))|([^\s()|]+)|(\|)|(\S))/y;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < text.length && (m = re.exec(text)) !== null) {
    const pos = m.index + m[0].length - (m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5] ?? '').length;
    if (m[1]) tokens.push({ kind: 'lparen', text: '(', pos });
    else if (m[2]) tokens.push({ kind: 'rparen', text: ')', pos });
    else if (m[3]) tokens.push({ kind: 'word', text: m[3], pos });
    else if (m[4])
      throw new ConditionError(`'|' at column ${pos + 1}: aggregation expressions (| count() ...) are Sigma v1; write a correlation rule instead`);
    else if (m[5]) throw new ConditionError(`unexpected '${m[5]}' at column ${pos + 1}`);
    if (m[0].length === 0) break;
  }
  return tokens;
}

/**
 * Deeper conditions (parentheses and `not`) are not written by people; refusing them keeps parsing, compiling
 * and matching, which recurse once per level, off the stack limit. Chains (`a or b or ...`) do not nest: they are
 * parsed into one flat node whatever their length.
 */
export const MAX_CONDITION_DEPTH = 100;
/** Search identifier references in one condition, after `1 of x*`/`all of them` are expanded. */
export const MAX_CONDITION_TERMS = 65_536;

const KEYWORDS = new Set(['and', 'or', 'not', 'of', 'them', 'all', 'any']);

/** Parses one condition string against the rule's search identifier names. */
export function parseCondition(text: string, names: readonly string[]): ConditionNode {
  const tokens = tokenize(text);
  const known = new Set(names);
  let terms = 0;
  const countTerms = (n: number): void => {
    terms += n;
    if (terms > MAX_CONDITION_TERMS) throw new ConditionError(`more than ${MAX_CONDITION_TERMS} search identifier references (after expanding 'of' quantifiers)`);
  };
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const isWord = (t: Token | undefined, w: string): boolean => t?.kind === 'word' && t.text.toLowerCase() === w;
  const where = (t: Token | undefined): string => (t ? `'${t.text}' at column ${t.pos + 1}` : 'end of condition');

  const parseOr = (): ConditionNode => {
    const args = [parseAnd()];
    while (isWord(peek(), 'or')) {
      i++;
      args.push(parseAnd());
    }
    return args.length === 1 ? args[0]! : { op: 'or', args };
  };
  const parseAnd = (): ConditionNode => {
    const args = [parseNot()];
    while (isWord(peek(), 'and')) {
      i++;
      args.push(parseNot());
    }
    return args.length === 1 ? args[0]! : { op: 'and', args };
  };
  let depth = 0;
  const parseNot = (): ConditionNode => {
    if (++depth > MAX_CONDITION_DEPTH) throw new ConditionError(`nested deeper than ${MAX_CONDITION_DEPTH} levels at ${where(peek())}`);
    try {
      return parseNotInner();
    } finally {
      depth--;
    }
  };
  const parseNotInner = (): ConditionNode => {
    if (isWord(peek(), 'not')) {
      i++;
      return { op: 'not', arg: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ConditionNode => {
    const t = peek();
    if (!t) throw new ConditionError('condition ends where a search identifier was expected');
    if (t.kind === 'lparen') {
      i++;
      const inner = parseOr();
      if (peek()?.kind !== 'rparen') throw new ConditionError(`expected ')' but found ${where(peek())}`);
      i++;
      return inner;
    }
    if (t.kind === 'rparen') throw new ConditionError(`unexpected ${where(t)}`);
    const lower = t.text.toLowerCase();
    if (isWord(tokens[i + 1], 'of') && (lower === 'all' || lower === 'any' || /^\d+$/.test(lower))) {
      i += 2;
      const target = peek();
      if (!target || target.kind !== 'word') throw new ConditionError(`expected a name pattern or 'them' after '${t.text} of'`);
      i++;
      const node = quantified(lower, target.text, names);
      countTerms(node.op === 'ref' ? 1 : 'args' in node ? node.args.length : 0);
      return node;
    }
    if (KEYWORDS.has(lower)) throw new ConditionError(`unexpected ${where(t)}`);
    if (!known.has(t.text)) throw new ConditionError(`unknown search identifier '${t.text}' at column ${t.pos + 1}`);
    countTerms(1);
    i++;
    return { op: 'ref', name: t.text };
  };

  if (tokens.length === 0) throw new ConditionError('empty condition');
  const tree = parseOr();
  if (i < tokens.length) throw new ConditionError(`unexpected ${where(tokens[i])}`);
  return tree;
}

function quantified(quantifier: string, pattern: string, names: readonly string[]): ConditionNode {
  let matched: string[];
  if (pattern.toLowerCase() === 'them') {
    matched = names.filter((n) => !n.startsWith('_'));
  } else {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    matched = names.filter((n) => re.test(n));
  }
  if (matched.length === 0) throw new ConditionError(`'${quantifier} of ${pattern}' matches no search identifier`);
  const args: ConditionNode[] = matched.map((name) => ({ op: 'ref', name }));
  if (quantifier === 'all') return args.length === 1 ? args[0]! : { op: 'and', args };
  const n = quantifier === 'any' ? 1 : Number(quantifier);
  if (n <= 1) return args.length === 1 ? args[0]! : { op: 'or', args };
  if (n > args.length) return { op: 'const', value: false };
  return { op: 'atleast', n, args };
}

/** Search identifiers a condition refers to. */
export function referencedNames(node: ConditionNode, out = new Set<string>()): Set<string> {
  switch (node.op) {
    case 'ref':
      out.add(node.name);
      break;
    case 'not':
      referencedNames(node.arg, out);
      break;
    case 'and':
    case 'or':
    case 'atleast':
      for (const a of node.args) referencedNames(a, out);
      break;
    case 'const':
      break;
  }
  return out;
}
