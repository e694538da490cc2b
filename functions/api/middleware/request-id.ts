import { randomBytes } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';

const ACCEPTABLE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Picks the id of a request: the caller's x-request-id when it is sane, else a fresh one. */
export function defaultRequestId(c: Context<AppEnv>): string {
  const given = c.req.header('x-request-id');
  return given && ACCEPTABLE.test(given) ? given : `req_${randomBytes(12).toString('base64url')}`;
}

/** Assigns the request id and returns it as `x-request-id` on every response, errors included. */
export function requestId(generate: (c: Context<AppEnv>) => string = defaultRequestId): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = generate(c);
    c.set('requestId', id);
    c.set('logFields', {});
    await next();
    c.res.headers.set('x-request-id', id);
  };
}
