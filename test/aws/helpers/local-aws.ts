/**
 * The AWS path on this machine: s3rver for S3, the Lambda and ECS emulators, real SDK clients
 * pointed at them, and a small API Gateway front (API keys → key ids, proxy events) in front of
 * functions/api/lambda.ts.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import S3rver from 's3rver';
import { RUNTIME_IDS } from '../../../functions/contract.js';
import { RUNTIMES } from '../../../functions/runtimes.js';
import type { AwsClients, AwsDeployment } from '../../../functions/dispatch/route.js';
import { goCacheMaster } from '../../../functions/runner/paths.js';
import { findToolchain, getRuntime } from '../../../functions/runner/runtimes/index.js';
import { launcherPath } from '../../../functions/runner/sandbox/launcher.js';
import { createLambdaHandler } from '../../../functions/api/lambda.js';
import { silentLogger } from '../../../functions/api/app.js';
import { EcsEmulator } from './ecs-emulator.js';
import { LambdaEmulator, MAX_REQUEST_BYTES, type EmulatedFunction } from './lambda-emulator.js';
import { installStreamingRuntime, readStreamedResponse, ResponseStream } from './lambda-streaming.js';

interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | AsyncIterable<Buffer>;
  metadata: unknown;
}

/**
 * s3rver answers a PUT as soon as the body has streamed through, before its file is written:
 * a reader right after (the Fargate dispatcher once the task has stopped) can find the object
 * missing or cut short. Real S3 is read-after-write consistent, so the emulator is made so too:
 * the object and its metadata are on disk before the answer.
 */
function makeS3rverReadAfterWrite(): void {
  const Store = createRequire(import.meta.url)('s3rver/lib/stores/filesystem.js') as {
    prototype: {
      getResourcePath(bucket: string, key: string, kind: string): string;
      putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
      putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
    };
  };
  Store.prototype.putObject = async function putObject(object) {
    let content: Buffer;
    if (Buffer.isBuffer(object.content)) content = object.content;
    else {
      const chunks: Buffer[] = [];
      for await (const chunk of object.content) chunks.push(Buffer.from(chunk));
      content = Buffer.concat(chunks);
    }
    const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(path.dirname(objectPath), { recursive: true });
    await writeFile(`${objectPath}.writing`, content);
    await rename(`${objectPath}.writing`, objectPath);
    const md5 = createHash('md5').update(content).digest('hex');
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
    return { size: content.length, md5 };
  };
}

/**
 * S3 creates an object with `If-None-Match: *` only where none exists (else 412
 * PreconditionFailed; docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
 * s3rver ignores the header, so the emulator is made to honour it: create-once result URLs,
 * single-object uploads and idempotency keys depend on it.
 */
function makeS3rverConditional(): void {
  const require = createRequire(import.meta.url);
  const controller = require('s3rver/lib/controllers/object.js') as { putObject: ((ctx: S3rverContext) => Promise<void>) & { conditional?: true } };
  const S3Error = require('s3rver/lib/models/error.js') as new (code: string, message: string, detail?: Record<string, string>) => Error;
  if (controller.putObject.conditional) return;
  const original = controller.putObject;
  const creating = new Set<string>();
  const put = async (ctx: S3rverContext) => {
    if (ctx.headers['if-none-match'] !== '*') return original(ctx);
    const id = `${ctx.params.bucket}/${ctx.params.key}`;
    if (creating.has(id) || (await ctx.store.existsObject(ctx.params.bucket, ctx.params.key))) {
      throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' });
    }
    creating.add(id);
    try {
      return await original(ctx);
    } finally {
      creating.delete(id);
    }
  };
  controller.putObject = Object.assign(put, { conditional: true as const });
}

interface S3rverContext {
  headers: Record<string, string | undefined>;
  params: { bucket: string; key: string };
  store: { existsObject(bucket: string, key: string): Promise<boolean> };
}

/**
 * Where this machine's toolchains are, as the images' environment would say. The Go cache is
 * named explicitly: the runner in an emulated Lambda is not root and would look in its own home.
 */
export async function toolchainEnv(): Promise<Record<string, string>> {
  const env: Record<string, string> = { RUNTOOLS_GO_CACHE: goCacheMaster() };
  for (const id of RUNTIME_IDS) {
    const rt = getRuntime(id);
    const tool = await findToolchain(rt);
    if (tool) env[rt.toolVariable] = tool.bin;
  }
  if (process.env.RUSTUP_HOME) env.RUSTUP_HOME = process.env.RUSTUP_HOME;
  // The images put the launcher beside the bundle; a bundle built elsewhere is told where it is.
  const launcher = launcherPath();
  if (launcher) env.RUNTOOLS_LAUNCHER = launcher;
  return env;
}

const fakeCredentials = { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' };

/** The result-writer role of the local deployment (the stack's `ResultWriter`). */
export const RESULT_WRITER_ROLE = 'arn:aws:iam::123456789012:role/runtools-result-writer';

/**
 * STS's AssumeRole (query protocol, XML answer) for the result-writer role: sessions whose keys
 * s3rver accepts (it checks signatures against S3RVER/S3RVER), with the requested duration.
 */
async function startSts(): Promise<{ endpoint: string; calls: Array<Record<string, string>>; close(): Promise<void> }> {
  const calls: Array<Record<string, string>> = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const params = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    calls.push(params);
    if (params.Action !== 'AssumeRole' || params.RoleArn !== RESULT_WRITER_ROLE) {
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end('<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized</Message></Error></ErrorResponse>');
      return;
    }
    const expiration = new Date(Date.now() + Number(params.DurationSeconds ?? 3600) * 1000).toISOString();
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
        `<AccessKeyId>S3RVER</AccessKeyId><SecretAccessKey>S3RVER</SecretAccessKey><SessionToken>session-${calls.length}</SessionToken>` +
        `<Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROALOCAL:${params.RoleSessionName}</AssumedRoleId>` +
        `<Arn>arn:aws:sts::123456789012:assumed-role/runtools-result-writer/${params.RoleSessionName}</Arn></AssumedRoleUser></AssumeRoleResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A static API key → key id table, like API Gateway's keys attached to a usage plan. */
export const API_KEYS: Record<string, string> = { 'key-alice': 'kid-alice', 'key-bob': 'kid-bob' };

export interface LocalAws {
  lambda: LambdaEmulator;
  ecs: EcsEmulator;
  /** AssumeRole calls the STS stand-in answered. */
  assumeRoleCalls: Array<Record<string, string>>;
  clients: AwsClients;
  deployment: AwsDeployment;
  /** Base URL of the API Gateway front. */
  apiUrl: string;
  /** A second front with another deployment (e.g. a broken runner function). */
  startApi(deployment: AwsDeployment): Promise<{ url: string; close(): Promise<void> }>;
  stop(): Promise<void>;
}

export interface LocalAwsOptions {
  /** Extra functions the Lambda emulator knows, by name. */
  extraFunctions?: Record<string, EmulatedFunction>;
  /** Environment of every runner environment (on top of the toolchains). */
  runnerEnv?: Record<string, string>;
  syncBudgetMs?: number;
}

/** Starts S3, Lambda, ECS and the API front on loopback ports. */
export async function startLocalAws(options: LocalAwsOptions = {}): Promise<LocalAws> {
  const tools = await toolchainEnv();
  const s3Dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-s3-'));
  makeS3rverReadAfterWrite();
  makeS3rverConditional();
  const s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Dir, configureBuckets: [{ name: 'runtools-results', configs: [] }] });
  const s3Address = (await s3rver.run()) as AddressInfo;

  const functions: Record<string, EmulatedFunction> = {};
  const tasks: AwsDeployment['tasks'] = {};
  const taskDefs: Record<string, { containerName: string }> = {};
  for (const id of RUNTIME_IDS) {
    functions[`runtools-${id}`] = { tenantIsolation: true, env: options.runnerEnv, concurrency: 4 };
    const arn = `arn:aws:ecs:eu-west-1:123456789012:task-definition/runtools-${id}:1`;
    tasks[id] = { taskDefinition: arn, containerName: 'runner' };
    taskDefs[arn] = { containerName: 'runner' };
  }
  const lambda = await new LambdaEmulator({ ...functions, ...options.extraFunctions }, tools).start();
  const ecs = await new EcsEmulator('runtools', taskDefs, tools).start();

  const sts = await startSts();
  const common = { region: 'eu-west-1', credentials: fakeCredentials };
  const s3Config = {
    region: 'eu-west-1',
    endpoint: `http://127.0.0.1:${s3Address.port}`,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  } as const;
  const clients: AwsClients = {
    lambda: new LambdaClient({ ...common, endpoint: lambda.endpoint, maxAttempts: 1 }),
    ecs: new ECSClient({ ...common, endpoint: ecs.endpoint, maxAttempts: 1 }),
    s3: new S3Client({ ...s3Config, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } }),
    sts: new STSClient({ ...common, endpoint: sts.endpoint, maxAttempts: 1 }),
    s3With: (credentials) => new S3Client({ ...s3Config, credentials }),
  };
  const deployment: AwsDeployment = {
    functions: Object.fromEntries(RUNTIME_IDS.map((id) => [id, `runtools-${id}`])),
    tasks,
    versions: Object.fromEntries(RUNTIMES.map((r) => [r.id, r.image.version])),
    cluster: 'runtools',
    bucket: 'runtools-results',
    subnets: ['subnet-local'],
    securityGroups: ['sg-local'],
    assignPublicIp: false,
    tenantIsolation: true,
    syncBudgetMs: options.syncBudgetMs ?? 25_000,
    // As the stack computes it: the runner functions' timeout (60 s here) less 5 s.
    functionBudgetMs: 55_000,
    compileAllowanceMs: 10_000,
    taskRuntimes: [],
    maxTimeoutMs: 300_000,
    resultUrlSeconds: 3600,
    resultWriterRoleArn: RESULT_WRITER_ROLE,
  };

  const fronts: Array<{ close(): Promise<void> }> = [];
  const startApi = async (d: AwsDeployment) => {
    const front = await startApiGateway(createLambdaHandler({ deployment: d, clients, log: silentLogger }));
    fronts.push(front);
    return front;
  };
  const main = await startApi(deployment);

  return {
    lambda,
    ecs,
    assumeRoleCalls: sts.calls,
    clients,
    deployment,
    apiUrl: main.url,
    startApi,
    async stop() {
      await Promise.all(fronts.map((f) => f.close()));
      await Promise.all([lambda.stop(), ecs.stop(), sts.close()]);
      await s3rver.close();
      for (const c of [clients.lambda, clients.ecs, clients.s3, clients.sts]) c?.destroy();
      rmSync(s3Dir, { recursive: true, force: true });
    },
  };
}

type ProxyHandler = ReturnType<typeof createLambdaHandler>;

/** The stage the stack deploys (infra/constructs/api.ts). */
const STAGE = '/api';

/** API Gateway REST APIs take request bodies up to 10 MB (docs: "Amazon API Gateway quotas"). */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Largest streamed Lambda response (docs: "Response streaming for Lambda functions"). */
export const MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024;

/**
 * API Gateway's part, as the stack configures it: every route but GET /health needs a known
 * `x-api-key` (else the 401 gateway response); the function gets a REST proxy event whose
 * `requestContext.identity.apiKeyId` is the key's id, through InvokeWithResponseStream (the
 * integrations' response transfer mode is STREAM), so Lambda's 6 MB limit holds for the event
 * and the response is read as a stream (prelude, delimiter, body).
 */
export async function startApiGateway(handler: ProxyHandler): Promise<{ url: string; close(): Promise<void> }> {
  installStreamingRuntime();
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size <= API_GATEWAY_MAX_BODY_BYTES) chunks.push(c as Buffer);
    }
    if (size > API_GATEWAY_MAX_BODY_BYTES) {
      // The stack's REQUEST_TOO_LARGE gateway response.
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'payload_too_large', message: 'the request body is too large' } }));
      return;
    }
    const full = new URL(req.url ?? '/', 'http://localhost');
    // The API lives under its stage, as `<api>.execute-api.<region>.amazonaws.com/api/...`.
    if (full.pathname !== STAGE && !full.pathname.startsWith(`${STAGE}/`)) {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Missing Authentication Token' }));
      return;
    }
    const url = new URL(full.pathname.slice(STAGE.length) || '/', 'http://localhost');
    url.search = full.search;
    const key = req.headers['x-api-key'] as string | undefined;
    const keyId = key ? API_KEYS[key] : undefined;
    const isHealth = url.pathname === '/health' && req.method === 'GET';
    if (!isHealth && !keyId) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'missing or invalid API key: send it in the x-api-key header' } }));
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const query = Object.fromEntries(url.searchParams);
    const body = Buffer.concat(chunks).toString('utf8');
    const event = {
      resource: isHealth ? '/health' : '/{proxy+}',
      path: url.pathname,
      httpMethod: req.method ?? 'GET',
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: Object.keys(query).length ? query : null,
      multiValueQueryStringParameters: null,
      pathParameters: isHealth ? null : { proxy: url.pathname.slice(1) },
      stageVariables: null,
      requestContext: {
        accountId: '123456789012',
        apiId: 'local',
        stage: STAGE.slice(1),
        requestId: randomUUID(),
        httpMethod: req.method ?? 'GET',
        path: full.pathname,
        resourcePath: isHealth ? '/health' : '/{proxy+}',
        protocol: 'HTTP/1.1',
        requestTimeEpoch: Date.now(),
        identity: { apiKeyId: keyId ?? null, apiKey: key ?? null, sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? null },
      },
      body: body.length ? body : null,
      isBase64Encoded: false,
    };
    // The event is JSON with the body escaped inside: Lambda refuses it over 6 MB
    // (RequestEntityTooLargeException, 413), and API Gateway answers the client 413.
    const payload = Buffer.byteLength(JSON.stringify(event));
    if (payload > MAX_REQUEST_BYTES) {
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `${payload} byte payload is too large for the RequestResponse invocation type (limit ${MAX_REQUEST_BYTES} bytes)` }));
      return;
    }
    const stream = new ResponseStream();
    const done = handler(event as never, stream).then(
      () => stream.end(),
      (err: unknown) => stream.destroy(err as Error),
    );
    try {
      const out = await readStreamedResponse(stream);
      res.writeHead(out.statusCode, out.headers);
      let sent = 0;
      for await (const chunk of out.body) {
        sent += chunk.length;
        if (sent > MAX_STREAMED_RESPONSE_BYTES) throw new Error('the streamed response is over 200 MB');
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
      }
      res.end();
    } catch {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Internal server error' }));
      } else res.destroy();
    }
    await done;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${STAGE}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
