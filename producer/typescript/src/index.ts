/**
 * wharf-client: submit wharf jobs from Node.js and follow them, with the
 * same operations as the C library (wharf.h) and the Python client.
 *
 *   import { Client } from 'wharf-client';
 *   const c = await Client.fromEnv();              // WHARF_AMQP_URL, WHARF_REDIS_URL
 *   const job = await c.submit('system.sleep', { ms: 100 });
 *   console.log((await c.wait(job.id)).state);     // "succeeded"
 *   await c.close();
 *
 * Every failure is a WharfError with a stable code (broker_error,
 * broker_blocked, redis_error, bad_envelope, bad_args, unknown_type,
 * too_large, unroutable, not_found, conflict, timeout) and the field it
 * concerns; with the broker or Redis down a call fails within the client's
 * timeout (5 s by default).
 */
export { Client } from './client.js';
export { Events } from './events.js';
export type { ClientOptions } from './config.js';
export { BatchError, CODES, WharfError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { buildEnvelope, canonicalJson, newId } from './envelope.js';
export type { Args, JobSpec, JsonValue, Submitted, SubmitOptions } from './envelope.js';
export { TERMINAL } from './model.js';
export type { JobEvent, JobStatus, LogGap, LogLine } from './model.js';
export { LUA } from './lua.js';
export { TYPE_DEFAULTS } from './job_types.js';
export const VERSION = '1.0.0';
