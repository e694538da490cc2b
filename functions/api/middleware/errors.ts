import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { BackendError, CapacityError, QueueFullError, RuntimeUnavailableError, UnsupportedRequestError } from '../../dispatch/types.js';
import { IdempotencyMismatchError } from '../../dispatch/idempotency.js';
import { ExecutionInterruptedError, SandboxFault } from '../../errors.js';
import type { AppEnv } from '../env.js';
import { errorResponse } from '../errors.js';
import type { Logger } from '../log.js';

const GENERIC: Record<number, string> = {
  500: 'internal server error',
  502: 'the execution backend failed; retry later',
  503: 'the service is temporarily unavailable; retry later',
  504: 'the execution backend did not answer in time; retry later',
};

/** Maps every thrown error to API.md's status and error body; details of our faults go to the log only. */
export function errorHandler(log: Logger, maxBodyBytes: number): ErrorHandler<AppEnv> {
  return (err, c) => {
    if (err instanceof HTTPException) return fromHttpException(err, c, maxBodyBytes);
    if (err instanceof QueueFullError) {
      c.header('Retry-After', String(err.retryAfterSeconds));
      return errorResponse(c, 429, 'rate_limited', `${err.message} (in about ${err.retryAfterSeconds} s)`);
    }
    if (err instanceof RuntimeUnavailableError) return errorResponse(c, 503, 'runtime_unavailable', err.message);
    if (err instanceof IdempotencyMismatchError) return errorResponse(c, 422, 'idempotency_mismatch', err.message);
    if (err instanceof UnsupportedRequestError) return errorResponse(c, 400, 'invalid_request', err.message, [{ path: err.path, message: err.message }]);
    if (err instanceof CapacityError) {
      c.header('Retry-After', String(err.retryAfterSeconds));
      return errorResponse(c, 503, 'capacity', `no room to run: ${err.message}; retry in about ${err.retryAfterSeconds} s`);
    }
    if (c.req.raw.signal?.aborted) {
      c.set('logFields', { ...c.get('logFields'), clientClosed: true });
      return errorResponse(c, 503, 'internal', GENERIC[503]!);
    }
    const status = err instanceof BackendError ? err.status : 500;
    log.error({
      msg: 'request failed',
      requestId: c.get('requestId'),
      error: err.name,
      detail: err.message.slice(0, 1000),
      stack: err.stack?.split('\n').slice(1, 6).join(' | '),
    });
    // Our failure of this one execution says what failed (its message names no host detail).
    if (err instanceof SandboxFault || err instanceof ExecutionInterruptedError) return errorResponse(c, 500, 'internal', `the execution failed on the server: ${err.message}`);
    return errorResponse(c, status, 'internal', GENERIC[status] ?? GENERIC[500]!);
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
