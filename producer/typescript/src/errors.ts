/**
 * The one error type of wharf-client, with the contract's stable codes.
 * Codes and their meaning are those of schemas/README.md and of the C
 * library (wharf_error.name).
 */

/** The stable codes a client can reject with, and their numbers in wh_err.h. */
export const CODES = {
  bad_envelope: 2,
  too_large: 4,
  unknown_type: 5,
  bad_args: 6,
  timeout: 7,
  bad_config: 11,
  broker_error: 12,
  unroutable: 13,
  redis_error: 14,
  not_found: 15,
  conflict: 16,
  broker_blocked: 34,
} as const;

export type ErrorCode = keyof typeof CODES;

/**
 * A failed call: `code` is a stable code name, `field` names the offending
 * input ("type", "args.ms", "id") or is "". `last` is set by wait() on a
 * timeout: the job as it was last read.
 */
export class WharfError extends Error {
  readonly code: ErrorCode;
  readonly field: string;
  readonly last: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, field = '', last?: Record<string, unknown>) {
    super(message);
    this.name = 'WharfError';
    this.code = code;
    this.field = field;
    this.last = last;
  }

  /** The code's number, as in the C library (wharf_error.code). */
  get number(): number {
    return CODES[this.code];
  }
}

/**
 * submitMany() where at least one job failed: code and message of the first
 * failure; `results` holds each job's Submitted or WharfError, in order
 * (the jobs that did not fail are enqueued).
 */
export class BatchError<T> extends WharfError {
  readonly results: Array<T | WharfError>;

  constructor(first: WharfError, results: Array<T | WharfError>) {
    super(first.code, first.message, first.field);
    this.name = 'BatchError';
    this.results = results;
  }
}
