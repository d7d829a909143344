/** Errors the service core reports to its front ends (HTTP maps them to a status, NATS to a redelivery). */

/** The ingest queue is full: the client should retry after `retryAfterSeconds`. */
export class OverloadedError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`ingest queue full; retry after ${retryAfterSeconds} s`);
  }
}
