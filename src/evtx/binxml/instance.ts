/**
 * A template instance read straight off the bytes, without building nodes, for readers that need a few facts of
 * every record (the literal prefilter, the System key): the shape Windows writes — an optional fragment header,
 * one instance of a template, its value descriptors and values, end of stream. Anything else (other tokens,
 * damage) answers null, and the caller falls back to parseFragment, which reports what is wrong.
 *
 * Layout as readTemplateInstance (tokens.ts) reads it: token 0x0c, unknown byte, template id u32, definition
 * offset u32, [the definition when written here], value count u32, (size u16, type u8, pad u8) × count, values.
 */
import { countFallback, giveUpKind } from '../fallback.js';
import { MAX_NESTING, TOKEN, templateAt, type BinXmlContext, type TemplateDef, type ValueRef } from './tokens.js';

export interface InstanceView {
  def: TemplateDef;
  /** Offset of the first value descriptor. */
  descriptors: number;
  count: number;
  /** Offset of the first value (they follow the descriptors back to back). */
  values: number;
}

/** The template instance of a fragment at [start, end) at `nesting`, or null when it is not the plain shape. */
export function instanceAt(ctx: BinXmlContext, start: number, end: number, nesting: number): InstanceView | null {
  if (nesting > MAX_NESTING) return null;
  const { buf, view } = ctx;
  // Nested BinXml values often go without the fragment header (token + 3 bytes).
  const at = buf[start] === TOKEN.FragmentHeader ? start + 4 : start;
  if (at + 10 > end || buf[at] !== TOKEN.TemplateInstance) return null;
  const templateId = view.getUint32(at + 2, true);
  const defOffset = view.getUint32(at + 6, true);
  let pos = at + 10;
  if (defOffset === pos) {
    // The definition is written here (its first use in the chunk): header 24 bytes, then its data.
    if (pos + 24 > end) return null;
    pos += 24 + view.getUint32(pos + 20, true);
  }
  const def = definitionAt(ctx, defOffset, nesting + 1);
  if (!def || def.id !== templateId || pos + 4 > end) return null;
  const count = view.getUint32(pos, true);
  const descriptors = pos + 4;
  const values = descriptors + count * 4;
  if (values > end) return null;
  let valueEnd = values;
  for (let d = descriptors; d < values; d += 4) valueEnd += view.getUint16(d, true);
  if (valueEnd > end || (valueEnd < end && buf[valueEnd] !== TOKEN.EndOfStream)) return null;
  return { def, descriptors, count, values };
}

/** Value `index` of an instance (undefined past the last), as readTemplateInstance's ValueRef. */
export function valueAt(ctx: BinXmlContext, inst: InstanceView, index: number): ValueRef | undefined {
  if (index < 0 || index >= inst.count) return undefined;
  let off = inst.values;
  for (let i = 0, d = inst.descriptors; i < index; i++, d += 4) off += ctx.view.getUint16(d, true);
  const d = inst.descriptors + index * 4;
  return { type: ctx.buf[d + 2]!, off, size: ctx.view.getUint16(d, true) };
}

/** Every value of an instance, as readTemplateInstance lists them. */
export function valuesOf(ctx: BinXmlContext, inst: InstanceView): ValueRef[] {
  const out: ValueRef[] = new Array(inst.count);
  let off = inst.values;
  for (let i = 0, d = inst.descriptors; i < inst.count; i++, d += 4) {
    const size = ctx.view.getUint16(d, true);
    out[i] = { type: ctx.buf[d + 2]!, off, size };
    off += size;
  }
  return out;
}

/**
 * The template definition at a chunk offset, parsed and cached for the chunk as a template instance would
 * (first use in the chunk included); null when it is damaged or being parsed (a self-reference).
 */
export function definitionAt(ctx: BinXmlContext, offset: number, nesting: number): TemplateDef | null {
  const cached = ctx.templates.get(offset);
  if (cached !== undefined) return cached instanceof Error ? null : cached;
  try {
    return templateAt(ctx, offset, nesting);
  } catch (err) {
    // Damage (cached for the chunk): the token parser meets it again and reports it where it renders.
    if (giveUpKind(err) === 'damaged') countFallback('template.damaged');
    return null;
  }
}
