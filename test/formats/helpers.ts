/** Shared test helpers for the decoders: run a decoder over in-memory input and split events from errors. */
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CORPUS } from '../helpers/paths.js';
import type { DecodeError, DecodeItem, WinEvent } from '../../src/model/event.js';
import { decodeFile, decodeStream, type DecodeOptions } from '../../src/formats/index.js';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const corpus = CORPUS;

export interface Decoded {
  events: WinEvent[];
  errors: DecodeError[];
  /** Items in the order the decoder produced them. */
  items: DecodeItem[];
}

export async function collect(items: AsyncIterable<DecodeItem>): Promise<Decoded> {
  const out: Decoded = { events: [], errors: [], items: [] };
  for await (const item of items) {
    out.items.push(item);
    if ('event' in item) out.events.push(item.event);
    else out.errors.push(item.error);
  }
  return out;
}

/** Decodes text or bytes as if read from a stream, in chunks of `chunkSize` bytes (to cross chunk boundaries). */
export function decodeBytes(input: string | Buffer, name = 'mem', options: DecodeOptions = {}, chunkSize = 65536): Promise<Decoded> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize));
  return collect(decodeStream(Readable.from(chunks), name, options));
}

export function decodePath(path: string, options: DecodeOptions = {}): Promise<Decoded> {
  return collect(decodeFile({ path }, options));
}
