/**
 * Public surface of the decoders: files/streams/documents in any supported dialect → WinEvent.
 * PLACEHOLDER SIGNATURES (owner: formats). Implementation replaces the bodies; keep the signatures.
 */
import type { Readable } from 'node:stream';
import type { DecodeError, DecodeItem, EventOrigin, WinEvent } from '../model/event.js';

/** One input to read: a regular file, or stdin when path is '-'. */
export interface InputFile {
  path: string;
  /** Size in bytes when known (progress bars). */
  size?: number;
}

export interface DecodeOptions {
  /** Called with the number of raw bytes consumed as reading progresses (for progress bars). */
  onBytes?: (bytes: number) => void;
  /** EVTX only: case-insensitive literals; a record none of whose bytes/templates contain any is skipped unparsed. */
  prefilterLiterals?: string[] | null;
}

/** Walks the given paths: files as they are, directories recursively (sorted), '-' as stdin. Unreadable paths yield an error. */
export async function* expandInputs(paths: string[]): AsyncIterable<InputFile | { error: DecodeError }> {
  for (const path of paths) yield { path };
}

/** Detects the format of one input (EVTX, gzip, XML, JSON/NDJSON dialects) and streams its events. */
export async function* decodeFile(input: InputFile, _options: DecodeOptions = {}): AsyncIterable<DecodeItem> {
  yield { error: { file: input.path, reason: 'decoders not built yet' } };
}

/** Same as decodeFile for an already open stream (stdin, an HTTP body); `name` is used in origins and errors. */
export async function* decodeStream(_stream: Readable, name: string, _options: DecodeOptions = {}): AsyncIterable<DecodeItem> {
  yield { error: { file: name, reason: 'decoders not built yet' } };
}

/** One parsed JSON document in any JSON dialect → WinEvent, or an error saying why it is not one. */
export function decodeDocument(_doc: unknown, origin: EventOrigin): WinEvent | DecodeError {
  return { file: origin.file, reason: 'decoders not built yet' };
}
