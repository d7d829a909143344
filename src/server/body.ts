/**
 * Request bodies: read with a byte limit on the wire and another after decompression, so a small compressed bomb
 * cannot exhaust memory. A body is decompressed when its Content-Encoding says gzip/deflate and also when it
 * starts with the gzip magic bytes whatever the headers say (the decoders would otherwise inflate it unbounded).
 * Every byte held (inflated bytes for a compressed body) is charged to the in-flight budget as it arrives.
 * A body must keep arriving: less than `minBodyBytes` in any `bodyWindowMs` window fails it with 408, so slow
 * uploads cannot hold the budget. Over a limit, reading stops and the client gets an error with
 * `Connection: close` (the rest of its upload is not read).
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { createInflate } from 'node:zlib';
import { gunzipChunks, GzipError, type GunzipFault } from '../formats/gunzipReader.js';
import { HttpError } from './errors.js';

export interface BodyLimits {
  bodyBytes: number;
  decompressedBytes: number;
  /** A body delivering fewer bytes than this in any window of `bodyWindowMs` is cut off (408). */
  minBodyBytes: number;
  bodyWindowMs: number;
}

/** Charges the bytes a body holds so far to the in-flight budget; false: over budget (429). */
export type HoldBytes = (total: number) => boolean;

const CLOSE = { connection: 'close' };

/** Faults found in a body that still yielded data (trailing garbage after a gzip member): the routes report them. */
export const bodyFaults = new WeakMap<Buffer, string[]>();

export async function readBody(
  raw: IncomingMessage | Readable,
  contentEncoding: string | undefined,
  limits: BodyLimits,
  contentLength?: string,
  hold?: HoldBytes,
): Promise<Buffer> {
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity' && enc !== 'gzip' && enc !== 'x-gzip' && enc !== 'deflate') {
    throw new HttpError(415, `unsupported Content-Encoding "${enc}" (identity, gzip and deflate are accepted)`, CLOSE);
  }
  if (contentLength !== undefined && Number(contentLength) > limits.bodyBytes) {
    throw new HttpError(413, `request body over ${limits.bodyBytes} bytes`, CLOSE);
  }
  const wire = wireChunks(raw, limits);
  const faults: string[] = [];
  let inflated = enc !== 'identity';
  let source: AsyncIterable<Buffer>;
  if (enc === 'deflate') source = inflateDeflate(wire);
  else {
    const { head, rest } = await peekHead(wire);
    inflated ||= isGzip(head);
    source = inflated ? gunzip(rest, limits.decompressedBytes, (f) => faults.push(f.reason)) : rest;
  }
  const cap = inflated ? limits.decompressedBytes : limits.bodyBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of source) {
      size += c.length;
      if (size > cap) throw new HttpError(413, inflated ? `decompressed body over ${cap} bytes` : `request body over ${cap} bytes`, CLOSE);
      if (hold && !hold(size)) {
        throw new HttpError(429, 'too many request bodies in progress; retry after 1 s', { ...CLOSE, 'retry-after': '1' });
      }
      chunks.push(c);
    }
  } catch (e) {
    raw.pause();
    void wire.return(undefined); // normally already ended through `source`; makes sure the rate timer stops
    if (e instanceof HttpError) throw e;
    if (e instanceof GzipError) throw new HttpError(400, `body is not valid gzip data: ${e.message}`, CLOSE);
    if (e instanceof Error && (e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new HttpError(400, `body is not valid ${enc} data: ${e.message}`, CLOSE);
    throw new HttpError(400, `request body could not be read: ${e instanceof Error ? e.message : String(e)}`, CLOSE);
  }
  const body = Buffer.concat(chunks, size);
  if (faults.length > 0) bodyFaults.set(body, faults);
  return body;
}

function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** The first chunks until 2 bytes are known (enough to see the gzip magic), and every chunk from the start. */
async function peekHead(chunks: AsyncGenerator<Buffer>): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const first: Buffer[] = [];
  let have = 0;
  while (have < 2) {
    const r = await chunks.next();
    if (r.done === true) break;
    first.push(r.value);
    have += r.value.length;
  }
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      yield* first;
      yield* { [Symbol.asyncIterator]: () => chunks };
    } finally {
      // Stopped while still yielding the peeked chunks: the wire generator must end too (its rate timer).
      await chunks.return(undefined);
    }
  }
  return { head: Buffer.concat(first), rest: rest() };
}

function gunzip(compressed: AsyncIterable<Buffer>, cap: number, onFault: (f: GunzipFault) => void): AsyncIterable<Buffer> {
  // One byte over the cap is let through so the caller's size check reports the 413 itself.
  return gunzipChunks(compressed, { left: cap + 1, limit: cap + 1 }, onFault);
}

async function* inflateDeflate(compressed: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const inflater = createInflate();
  const src = Readable.from(compressed);
  src.on('error', (e) => inflater.destroy(e));
  src.pipe(inflater);
  try {
    for await (const c of inflater) yield c as Buffer;
  } finally {
    src.destroy();
    inflater.destroy();
  }
}

/**
 * The wire chunks, counted against bodyBytes, with the minimum-rate deadline. The stream is not destroyed when
 * reading stops early (the socket must stay to carry the error response); it is paused instead.
 */
async function* wireChunks(raw: IncomingMessage | Readable, limits: BodyLimits): AsyncGenerator<Buffer> {
  const it = raw.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]();
  let total = 0;
  let inWindow = 0;
  let rejectSlow: ((e: Error) => void) | undefined;
  const tooSlow = new Promise<never>((_, reject) => {
    rejectSlow = reject;
  });
  tooSlow.catch(() => undefined); // observed through the race below; this only keeps it from being "unhandled"
  const timer = setInterval(() => {
    if (inWindow < limits.minBodyBytes) {
      rejectSlow?.(
        new HttpError(408, `request body too slow: under ${limits.minBodyBytes} bytes in ${limits.bodyWindowMs / 1000} s (received ${total} bytes)`, CLOSE),
      );
    }
    inWindow = 0;
  }, limits.bodyWindowMs);
  try {
    for (;;) {
      const r = await Promise.race([it.next(), tooSlow]);
      if (r.done === true) return;
      const chunk = r.value as Buffer;
      total += chunk.length;
      inWindow += chunk.length;
      if (total > limits.bodyBytes) throw new HttpError(413, `request body over ${limits.bodyBytes} bytes`, CLOSE);
      yield chunk;
    }
  } finally {
    clearInterval(timer);
  }
}
