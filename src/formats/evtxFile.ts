/**
 * EVTX files as a source of WinEvents: adapts the binary parser (src/evtx) to the normalised model.
 * PLACEHOLDER (owner: EVTX parser). Keep the signature.
 */
import type { DecodeItem } from '../model/event.js';
import type { DecodeOptions } from './index.js';

export async function* decodeEvtxFile(path: string, _options: DecodeOptions = {}): AsyncIterable<DecodeItem> {
  yield { error: { file: path, reason: 'EVTX parser not built yet' } };
}
