import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';
import type { Logger } from '../log.js';

/** Writes one structured line per request: id, method, path, status, duration and route fields (never bodies or keys). */
export function accessLog(log: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const status = c.res.status;
    const fields = {
      msg: 'request',
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path.slice(0, 200),
      status,
      durationMs: Math.round(performance.now() - started),
      ...c.get('logFields'),
    };
    if (status >= 500) log.error(fields);
    else log.info(fields);
  };
}
