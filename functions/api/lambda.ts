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
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import { DEFAULT_LIMITS } from '../contract.js';
import { AwsDeploymentSchema, createAwsDispatcher, defaultAwsClients, type AwsClients, type AwsDeployment } from '../dispatch/route.js';
import type { Dispatcher } from '../dispatch/types.js';
import { createApp, type AppEnv, type Authenticate, type Logger } from './app.js';
import { acceptsGzip } from './static-assets.js';
import { Uploads } from './uploads.js';
import { S3Idempotency } from '../dispatch/idempotency.js';
import { backgroundSettled } from '../dispatch/background.js';

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
    idempotency: new S3Idempotency({ s3: clients.s3, bucket: deployment.bucket }),
    playground: false,
    ...(options.log ? { log: options.log } : {}),
  });
  return async (event, responseStream, context) => {
    // API Gateway closes the stream when its client goes away: the request is aborted with it
    // (a streamed execution is then killed, as locally).
    const controller = new AbortController();
    responseStream.once('close', () => controller.abort());
    const e = event as unknown as APIGatewayProxyEvent;
    const response = await app.fetch(requestOf(e, controller.signal), { event, requestContext: e.requestContext, lambdaContext: context });
    await writeResponse(responseStream, e, response);
    // The client has its answer; work the API finishes after a 202 keeps the invocation alive.
    await backgroundSettled();
  };
}

/** The web Request of a REST API proxy event. */
function requestOf(event: APIGatewayProxyEvent, signal: AbortSignal): Request {
  const headers = new Headers();
  if (event.multiValueHeaders) {
    for (const [name, values] of Object.entries(event.multiValueHeaders)) for (const value of values ?? []) headers.append(name, value);
  } else {
    for (const [name, value] of Object.entries(event.headers ?? {})) if (value != null) headers.set(name, value);
  }
  const query = new URLSearchParams();
  if (event.multiValueQueryStringParameters) {
    for (const [name, values] of Object.entries(event.multiValueQueryStringParameters)) for (const value of values ?? []) query.append(name, value);
  } else {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) if (value != null) query.append(name, value);
  }
  const search = query.toString();
  const url = `https://${headers.get('host') ?? 'localhost'}${event.path}${search ? `?${search}` : ''}`;
  const method = event.httpMethod ?? 'GET';
  const body = event.body == null || method === 'GET' || method === 'HEAD' ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64') : event.body;
  return new Request(url, { method, headers, body, signal });
}

/**
 * Writes the app's Response in the streaming format API Gateway reads: a JSON prelude (status and
 * headers), eight NUL bytes, the body (docs.aws.amazon.com/apigateway/latest/developerguide/
 * response-transfer-mode-lambda.html); `HttpResponseStream.from` writes the prelude and marks the
 * stream's content type. Server-Sent Events are passed on as they come; any other body is sent
 * whole, gzip-compressed when the client accepts it.
 */
async function writeResponse(responseStream: Writable, event: APIGatewayProxyEvent, response: Response): Promise<void> {
  const runtime = streamingRuntime();
  if (!runtime) throw new Error('the API handler streams its responses: it runs on the Node.js Lambda runtime (awslambda global)');
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && name !== 'content-length') headers[name] = value;
  });
  const prefix = stagePrefix(event);
  if (prefix && headers.location?.startsWith('/')) headers.location = `${prefix}${headers.location}`;
  const cookies = response.headers.getSetCookie();
  const multiValueHeaders = cookies.length ? { 'set-cookie': cookies } : undefined;
  const live = (headers['content-type'] ?? '').startsWith('text/event-stream');
  let body: Buffer | null = null;
  if (!live) {
    body = Buffer.from(await response.arrayBuffer());
    const acceptEncoding = Object.entries(event.headers ?? {}).find(([name]) => name.toLowerCase() === 'accept-encoding')?.[1] ?? undefined;
    if (acceptsGzip(acceptEncoding) && body.length >= GZIP_MIN_BYTES && !headers['content-encoding']) {
      body = gzipSync(body, { level: 1 });
      headers['content-encoding'] = 'gzip';
      headers.vary = 'accept-encoding';
    }
  }
  const out = runtime.HttpResponseStream.from(responseStream, { statusCode: response.status, headers, ...(multiValueHeaders ? { multiValueHeaders } : {}) });
  if (body) out.end(body);
  else {
    try {
      const reader = response.body?.getReader();
      for (;;) {
        const next = await reader?.read();
        if (!next || next.done) break;
        if (!out.write(next.value)) await new Promise((resolve) => out.once('drain', resolve));
      }
    } finally {
      out.end();
    }
  }
  await finished(out).catch(() => {});
}

/**
 * The app's `Location` (`/v1/executions/{id}`) is a path from the API's root; behind API Gateway
 * that root is the stage (`/api`) or a custom domain's base path, which `requestContext.path`
 * carries in front of the resource path (`path`): the prefix to put back so a client that follows
 * the header literally reaches the execution.
 */
function stagePrefix(event: APIGatewayProxyEvent): string {
  const full = event.requestContext?.path;
  const resource = event.path;
  if (!full || !resource || full === resource || !full.endsWith(resource)) return '';
  return full.slice(0, full.length - resource.length);
}

let cached: StreamingHandler | undefined;
const lazy: StreamingHandler = (event, responseStream, context) => (cached ??= createLambdaHandler())(event, responseStream, context);

/** The Lambda entry point (`handler` in the stack's NodejsFunction): a response-streaming handler. */
export const handler: StreamingHandler = streamingRuntime()?.streamifyResponse(lazy) ?? lazy;
