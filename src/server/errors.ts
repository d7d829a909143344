/** An error that maps to an HTTP status with a message for the client. */
import { OverloadedError } from '../service/errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The HTTP form of a service error (a full ingest queue is a 429 with Retry-After); other errors unchanged. */
export function asHttpError<E>(err: E): HttpError | E {
  if (err instanceof OverloadedError) return new HttpError(429, err.message, { 'retry-after': String(err.retryAfterSeconds) });
  return err;
}
