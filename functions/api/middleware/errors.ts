import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { BackendError, CapacityError, QueueFullError, RuntimeUnavailableError, UnsupportedRequestError } from '../../dispatch/types.js';
import { IdempotencyMismatchError } from '../../dispatch/idempotency.js';
import { ExecutionInterruptedError, SandboxFault } from '../../errors.js';
import type { AppEnv } from '../env.js';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../contract.js';
import { errorResponse, type Issue } from '../errors.js';
import type { Logger } from '../log.js';

/** The messages of our own failures, by status: nothing of the cause is told. */
export const GENERIC_MESSAGES: Record<number, string> = {
  500: 'internal server error',
  502: 'the execution backend failed; retry later',
  503: 'the service is temporarily unavailable; retry later',
  504: 'the execution backend did not answer in time; retry later',
};

/** An error as API.md answers it: status, code, message, and what else the answer carries. */
export interface DescribedError {
  status: ContentfulStatusCode;
  code: ErrorCode;
  message: string;
  issues?: Issue[];
  retryAfterSeconds?: number;
}

/**
 * What a failed request answers (a JSON error, or a stream's `error` event after its 200): the
 * errors the contract names by code, else ours, logged with the request id and answered with a
 * generic message.
 */
export function describeError(err: unknown, log: Logger, requestId: string, logMessage = 'request failed'): DescribedError {
  const known = contractError(err);
  if (known) return known;
  const e = err instanceof Error ? err : new Error(String(err));
  const status = e instanceof BackendError ? e.status : 500;
  log.error({ msg: logMessage, requestId, error: e.name, detail: e.message.slice(0, 1000), stack: e.stack?.split('\n').slice(1, 6).join(' | ') });
  // Our failure of this one execution says what failed (its message names no host detail).
  if (e instanceof SandboxFault || e instanceof ExecutionInterruptedError) return { status: 500, code: 'internal', message: `the execution failed on the server: ${e.message}` };
  return { status, code: 'internal', message: GENERIC_MESSAGES[status] ?? GENERIC_MESSAGES[500]! };
}

/** The errors the contract answers by their own code (whatever the client did meanwhile), or undefined. */
function contractError(err: unknown): DescribedError | undefined {
  if (err instanceof QueueFullError) return { status: 429, code: 'rate_limited', message: `${err.message} (in about ${err.retryAfterSeconds} s)`, retryAfterSeconds: err.retryAfterSeconds };
  if (err instanceof RuntimeUnavailableError) return { status: 503, code: 'runtime_unavailable', message: err.message };
  if (err instanceof IdempotencyMismatchError) return { status: 422, code: 'idempotency_mismatch', message: err.message };
  if (err instanceof UnsupportedRequestError) return { status: 400, code: 'invalid_request', message: err.message, issues: [{ path: err.path, message: err.message }] };
  if (err instanceof CapacityError) {
    return { status: 503, code: 'capacity', message: `no room to run: ${err.message}; retry in about ${err.retryAfterSeconds} s`, retryAfterSeconds: err.retryAfterSeconds };
  }
  return undefined;
}

/** Maps every thrown error to API.md's status and error body; details of our faults go to the log only. */
export function errorHandler(log: Logger, maxBodyBytes: number): ErrorHandler<AppEnv> {
  return (err, c) => {
    if (err instanceof HTTPException) return fromHttpException(err, c, maxBodyBytes);
    if (c.req.raw.signal?.aborted && !contractError(err)) {
      c.set('logFields', { ...c.get('logFields'), clientClosed: true });
      return errorResponse(c, 503, 'internal', GENERIC_MESSAGES[503]!);
    }
    const e = describeError(err, log, c.get('requestId'));
    if (e.retryAfterSeconds !== undefined) c.header('Retry-After', String(e.retryAfterSeconds));
    return errorResponse(c, e.status, e.code, e.message, e.issues);
  };
}

function fromHttpException(err: HTTPException, c: Context<AppEnv>, maxBodyBytes: number): Response {
  if (err.status === 413) {
    return errorResponse(c, 413, 'payload_too_large', `the request body is larger than ${maxBodyBytes} bytes`);
  }
  if (err.status === 415) {
    return errorResponse(c, 400, 'invalid_request', 'the request body must be JSON sent with Content-Type: application/json');
  }
  if (err.status === 400) {
    const message = /malformed json/i.test(err.message) ? 'the request body is not valid JSON' : err.message || 'bad request';
    return errorResponse(c, 400, 'invalid_request', message);
  }
  if (err.status === 401) return errorResponse(c, 401, 'unauthorized', err.message || 'unauthorized');
  if (err.status === 404) return errorResponse(c, 404, 'not_found', err.message || 'not found');
  return errorResponse(c, err.status >= 500 ? 500 : 400, err.status >= 500 ? 'internal' : 'invalid_request', err.message || 'bad request');
}

/** Unknown routes: a JSON 404 that names the method and path. */
export const notFound: NotFoundHandler<AppEnv> = (c) =>
  errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`);
