/**
 * Request bodies: read with a byte limit on the wire and another after decompression (gzip/deflate), so a
 * small compressed bomb cannot exhaust memory. Over a limit, reading stops and the client gets a 413 with
 * `Connection: close` (the rest of its upload is not read).
 */
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { HttpError } from './errors.js';

export interface BodyLimits {
  bodyBytes: number;
  decompressedBytes: number;
}

const CLOSE = { connection: 'close' };

export function readBody(raw: Readable, contentEncoding: string | undefined, limits: BodyLimits, contentLength?: string): Promise<Buffer> {
  const enc = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity' && enc !== 'gzip' && enc !== 'x-gzip' && enc !== 'deflate') {
    return Promise.reject(new HttpError(415, `unsupported Content-Encoding "${enc}" (identity, gzip and deflate are accepted)`, CLOSE));
  }
  if (contentLength !== undefined && Number(contentLength) > limits.bodyBytes) {
    return Promise.reject(new HttpError(413, `request body over ${limits.bodyBytes} bytes`, CLOSE));
  }
  return new Promise((resolve, reject) => {
    const inflater = enc === 'identity' ? undefined : enc === 'deflate' ? createInflate() : createGunzip();
    const cap = inflater ? limits.decompressedBytes : limits.bodyBytes;
    const chunks: Buffer[] = [];
    let wire = 0;
    let size = 0;
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      raw.pause();
      raw.removeAllListeners('data');
      inflater?.destroy();
      reject(err);
    };
    const collect = (c: Buffer): void => {
      size += c.length;
      if (size > cap) {
        fail(new HttpError(413, inflater ? `decompressed body over ${cap} bytes` : `request body over ${cap} bytes`, CLOSE));
        return;
      }
      chunks.push(c);
    };
    raw.on('data', (c: Buffer) => {
      wire += c.length;
      if (wire > limits.bodyBytes) return fail(new HttpError(413, `request body over ${limits.bodyBytes} bytes`, CLOSE));
      if (inflater) inflater.write(c);
      else collect(c);
    });
    raw.on('error', fail);
    const finish = (): void => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, size));
    };
    if (inflater) {
      inflater.on('data', collect);
      inflater.on('error', (e) => fail(new HttpError(400, `body is not valid ${enc} data: ${e.message}`)));
      inflater.on('end', finish);
      raw.on('end', () => inflater.end());
    } else {
      raw.on('end', finish);
    }
  });
}
