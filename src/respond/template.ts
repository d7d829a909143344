/**
 * `{dotted.path}` placeholders resolved against the ECS alert document (`{host.name}`, `{process.pid}`,
 * `{rule.id}`, `{procwatch.severity}`; `{alert.id}` is the alert id). Values come from the event, i.e. from
 * whoever controls the endpoint: they are bounded in size and substituted as data — inside one argv element,
 * URL-encoded in URLs, as JSON values in bodies — never re-parsed.
 */
export const MAX_VALUE_CHARS = 8192;

const PLACEHOLDER = /\{([A-Za-z_@][\w.@-]*)\}/g;

export class TemplateError extends Error {}

export function lookup(doc: Record<string, unknown>, path: string): unknown {
  if (path === 'alert.id') return (doc.event as Record<string, unknown> | undefined)?.id;
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return s.length > MAX_VALUE_CHARS ? s.slice(0, MAX_VALUE_CHARS) : s;
}

/** Substitutes placeholders inside a string. */
export function expand(template: string, doc: Record<string, unknown>, encode: (s: string) => string = (s) => s): string {
  return template.replace(PLACEHOLDER, (_m, path: string) => encode(text(lookup(doc, path))));
}

/**
 * A webhook URL template → URL. Placeholders are only in the path and query (config.ts refuses them in the
 * scheme, host and port, so event data never chooses where the request goes); each value is percent-encoded
 * as one component, so it cannot add segments, a query or a fragment. A path value made only of dots is
 * encoded too (`..` → `%2E%2E`) and the request is sent with the path as rendered (webhook.ts), so a value
 * cannot climb out of the configured path.
 */
export function expandUrl(template: string, doc: Record<string, unknown>): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)(.*)$/is.exec(template);
  if (!m) throw new TemplateError(`not an absolute URL template: ${template.slice(0, 80)}`);
  const rest = m[2] || '/';
  const cut = rest.search(/[?#]/);
  const path = cut < 0 ? rest : rest.slice(0, cut);
  const query = cut < 0 ? '' : rest.slice(cut);
  return m[1]! + expand(path, doc, encodePathValue) + expand(query, doc, encodeURIComponent);
}

function encodePathValue(value: string): string {
  const e = encodeURIComponent(value);
  return /^\.+$/.test(value) ? e.replace(/\./g, '%2E') : e;
}

/**
 * argv template → argv. A placeholder never splits or joins elements. When an element is exactly one
 * placeholder whose value starts with '-', it is refused: the program would read it as an option
 * (argument injection, e.g. a host named "--exec=..."). Put such values after `--` or behind a fixed prefix.
 */
export function expandArgv(argv: string[], doc: Record<string, unknown>): string[] {
  return argv.map((a, i) => {
    const out = expand(a, doc);
    if (i > 0 && /^\{[^{}]+\}$/.test(a) && out.startsWith('-') && !argv.slice(1, i).includes('--')) {
      throw new TemplateError(`argv[${i}] ${a} expands to "${out.slice(0, 40)}", which starts with '-'; refused as an option injection`);
    }
    if (out.includes('\0')) throw new TemplateError(`argv[${i}] ${a} expands to a value containing NUL`);
    return out;
  });
}

/** A JSON body template: strings are expanded; a string that is exactly one placeholder takes the raw value. */
export function expandJson(template: unknown, doc: Record<string, unknown>): unknown {
  if (typeof template === 'string') {
    const whole = /^\{([A-Za-z_@][\w.@-]*)\}$/.exec(template);
    if (whole) {
      const v = lookup(doc, whole[1]!);
      return typeof v === 'string' ? text(v) : (v ?? null);
    }
    return expand(template, doc);
  }
  if (Array.isArray(template)) return template.map((t) => expandJson(t, doc));
  if (typeof template === 'object' && template !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) out[k] = expandJson(v, doc);
    return out;
  }
  return template;
}
