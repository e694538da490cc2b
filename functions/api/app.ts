import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { DEFAULT_LIMITS, type Limits } from '../contract.js';
import type { Dispatcher } from '../dispatch/types.js';
import type { AppEnv } from './env.js';
import { createLogger, type Logger } from './log.js';
import { accessLog } from './middleware/access-log.js';
import { requireTenant, type Authenticate } from './middleware/auth.js';
import { errorHandler, notFound } from './middleware/errors.js';
import { rejectUnrepresentableKeys } from './middleware/json-keys.js';
import { requestId } from './middleware/request-id.js';
import { registerExecute } from './routes/execute.js';
import { registerExecutions } from './routes/executions.js';
import { registerMcp } from './routes/mcp.js';
import { registerMeta } from './routes/meta.js';
import { registerPlayground } from './routes/playground.js';
import { registerRuntimes } from './routes/runtimes.js';
import { registerUploads, uploadedBody } from './routes/uploads.js';
import { createRouter } from './routes/shared.js';
import type { Uploads } from './uploads.js';
import type { IdempotencyStore } from '../dispatch/idempotency.js';

/** Response header naming what this server supports that clients may rely on. */
export const FEATURES_HEADER = 'x-runtools-features';

export interface AppDeps {
  /** Where executions run (local, Lambda, Fargate). */
  dispatcher: Dispatcher;
  /** Resolves the caller's tenant, or null for 401 (see apiKeyAuthenticator; on API Gateway, the API key id). */
  authenticate: Authenticate;
  /** Request limits, the body limit included. @default DEFAULT_LIMITS */
  limits?: Limits;
  /** @default JSON lines on stdout/stderr */
  log?: Logger;
  /** Overrides how request ids are chosen (e.g. API Gateway's own id). */
  requestId?: (c: Context<AppEnv>) => string;
  /** Version shown in the OpenAPI document. */
  version?: string;
  /** Request bodies through S3 (`POST /v1/uploads`): the API on AWS, where an event holds less than a body. */
  uploads?: Uploads;
  /**
   * Serve the playground at `/`. The API on AWS does not: its bundle carries no playground sources
   * (the site deploys as static files there), so `/` is an ordinary 404. @default true
   */
  playground?: boolean;
  /** Where Idempotency-Key answers are kept (API.md "Idempotency"); without it the header is ignored. */
  idempotency?: IdempotencyStore;
}

/** Builds the runtools HTTP API around a dispatcher; hosts (Node server, Lambda) only wrap it. */
export function createApp(deps: AppDeps) {
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const log = deps.log ?? createLogger();
  const app = createRouter();

  app.use('*', requestId(deps.requestId));
  app.use('*', accessLog(log));
  if (deps.idempotency) {
    // Clients may retry a POST that got no answer only where the server keeps Idempotency-Key answers: it says so on every response.
    app.use('*', async (c, next) => {
      await next();
      c.res.headers.set(FEATURES_HEADER, 'idempotency-key');
    });
  }
  app.use('/v1/*', requireTenant(deps.authenticate));
  app.use('/mcp', requireTenant(deps.authenticate));
  if (deps.uploads) {
    app.use('/v1/execute', uploadedBody(deps.uploads));
    registerUploads(app, deps.uploads);
  }
  app.use('/v1/execute', bodyLimit({ maxSize: limits.maxBodyBytes }));
  app.use('/v1/execute', rejectUnrepresentableKeys());

  registerExecute(app, { dispatcher: deps.dispatcher, limits, log, ...(deps.idempotency ? { idempotency: deps.idempotency } : {}) });
  registerExecutions(app, deps);
  registerRuntimes(app, deps);
  registerMcp(app, { dispatcher: deps.dispatcher, limits, log });
  registerMeta(app, { version: deps.version ?? '0.1.0', health: deps.dispatcher.health?.bind(deps.dispatcher) });
  if (deps.playground ?? true) registerPlayground(app);

  app.notFound(notFound);
  app.onError(errorHandler(log, limits.maxBodyBytes));
  return app;
}

/** The app createApp builds. */
export type RuntoolsApp = ReturnType<typeof createApp>;

export type { AppEnv, AppVariables } from './env.js';
export type { Logger, LogFields } from './log.js';
export type { Authenticate } from './middleware/auth.js';
export { apiKeyAuthenticator, presentedKey, tenantOfKey } from './middleware/auth.js';
export { createLogger, silentLogger } from './log.js';
