/**
 * gzip → inflated chunks, member by member (RFC 1952), with guarantees the plain zlib Gunzip stream lacks:
 *   - a bound on the inflated bytes (shared by nested gzip layers), so a small compressed bomb stops at the cap;
 *   - what was inflated is kept: trailing garbage after a complete member is reported, not fatal (zlib's Gunzip
 *     fails the whole stream on it and drops the data it had inflated), and a member cut short or corrupt keeps
 *     the data before the fault.
 * Each member is inflated by a raw-deflate stream, which stops at the end of the deflate data; its consumed byte
 * count tells where the 8-byte trailer and the next member begin.
 */
import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib';

/** Inflated bytes still allowed across every gzip layer of one input. */
export interface InflateBudget {
  left: number;
  readonly limit: number;
}

export interface GunzipFault {
  reason: string;
}

/** Pause the inflater when this many chunks wait for the consumer (backpressure). */
const QUEUE_CHUNKS = 8;
const FTEXT_FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

/** Pulls compressed chunks, with one chunk of look-back (the unconsumed tail of a member's last chunk). */
class Pull {
  private pending: Buffer | undefined;
  /** Compressed bytes handed out so far (for offsets in messages). */
  offset = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  async next(): Promise<Buffer | undefined> {
    const p = this.pending;
    if (p !== undefined) {
      this.pending = undefined;
      this.offset += p.length;
      return p;
    }
    const r = await this.it.next();
    if (r.done === true) return undefined;
    this.offset += r.value.length;
    return r.value;
  }

  unshift(b: Buffer): void {
    if (b.length === 0) return;
    this.pending = this.pending ? Buffer.concat([b, this.pending]) : b;
    this.offset -= b.length;
  }

  /** Exactly n bytes (fewer at end of input). */
  async take(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const c = await this.next();
      if (c === undefined) break;
      parts.push(c);
      have += c.length;
    }
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (all.length > n) this.unshift(all.subarray(n));
    return all.subarray(0, Math.min(n, all.length));
  }

  async close(): Promise<void> {
    await this.it.return?.();
  }
}

class Fault extends Error {}
class TrailingGarbage extends Fault {}

/** A fault inside a gzip member, or the inflated-bytes budget exhausted. */
export class GzipError extends Error {}

/**
 * Inflates `compressed` member after member and yields the inflated chunks. Data after a complete member that is
 * not another member (trailing garbage) ends the stream normally and is reported through `onFault`, so the reader
 * still flushes its last document. A fault inside a member (cut short, corrupt, CRC) or the budget running out
 * throws a GzipError once every chunk inflated before it has been yielded: the reader must not flush a document
 * cut in the middle.
 */
export async function* gunzipChunks(
  compressed: AsyncIterable<Buffer>,
  budget: InflateBudget,
  onFault: (fault: GunzipFault) => void,
): AsyncGenerator<Buffer> {
  const src = new Pull(compressed[Symbol.asyncIterator]());
  try {
    for (let member = 1; ; member++) {
      const at = src.offset;
      const head = await src.take(1);
      if (head.length === 0) {
        if (member === 1) throw new Fault('empty gzip stream');
        return;
      }
      src.unshift(head);
      if (!(await readHeader(src))) {
        throw new (member === 1 ? Fault : TrailingGarbage)(
          member === 1 ? 'not gzip data (bad header)' : `data after gzip member ${member - 1} (compressed byte ${at}) is not gzip; ignored`,
        );
      }
      yield* inflateMember(src, budget, member);
    }
  } catch (e) {
    if (!(e instanceof Fault)) throw e;
    if (!(e instanceof TrailingGarbage)) throw new GzipError(e.message);
    onFault({ reason: e.message });
  } finally {
    await src.close();
  }
}

/** Reads a member header; false when the bytes are not one. */
async function readHeader(src: Pull): Promise<boolean> {
  const h = await src.take(10);
  if (h.length < 10 || h[0] !== 0x1f || h[1] !== 0x8b || h[2] !== 8) return false;
  const flags = h[3]!;
  if (flags & FEXTRA) {
    const len = await src.take(2);
    if (len.length < 2) return false;
    if ((await src.take(len.readUInt16LE(0))).length < len.readUInt16LE(0)) return false;
  }
  if (flags & FNAME && !(await skipZeroTerminated(src))) return false;
  if (flags & FCOMMENT && !(await skipZeroTerminated(src))) return false;
  if (flags & FTEXT_FHCRC && (await src.take(2)).length < 2) return false;
  return true;
}

async function skipZeroTerminated(src: Pull): Promise<boolean> {
  for (;;) {
    const c = await src.next();
    if (c === undefined) return false;
    const z = c.indexOf(0);
    if (z !== -1) {
      src.unshift(c.subarray(z + 1));
      return true;
    }
  }
}

/** One member's deflate data and trailer: yields its inflated chunks, checks CRC-32 and length. */
async function* inflateMember(src: Pull, budget: InflateBudget, member: number): AsyncGenerator<Buffer> {
  const inflater = createInflateRaw();
  const queue: Buffer[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  inflater.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= QUEUE_CHUNKS) inflater.pause();
    signal();
  });
  inflater.on('end', () => {
    ended = true;
    signal();
  });
  inflater.on('error', (e: Error) => {
    failure = e;
    signal();
  });
  const fed = feed(src, inflater);
  fed.catch((e: unknown) => {
    failure = e instanceof Error ? e : new Error(String(e));
    signal();
  });
  let crc = 0;
  let size = 0;
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (queue.length < QUEUE_CHUNKS / 2) inflater.resume();
        if (chunk.length > budget.left) {
          const part = chunk.subarray(0, budget.left);
          budget.left = 0;
          if (part.length > 0) yield part;
          throw new Fault(`inflated data over ${budget.limit} bytes; the rest was not read`);
        }
        budget.left -= chunk.length;
        crc = crc32(chunk, crc);
        size = (size + chunk.length) >>> 0;
        yield chunk;
        continue;
      }
      if (failure !== undefined) throw new Fault(`member ${member}: ${failure.message}${size > 0 ? ` (the ${size} bytes inflated before it were kept)` : ''}`);
      if (ended) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    await fed;
  } finally {
    inflater.destroy();
  }
  const trailer = await src.take(8);
  if (trailer.length < 8) throw new Fault(`member ${member}: cut short (no trailer; the inflated data was kept)`);
  if (trailer.readUInt32LE(0) !== crc || trailer.readUInt32LE(4) !== size) throw new Fault(`member ${member}: CRC or length mismatch (the inflated data was kept)`);
}

/**
 * Feeds compressed chunks one at a time, waiting for each to be consumed (backpressure). The inflater stops at
 * the end of the deflate data: the part of the last chunk it did not consume goes back to `src`.
 */
async function feed(src: Pull, inflater: InflateRaw): Promise<void> {
  let fed = 0;
  for (;;) {
    const chunk = await src.next();
    if (chunk === undefined) {
      inflater.end(); // input ended inside the deflate data: the inflater reports "unexpected end of file"
      return;
    }
    fed += chunk.length;
    await new Promise<void>((resolve) => inflater.write(chunk, () => resolve()));
    const unconsumed = fed - inflater.bytesWritten;
    if (unconsumed > 0 || inflater.destroyed) {
      src.unshift(chunk.subarray(chunk.length - unconsumed));
      return;
    }
  }
}
