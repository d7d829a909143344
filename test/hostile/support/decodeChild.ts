// Decodes one generated hostile input in this (child) process and prints what came out with the peak RSS.
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { decodeStream, type DecodeOptions } from '../../../src/formats/index.js';
import { benign } from '../../server/support/events.js';

const good = (i: number): string => JSON.stringify(benign(i));

function* input(kind: string): Generator<Buffer> {
  switch (kind) {
    case 'deep-json':
      yield Buffer.from(`${good(1)}\n${'['.repeat(5000)}${']'.repeat(5000)}\n${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}\n[\n${'['.repeat(5000)}${']'.repeat(5000)}\n]\n${good(2)}\n`);
      return;
    case 'huge-json': // one 80 MB line between two good events, in 1 MiB chunks
      yield Buffer.from(`${good(1)}\n{"Event":{"EventData":{"x":"`);
      for (let i = 0; i < 80; i++) yield Buffer.alloc(1 << 20, 'a');
      yield Buffer.from(`"}}}\n${good(2)}\n`);
      return;
    case 'huge-xml': {
      const ev = (id: number): string =>
        `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="P"/><EventID>${id}</EventID><TimeCreated SystemTime="2024-01-01T00:00:00Z"/><Computer>H</Computer></System><EventData><Data Name="x">y</Data></EventData></Event>\n`;
      yield Buffer.from(`${ev(1)}<Event><EventData><Data Name="big">`);
      for (let i = 0; i < 80; i++) yield Buffer.alloc(1 << 20, 'a');
      yield Buffer.from(`</Data></EventData></Event>\n${ev(2)}`);
      return;
    }
    case 'deep-xml':
      yield Buffer.from(`<Event><System><EventID>1</EventID></System><EventData>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</EventData></Event>\n<Event><System><Provider Name="P"/><EventID>2</EventID><TimeCreated SystemTime="2024-01-01T00:00:00Z"/></System></Event>\n`);
      return;
    case 'evtx-gzip': {
      // 'ElfFile\0' then 512 MiB of zeros as 512 gzip members of 1 MiB each (~0.5 MB compressed in all).
      yield gzipSync(Buffer.concat([Buffer.from('ElfFile\0', 'latin1'), Buffer.alloc((1 << 20) - 8)]));
      const zeros = gzipSync(Buffer.alloc(1 << 20));
      for (let i = 1; i < 512; i++) yield zeros;
      return;
    }
  }
}

const kind = process.argv[2]!;
const options: DecodeOptions = kind === 'evtx-gzip' ? { maxSpoolBytes: 64 << 20 } : {};
const spoolsBefore = readdirSync(tmpdir()).filter((n) => n.startsWith('procwatch-')).length;
const started = performance.now();
const items: string[] = [];
for await (const item of decodeStream(Readable.from(input(kind)), kind, options)) {
  items.push('event' in item ? `event ${item.event.system.eventId}` : `error line ${item.error.line ?? '-'}: ${item.error.reason}`);
}
const spoolsAfter = readdirSync(tmpdir()).filter((n) => n.startsWith('procwatch-')).length;
process.stdout.write(JSON.stringify({ items, seconds: (performance.now() - started) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024, spoolsLeft: spoolsAfter - spoolsBefore }));
