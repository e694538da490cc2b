/**
 * The API on AWS: API Gateway (REST, Lambda proxy integration in response transfer mode STREAM)
 * → this handler → the same `createApp()` the local server uses, with the AWS dispatcher (Lambda
 * for short executions, Fargate for long ones). API Gateway has already checked the API key; the
 * tenant is that key's id.
 *
 * Why streaming: a buffered Lambda response is at most 6 MB, and the result's JSON may be more
 * (1 MiB of control characters per stream is ~12.6 MB escaped); a streamed one may be 200 MB
 * (docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html), and API Gateway's
 * 10 MB response limit and 29 s integration timeout do not apply to it
 * (docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html). The body is
 * gzip-compressed when the client accepts it: past its first 6 MB a stream is capped at 2 MB/s,
 * and API Gateway does not compress streamed responses itself.
 */
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Context } from 'hono';
import { handle, type LambdaContext, type LambdaEvent } from 'hono/aws-lambda';
import { DEFAULT_LIMITS } from '../contract.js';
import { AwsDeploymentSchema, createAwsDispatcher, defaultAwsClients, type AwsClients, type AwsDeployment } from '../dispatch/route.js';
import type { Dispatcher } from '../dispatch/types.js';
import { createApp, type AppEnv, type Authenticate, type Logger } from './app.js';
import { Uploads } from './uploads.js';

/**
 * Largest request body on AWS: the local server's. A body whose event would not fit Lambda's
 * 6 MB comes through an upload (POST /v1/uploads; the SDK does it by itself).
 */
export const AWS_MAX_BODY_BYTES = DEFAULT_LIMITS.maxBodyBytes;

/** The Node.js managed runtime's streaming helpers (the `awslambda` global of its runtime interface client). */
export interface LambdaStreamingRuntime {
  streamifyResponse<H>(handler: H): H;
  HttpResponseStream: { from(stream: Writable, prelude: Record<string, unknown>): Writable };
}

/** The runtime's helpers; the AWS SDK also defines an `awslambda` object (@aws/lambda-invoke-store), without them. */
const streamingRuntime = (): LambdaStreamingRuntime | undefined => {
  const runtime = (globalThis as { awslambda?: Partial<LambdaStreamingRuntime> }).awslambda;
  return typeof runtime?.streamifyResponse === 'function' && runtime.HttpResponseStream ? (runtime as LambdaStreamingRuntime) : undefined;
};

/** Bodies below this are sent as they are: compressing them saves nothing worth the CPU. */
const GZIP_MIN_BYTES = 8 * 1024;

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

/** A proxy integration's answer, as hono/aws-lambda builds it. */
interface ProxyResult {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  multiValueHeaders?: Record<string, Array<string | number | boolean>>;
  body: string;
  isBase64Encoded?: boolean;
}

/** The streaming handler: `(event, responseStream, context)`, what `awslambda.streamifyResponse` wraps. */
export type StreamingHandler = (event: LambdaEvent, responseStream: Writable, context?: LambdaContext) => Promise<void>;

/** Builds the API Gateway handler around createApp() with the AWS dispatcher. */
export function createLambdaHandler(options: LambdaHandlerOptions = {}): StreamingHandler {
  const deployment = options.deployment ?? deploymentFromEnv();
  const log = options.log;
  const clients = options.clients ?? defaultAwsClients(deployment);
  const dispatcher =
    options.dispatcher ?? createAwsDispatcher(deployment, clients, log ? (entry) => log.error(entry as Record<string, string>) : undefined);
  const app = createApp({
    dispatcher,
    authenticate: apiGatewayTenant,
    limits: { ...DEFAULT_LIMITS, maxBodyBytes: AWS_MAX_BODY_BYTES, maxTimeoutMs: deployment.maxTimeoutMs },
    requestId: apiGatewayRequestId,
    uploads: new Uploads({ s3: clients.s3, bucket: deployment.bucket, maxBytes: AWS_MAX_BODY_BYTES }),
    ...(options.log ? { log: options.log } : {}),
  });
  const inner = handle(app);
  return async (event, responseStream, context) => {
    const result = withStagePrefix(event, (await inner(event, context)) as ProxyResult);
    await writeStreamed(responseStream, result, acceptsGzip(event));
  };
}

function acceptsGzip(event: LambdaEvent): boolean {
  const headers = (event as { headers?: Record<string, string | undefined> | null }).headers ?? {};
  const value = Object.entries(headers).find(([name]) => name.toLowerCase() === 'accept-encoding')?.[1] ?? '';
  return value.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/**
 * Writes a proxy result in the streaming format API Gateway reads: a JSON prelude (status and
 * headers), eight NUL bytes, the body (docs.aws.amazon.com/apigateway/latest/developerguide/
 * response-transfer-mode-lambda.html); `HttpResponseStream.from` writes the prelude and marks
 * the stream's content type.
 */
async function writeStreamed(responseStream: Writable, result: ProxyResult, gzip: boolean): Promise<void> {
  const runtime = streamingRuntime();
  if (!runtime) throw new Error('the API handler streams its responses: it runs on the Node.js Lambda runtime (awslambda global)');
  let body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body ?? '', 'utf8');
  const values = new Map<string, string[]>();
  const add = (name: string, value: unknown) => {
    const key = name.toLowerCase();
    values.set(key, [...(values.get(key) ?? []), String(value)]);
  };
  for (const [name, value] of Object.entries(result.headers ?? {})) add(name, value);
  for (const [name, list] of Object.entries(result.multiValueHeaders ?? {})) {
    if (values.has(name.toLowerCase())) continue;
    for (const value of list) add(name, value);
  }
  if (gzip && body.length >= GZIP_MIN_BYTES && !values.has('content-encoding')) {
    body = gzipSync(body, { level: 1 });
    values.set('content-encoding', ['gzip']);
    values.set('vary', ['accept-encoding']);
  }
  values.delete('content-length');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, list] of values) {
    if (list.length === 1) headers[name] = list[0]!;
    else multiValueHeaders[name] = list;
  }
  const prelude = { statusCode: result.statusCode, headers, ...(Object.keys(multiValueHeaders).length ? { multiValueHeaders } : {}) };
  const out = runtime.HttpResponseStream.from(responseStream, prelude);
  out.end(body);
  await finished(out);
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

let cached: StreamingHandler | undefined;
const lazy: StreamingHandler = (event, responseStream, context) => (cached ??= createLambdaHandler())(event, responseStream, context);

/** The Lambda entry point (`handler` in the stack's NodejsFunction): a response-streaming handler. */
export const handler: StreamingHandler = streamingRuntime()?.streamifyResponse(lazy) ?? lazy;
