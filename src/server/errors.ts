/** An error that maps to an HTTP status with a message for the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The commit queue is full: the client should retry after `retryAfterSeconds`. */
export class OverloadedError extends HttpError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, `ingest queue full; retry after ${retryAfterSeconds} s`, { 'retry-after': String(retryAfterSeconds) });
  }
}
