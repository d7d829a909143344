import type { DecodeItem } from '../model/event.js';

/** A decoder of one text layout: fed decoded text chunk by chunk, appends what it finds to `out`. */
export interface TextSink {
  write(text: string, out: DecodeItem[]): void;
  /** End of input: flush what is pending; report a document cut short. */
  end(out: DecodeItem[]): void;
}

/** '64 MiB' / '4096 bytes': the document size limit as error messages name it. */
export function describeLimit(bytes: number): string {
  return bytes >= 1048576 && bytes % 1048576 === 0 ? `${bytes / 1048576} MiB` : `${bytes} bytes`;
}
