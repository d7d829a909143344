/**
 * `procwatch dump FILE.evtx --format jsonl|json|xml`: every record of an EVTX file.
 * jsonl is the shape of the Rust crate's `evtx_dump -o jsonl` (so a dump is itself a scan input);
 * damaged records are reported on stderr, one line each, and never stop the dump.
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { joinRecords, parseEvtxFile, renderEvtxFile, renderRecord, type EvtxError, type RenderedBlock } from '../evtx/index.js';
import { formatDecodeError } from '../model/event.js';
import { threadsFromEnv } from '../formats/evtxFile.js';
import { EXIT_OK, EXIT_USAGE, type SetExit } from './exit.js';
import { safeLine } from '../output/text.js';

export const DUMP_FORMATS = ['jsonl', 'json', 'xml'] as const;
export type DumpFormat = (typeof DUMP_FORMATS)[number];

interface DumpOptions {
  format: DumpFormat;
  output?: string;
  checksums: boolean;
  /** Worker threads rendering chunk ranges; default: up to 2 on files of 8 MiB or more, else 1. */
  threads?: number;
}

/** Threads pay off once a file holds enough chunks to keep them busy. */
function defaultThreads(size: number): number {
  const fromEnv = threadsFromEnv();
  if (fromEnv !== undefined) return fromEnv;
  return size >= 8 * 1024 * 1024 ? Math.max(1, Math.min(2, availableParallelism())) : 1;
}

export function registerDump(program: Command, setExit: SetExit): void {
  program
    .command('dump')
    .description('print every record of an EVTX file (jsonl in the shape of evtx_dump -o jsonl, json, or xml)')
    .argument('<file>', 'EVTX file')
    .addOption(new Option('-f, --format <format>', 'output format').choices(DUMP_FORMATS).default('jsonl'))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--no-checksums', 'do not verify header and chunk CRC32 checksums')
    .option('--threads <n>', 'worker threads rendering chunk ranges (default: 2 on files of 8 MiB or more)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError('an integer from 1 to 16');
      return n;
    })
    .action(async (file: string, opts: DumpOptions) => {
      setExit(await dumpEvtx(file, opts, process.stdout, process.stderr));
    });
}

/** Writes the dump; returns the exit code. */
export async function dumpEvtx(file: string, opts: DumpOptions, stdout: Writable, stderr: Writable): Promise<number> {
  let fileSize = 0;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    fileSize = st.size;
  } catch (err) {
    stderr.write(safeLine(`procwatch dump: ${file}: ${(err as Error).message}`));
    return EXIT_USAGE;
  }
  const out = opts.output ? createWriteStream(opts.output) : stdout;
  let closed = false;
  out.on('error', (err: NodeJS.ErrnoException) => {
    closed = true; // EPIPE (e.g. `| head`) ends the dump quietly; other errors are reported below
    if (err.code !== 'EPIPE') stderr.write(safeLine(`procwatch dump: ${opts.output ?? 'stdout'}: ${err.message}`));
  });
  const writer = new BufferedWriter(out);
  let records = 0;
  let errors = 0;
  let notEvtx = false;
  if (opts.format === 'json') await writer.write('[');
  if (opts.format === 'xml') await writer.write('<?xml version="1.0" encoding="utf-8"?>\n<Events>\n');
  const threads = opts.threads !== undefined ? Math.max(1, Math.min(16, Math.floor(opts.threads))) : defaultThreads(fileSize);
  // JSONL is rendered a block of chunks at a time into byte buffers, also on one thread.
  const blocks = threads > 1 || opts.format === 'jsonl' ? renderEvtxFile(file, { format: opts.format, threads, settings: { validateChecksums: opts.checksums } }) : renderStreaming(file, opts);
  try {
    for await (const block of blocks) {
      if (closed) break;
      for (const e of block.errors) {
        errors++;
        if (e.offset === 0 && e.reason.startsWith('bad file signature')) notEvtx = true;
        stderr.write(safeLine(formatEvtxError(e))); // file names and reasons can quote raw bytes
      }
      if (block.count > 0) {
        if (opts.format === 'json') await writer.write((records > 0 ? ',\n' : '\n') + block.text);
        else if (block.bytes) await writer.writeBytes(block.bytes);
        else await writer.write(block.text);
        records += block.count;
      }
    }
  } catch (err) {
    // Reading failed mid-file (I/O error, a worker thread lost): say where the dump stopped.
    await writer.flush();
    stderr.write(safeLine(`procwatch dump: ${file}: stopped after ${records} records: ${(err as Error).message}`));
    return EXIT_USAGE;
  }
  if (opts.format === 'json') await writer.write('\n]\n');
  if (opts.format === 'xml') await writer.write('</Events>\n');
  await writer.flush();
  if (opts.output) {
    out.end();
    await once(out, 'finish').catch(() => undefined);
  }
  if (errors > 0) stderr.write(safeLine(`procwatch dump: ${file}: ${records} records, ${errors} problems reported`));
  if (notEvtx && records === 0) return EXIT_USAGE;
  return EXIT_OK;
}

/**
 * One thread: record by record, so each rendered string is written and dropped at once (holding a whole
 * block's output measured 60% more CPU in garbage collection and twice the memory).
 */
async function* renderStreaming(file: string, opts: DumpOptions): AsyncIterable<RenderedBlock> {
  for await (const item of parseEvtxFile(file, { validateChecksums: opts.checksums })) {
    if ('error' in item) {
      yield { text: '', count: 0, errors: [item.error] };
      continue;
    }
    const r = item.record;
    try {
      yield { text: joinRecords([renderRecord(r.root(), opts.format)], opts.format), count: 1, errors: [] };
    } catch (err) {
      yield { text: '', count: 0, errors: [{ file, chunkIndex: r.chunkIndex, offset: r.offset, recordId: r.recordId, reason: (err as Error).message }] };
    }
  }
}

function formatEvtxError(e: EvtxError): string {
  const d: Parameters<typeof formatDecodeError>[0] = { file: e.file, reason: e.reason };
  if (e.chunkIndex !== undefined) d.chunk = e.chunkIndex;
  if (e.offset !== undefined) d.offset = e.offset;
  if (e.recordId !== undefined) d.recordId = e.recordId;
  return formatDecodeError(d);
}

/** Collects output into ~64 KiB writes and waits for 'drain' so memory stays bounded on slow consumers. */
class BufferedWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly out: Writable) {}

  async write(s: string): Promise<void> {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 65536) await this.flush();
  }

  /** Bytes go out as they are (after what is pending), without another copy. */
  async writeBytes(b: Uint8Array): Promise<void> {
    await this.flush();
    if (b.length === 0 || this.out.destroyed || this.out.writableEnded) return;
    if (!this.out.write(b)) await waitForDrain(this.out);
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (this.out.destroyed || this.out.writableEnded) return;
    if (!this.out.write(chunk)) await waitForDrain(this.out);
  }
}

/** Resolves on 'drain', or when the stream closes or fails (then the dump stops at the next write). */
function waitForDrain(out: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      out.off('close', done);
      out.off('error', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
    out.on('error', done);
  });
}
