/**
 * The API on AWS: API Gateway (REST, proxy integration) → this handler → the same `createApp()`
 * the local server uses, with the AWS dispatcher (Lambda for short executions, Fargate for long
 * ones). API Gateway has already checked the API key; the tenant is that key's id.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Context } from 'hono';
import { handle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { DEFAULT_LIMITS } from '../contract.js';
import { AwsDeploymentSchema, createAwsDispatcher, type AwsClients, type AwsDeployment } from '../dispatch/route.js';
import type { Dispatcher } from '../dispatch/types.js';
import { createApp, type AppEnv, type Authenticate, type Logger } from './app.js';

/**
 * Largest request body on AWS: Lambda accepts 6 MB per synchronous invocation, and both the
 * proxy event (headers included) and the runner's event must fit.
 */
export const AWS_MAX_BODY_BYTES = 5 * 1024 * 1024;

/** The tenant of an API Gateway request: the id (not the value) of the API key it presented. */
export const apiGatewayTenant: Authenticate = (c: Context<AppEnv>) => {
  const event = (c.env as { event?: APIGatewayProxyEvent } | undefined)?.event;
  const keyId = event?.requestContext?.identity?.apiKeyId;
  return typeof keyId === 'string' && keyId.length > 0 ? keyId : null;
};

/** API Gateway's request id, so logs on both sides line up. */
const apiGatewayRequestId = (c: Context<AppEnv>) => {
  const event = (c.env as { event?: APIGatewayProxyEvent } | undefined)?.event;
  return event?.requestContext?.requestId ?? crypto.randomUUID();
};

/** Reads the deployment description the stack passes in `RUNTOOLS_DEPLOYMENT`. */
export function deploymentFromEnv(env: NodeJS.ProcessEnv = process.env): AwsDeployment {
  const raw = env.RUNTOOLS_DEPLOYMENT;
  if (!raw) throw new Error('RUNTOOLS_DEPLOYMENT is not set (the CDK stack sets it)');
  return AwsDeploymentSchema.parse(JSON.parse(raw));
}

export interface LambdaHandlerOptions {
  deployment?: AwsDeployment;
  /** SDK clients (tests point them at local endpoints). @default clients for the function's region */
  clients?: AwsClients;
  dispatcher?: Dispatcher;
  log?: Logger;
}

/** Builds the API Gateway handler around createApp() with the AWS dispatcher. */
export function createLambdaHandler(options: LambdaHandlerOptions = {}) {
  const deployment = options.deployment ?? deploymentFromEnv();
  const log = options.log;
  const dispatcher =
    options.dispatcher ??
    createAwsDispatcher(deployment, options.clients, log ? (entry) => log.error(entry as Record<string, string>) : undefined);
  const app = createApp({
    dispatcher,
    authenticate: apiGatewayTenant,
    limits: { ...DEFAULT_LIMITS, maxBodyBytes: Math.min(DEFAULT_LIMITS.maxBodyBytes, AWS_MAX_BODY_BYTES), maxTimeoutMs: deployment.maxTimeoutMs },
    requestId: apiGatewayRequestId,
    ...(options.log ? { log: options.log } : {}),
  });
  const inner = handle(app);
  return async (event: LambdaEvent, context?: LambdaContext) => withStagePrefix(event, await inner(event, context));
}

/**
 * The app's `Location` (`/v1/executions/{id}`) is a path from the API's root; behind API Gateway
 * that root is the stage (`/api`) or a custom domain's base path, which `requestContext.path`
 * carries in front of the resource path (`path`). The prefix is put back so a client that follows
 * the header literally reaches the execution.
 */
function withStagePrefix<R>(event: LambdaEvent, response: R): R {
  const e = event as unknown as Partial<APIGatewayProxyEvent>;
  const full = e.requestContext?.path;
  const resource = e.path;
  if (!full || !resource || full === resource || !full.endsWith(resource)) return response;
  const prefix = full.slice(0, full.length - resource.length);
  const r = response as { headers?: Record<string, unknown>; multiValueHeaders?: Record<string, unknown[]> };
  for (const headers of [r.headers, r.multiValueHeaders]) {
    if (!headers) continue;
    for (const name of Object.keys(headers)) {
      if (name.toLowerCase() !== 'location') continue;
      const value = headers[name];
      const fix = (v: unknown) => (typeof v === 'string' && v.startsWith('/') ? `${prefix}${v}` : v);
      headers[name] = Array.isArray(value) ? value.map(fix) : fix(value);
    }
  }
  return response;
}

let cached: ReturnType<typeof createLambdaHandler> | undefined;

/** The Lambda entry point (`handler` in the stack's NodejsFunction). */
export const handler = (event: LambdaEvent, context?: LambdaContext) => (cached ??= createLambdaHandler())(event, context);
