/**
 * Reading the project's Markdown the way GitHub renders it, for the documentation tests: code blocks, headings
 * and their anchors (GitHub's slug rules), relative links, and the `procwatch …` command lines of `sh` blocks.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface Line {
  text: string;
  /** 1-based line number in the file. */
  number: number;
}

export interface FencedBlock {
  /** The info string after the opening fence (`sh`, `yaml`, ``), lower-cased. */
  info: string;
  lines: Line[];
}

export interface Link {
  target: string;
  line: number;
}

/** The Markdown files the documentation test covers: README.md, CHANGELOG.md and docs/**\/*.md. */
export function documentationFiles(root: string): string[] {
  const files = ['README.md', 'CHANGELOG.md'].map((f) => join(root, f));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.md')) files.push(full);
    }
  };
  walk(join(root, 'docs'));
  return files;
}

/** Splits a document into fenced code blocks and the prose lines outside them. */
export function splitFences(markdown: string): { prose: Line[]; blocks: FencedBlock[] } {
  const prose: Line[] = [];
  const blocks: FencedBlock[] = [];
  let open: { fence: string; block: FencedBlock } | undefined;
  markdown.split('\n').forEach((text, i) => {
    const line = { text, number: i + 1 };
    const fence = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/.exec(text);
    if (open) {
      if (fence && fence[1]!.startsWith(open.fence) && text.trim() === fence[1]) open = undefined;
      else open.block.lines.push(line);
    } else if (fence) {
      const block = { info: fence[2]!.toLowerCase(), lines: [] };
      blocks.push(block);
      open = { fence: fence[1]!, block };
    } else prose.push(line);
  });
  return { prose, blocks };
}

/** GitHub's anchor for a heading text (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images keep their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/[`*]/g, ''); // code spans and emphasis markers
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a document's headings define, with GitHub's `-1`, `-2` suffixes for repeated headings. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text } of splitFences(markdown).prose) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`);
  }
  return result;
}

/** Links of the prose (inline code spans removed): `[text](target)` and `![alt](target)`, titles dropped. */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  for (const { text, number } of splitFences(markdown).prose) {
    const withoutCode = text.replace(/`[^`]*`/g, '');
    for (const m of withoutCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push({ target: m[1]!, line: number });
  }
  return found;
}

/** True for links that leave the repository (a scheme such as https: or mailto:). */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target);
}

export interface ShownCommand {
  /** The command as written, comment removed. */
  text: string;
  /** Arguments after `procwatch`. */
  args: string[];
  /** Exit code the documentation states with a trailing `# exit N` comment; 0 otherwise. */
  expectedExit: number;
  file: string;
  line: number;
}

/** Splits a command line into words as a POSIX shell would for plain words and quotes; other syntax is refused. */
export function shellWords(command: string): string[] | { unsupported: string } {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'" || c === '"') {
      const end = command.indexOf(c, i + 1);
      if (end < 0) return { unsupported: `unterminated ${c}` };
      const inner = command.slice(i + 1, end);
      if (c === '"' && /[$`\\]/.test(inner)) return { unsupported: `expansion inside double quotes: ${inner}` };
      word = (word ?? '') + inner;
      i = end;
    } else if ('|&;<>()$`\\*?'.includes(c)) {
      return { unsupported: `shell syntax '${c}'` };
    } else word = (word ?? '') + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** Removes a trailing `# comment` (a `#` after whitespace, outside quotes) and returns both parts. */
function splitComment(line: string): { code: string; comment: string } {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return { code: line.slice(0, i).trimEnd(), comment: line.slice(i + 1).trim() };
  }
  return { code: line.trimEnd(), comment: '' };
}

/** The `procwatch …` (or `npx procwatch …`) lines of a document's `sh` blocks. */
export function shownCommands(markdown: string, file: string): (ShownCommand | { unsupported: string; file: string; line: number; text: string })[] {
  const out: (ShownCommand | { unsupported: string; file: string; line: number; text: string })[] = [];
  for (const block of splitFences(markdown).blocks) {
    if (block.info !== 'sh' && block.info !== 'bash' && block.info !== 'shell') continue;
    for (const { text, number } of block.lines) {
      const { code, comment } = splitComment(text.trim());
      const m = /^(?:npx\s+)?procwatch(?:\s+(.*))?$/.exec(code);
      if (!m) continue;
      const words = shellWords(m[1] ?? '');
      if (!Array.isArray(words)) {
        out.push({ unsupported: words.unsupported, file, line: number, text: code });
        continue;
      }
      const exit = /\bexit (\d+)\b/.exec(comment);
      out.push({ text: code, args: words, expectedExit: exit ? Number(exit[1]) : 0, file, line: number });
    }
  }
  return out;
}
