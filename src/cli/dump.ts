/**
 * `procwatch dump PATH... --format jsonl|json|xml`: every record of EVTX files, given as files or directories
 * (walked recursively in code-point order, as `scan` walks them; files found there that are not EVTX are skipped).
 * jsonl is the shape of the Rust crate's `evtx_dump -o jsonl` (so a dump is itself a scan input);
 * damaged records are reported on stderr, one line each, and never stop the dump.
 */
import { createWriteStream } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
  /** Worker threads rendering chunk ranges; default: up to 2 on files of 512 MiB or more, else 1. */
  threads?: number;
}

/**
 * Files at least this large are rendered on two threads by default. Each file starts its own workers, which pay
 * start-up and a cold JIT: measured on the shared 2-core box (2026-12-03), a 64 MiB file took 40% more CPU and
 * longer wall time on two threads than on one, and a folder of 8 such files 3× the CPU (17.2 s against 5.5 s).
 */
const PARALLEL_MIN_BYTES = 512 * 1024 * 1024;

/** Threads pay off once a file holds enough chunks to keep them busy past their start-up. */
function defaultThreads(size: number): number {
  const fromEnv = threadsFromEnv();
  if (fromEnv !== undefined) return fromEnv;
  return size >= PARALLEL_MIN_BYTES ? Math.max(1, Math.min(2, availableParallelism())) : 1;
}

export function registerDump(program: Command, setExit: SetExit): void {
  program
    .command('dump')
    .description('print every record of EVTX files (jsonl in the shape of evtx_dump -o jsonl, json, or xml)')
    .argument('<paths...>', 'EVTX files or directories (walked recursively; files in them that are not EVTX are skipped)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(DUMP_FORMATS).default('jsonl'))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--no-checksums', 'do not verify header and chunk CRC32 checksums')
    .option('--threads <n>', 'worker threads rendering chunk ranges (default: 2 on files of 512 MiB or more)', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError('an integer from 1 to 16');
      return n;
    })
    .action(async (paths: string[], opts: DumpOptions) => {
      setExit(await dumpEvtx(paths, opts, process.stdout, process.stderr));
    });
}

/** One file to dump: named on the command line (dumped whatever it holds) or found in a directory (EVTX only). */
interface DumpInput {
  path: string;
  size: number;
  named: boolean;
}

/**
 * Writes the dump of every file (files in argument order, directories walked recursively in code-point order);
 * returns the exit code: 2 when a path cannot be read, a named file is not EVTX, or reading stopped mid-file.
 * The output is one document: the records of all files in that order (json: one array; xml: one <Events>).
 */
export async function dumpEvtx(paths: string | string[], opts: DumpOptions, stdout: Writable, stderr: Writable): Promise<number> {
  const list = typeof paths === 'string' ? [paths] : paths;
  let code = EXIT_OK;
  const inputs: DumpInput[] = [];
  let skipped = 0;
  for (const path of list) {
    for await (const found of expandDumpInputs(path)) {
      if ('error' in found) {
        stderr.write(safeLine(`procwatch dump: ${found.file}: ${found.error}`));
        code = EXIT_USAGE;
      } else if (found.named || (await isEvtx(found.path))) inputs.push(found);
      else skipped++;
    }
  }
  if (inputs.length === 0 && code !== EXIT_OK) return code;
  const out = opts.output ? createWriteStream(opts.output) : stdout;
  let closed = false;
  out.on('error', (err: NodeJS.ErrnoException) => {
    closed = true; // EPIPE (e.g. `| head`) ends the dump quietly; other errors are reported below
    if (err.code !== 'EPIPE') stderr.write(safeLine(`procwatch dump: ${opts.output ?? 'stdout'}: ${err.message}`));
  });
  const writer = new BufferedWriter(out);
  const state = { records: 0, closed: () => closed };
  if (opts.format === 'json') await writer.write('[');
  if (opts.format === 'xml') await writer.write('<?xml version="1.0" encoding="utf-8"?>\n<Events>\n');
  for (const input of inputs) {
    if (closed) break;
    const fileCode = await dumpFile(input, opts, writer, stderr, state);
    if (fileCode !== EXIT_OK) code = fileCode;
  }
  if (opts.format === 'json') await writer.write('\n]\n');
  if (opts.format === 'xml') await writer.write('</Events>\n');
  await writer.flush();
  if (opts.output) {
    out.end();
    await once(out, 'finish').catch(() => undefined);
  }
  if (skipped > 0) stderr.write(safeLine(`procwatch dump: skipped ${skipped} file${skipped === 1 ? '' : 's'} that ${skipped === 1 ? 'is' : 'are'} not EVTX (found in directories)`));
  return code;
}

/** One file's records onto the writer; its problems on stderr. Returns its exit code. */
async function dumpFile(input: DumpInput, opts: DumpOptions, writer: BufferedWriter, stderr: Writable, state: { records: number; closed: () => boolean }): Promise<number> {
  const file = input.path;
  let records = 0;
  let errors = 0;
  let notEvtx = false;
  const threads = opts.threads !== undefined ? Math.max(1, Math.min(16, Math.floor(opts.threads))) : defaultThreads(input.size);
  // JSONL is rendered a block of chunks at a time into byte buffers, also on one thread.
  const blocks = threads > 1 || opts.format === 'jsonl' ? renderEvtxFile(file, { format: opts.format, threads, settings: { validateChecksums: opts.checksums } }) : renderStreaming(file, opts);
  try {
    for await (const block of blocks) {
      if (state.closed()) break;
      for (const e of block.errors) {
        errors++;
        if (e.offset === 0 && (e.reason.startsWith('bad file signature') || e.reason.startsWith('too short for an EVTX file'))) notEvtx = true;
        stderr.write(safeLine(formatEvtxError(e))); // file names and reasons can quote raw bytes
      }
      if (block.count > 0) {
        if (opts.format === 'json') await writer.write((state.records > 0 ? ',\n' : '\n') + block.text);
        else if (block.bytes) await writer.writeBytes(block.bytes);
        else await writer.write(block.text);
        records += block.count;
        state.records += block.count;
      }
    }
  } catch (err) {
    // Reading failed mid-file (I/O error, a worker thread lost): say where the dump of this file stopped.
    await writer.flush();
    stderr.write(safeLine(`procwatch dump: ${file}: stopped after ${records} records: ${(err as Error).message}`));
    return EXIT_USAGE;
  }
  if (errors > 0) stderr.write(safeLine(`procwatch dump: ${file}: ${records} records, ${errors} problems reported`));
  if (notEvtx && records === 0) return EXIT_USAGE;
  return EXIT_OK;
}

type Found = DumpInput | { file: string; error: string };

/** A path as the files to dump: itself, or a directory's regular files, recursively, in code-point order. */
async function* expandDumpInputs(path: string): AsyncGenerator<Found> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    yield { file: path, error: fsReason(err) };
    return;
  }
  if (info.isDirectory()) yield* walk(path, new Set());
  else if (info.isFile()) yield { path, size: info.size, named: true };
  else yield { file: path, error: 'not a regular file' };
}

async function* walk(dir: string, seen: Set<string>): AsyncGenerator<Found> {
  let entries;
  try {
    const real = await realpath(dir);
    if (seen.has(real)) return; // a symlink loop
    seen.add(real);
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    yield { file: dir, error: `cannot read directory: ${fsReason(err)}` };
    return;
  }
  // Code-point order, as scan walks: the output does not depend on the locale or the file system.
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* walk(full, seen);
      continue;
    }
    if (!entry.isFile() && !entry.isSymbolicLink()) continue; // sockets, devices found while walking
    try {
      const info = await stat(full);
      if (info.isDirectory()) yield* walk(full, seen);
      else if (info.isFile()) yield { path: full, size: info.size, named: false };
    } catch (err) {
      yield { file: full, error: fsReason(err) };
    }
  }
}

/** Whether a file found in a directory starts with the EVTX file signature. */
async function isEvtx(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, 8, 0);
    return bytesRead === 8 && head.toString('latin1') === 'ElfFile\0';
  } catch (err) {
    // Unreadable: kept, so dumping it reports why (a file is never dropped without a word).
    if (err instanceof Error) return true;
    throw err;
  } finally {
    await handle?.close();
  }
}

function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return err instanceof Error ? err.message : String(err);
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
