/**
 * Message bodies: decoded events as NDJSON (one WinEvent per line), split so each message stays under the
 * server's max_payload. The same JSON round trip the store uses for retained events, so workers see exactly
 * what a single-process `serve` would have detected on.
 */
import { createHash } from 'node:crypto';
import type { WinEvent } from '../model/event.js';

export class EventTooLargeError extends Error {}

/** Splits events into NDJSON bodies of at most `maxBytes` each. */
export function encodeBatches(events: WinEvent[], maxBytes: number): Buffer[] {
  const out: Buffer[] = [];
  let lines: Buffer[] = [];
  let size = 0;
  for (const ev of events) {
    const line = Buffer.from(`${JSON.stringify(ev)}\n`, 'utf8');
    if (line.length > maxBytes) {
      throw new EventTooLargeError(
        `event ${ev.system.computer} ${ev.system.channel} record ${ev.system.recordId ?? '?'} is ${line.length} bytes encoded, over the broker's ${maxBytes}-byte message limit`,
      );
    }
    if (size + line.length > maxBytes && lines.length > 0) {
      out.push(Buffer.concat(lines, size));
      lines = [];
      size = 0;
    }
    lines.push(line);
    size += line.length;
  }
  if (lines.length > 0) out.push(Buffer.concat(lines, size));
  return out;
}

export function decodeBatch(body: Uint8Array): WinEvent[] {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const events: WinEvent[] = [];
  let line = 0;
  for (const l of text.split('\n')) {
    line++;
    if (l === '') continue;
    let ev: WinEvent;
    try {
      ev = JSON.parse(l) as WinEvent;
    } catch (err) {
      throw new Error(`message line ${line}: ${(err as Error).message}`);
    }
    if (typeof ev !== 'object' || ev === null || typeof ev.system !== 'object' || ev.system === null) throw new Error(`message line ${line}: not a WinEvent`);
    events.push(ev);
  }
  return events;
}

/** JetStream de-duplication id: the same body published twice within the window is stored once. */
export function messageId(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 40);
}
