/**
 * A small Lambda for tests: the Invoke API (what @aws-sdk/client-lambda calls) on one side, the
 * Lambda Runtime API (what functions/runner/lambda.ts polls) on the other. Each execution
 * environment is started through the images' bootstrap exactly as in an image, reused while warm
 * per function and (with tenant isolation) per tenant, and built like Lambda's where it matters
 * for what a program can reach:
 *   - its own PID and mount namespaces, whose PID 1 is an init standing for Lambda's
 *     (lambda-init.sh, root, holding the Runtime API address and the credentials in its
 *     environment); the runtime is its child, not PID 1, so the kernel does not shield it;
 *   - the runtime runs as Lambda's sandbox user (uid 993, gid 990, no capabilities), never root;
 *   - every mount is read-only except /tmp, which is the environment's scratch directory;
 *   - the code it runs (this repository) appears at REPO_VIEW, a fixed path outside /tmp (as a
 *     function's code sits in /var/task), so a checkout under /tmp stays visible;
 *   - the Runtime API refuses a second /next while an invocation is outstanding (403), and the
 *     6 MB limits of synchronous invocations hold for the Invoke payload and the response.
 * Needs root (namespaces, mounts, the uid switch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { EventStreamCodec } from '@smithy/core/event-streams';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const INIT = path.join(import.meta.dirname, 'lambda-init.sh');

/** Where this repository appears inside an environment (lambda-init.sh binds it there, read-only). */
export const REPO_VIEW = '/mnt/runtools';

/** A path (or argument, or variable value) as an environment sees it: the repository moved to REPO_VIEW. */
const inside = (value: string) => (value === ROOT || value.startsWith(`${ROOT}/`) ? REPO_VIEW + value.slice(ROOT.length) : value);

/**
 * Lambda's sandbox user, sbx_user1051, as `id` reports it inside a function
 * (https://docs.rs/run-command-on-aws-lambda: "uid=993(sbx_user1051) gid=990").
 */
export const LAMBDA_UID = 993;
export const LAMBDA_GID = 990;

/**
 * Largest synchronous Invoke payload: "For synchronous invocations, the maximum payload size is
 * 6 MB" (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html; quotas:
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Over it Invoke
 * answers 413: the API reference names the error RequestTooLargeException, the service sends
 * `RequestEntityTooLargeException` with "N byte payload is too large for the RequestResponse
 * invocation type (limit 6291456 bytes)".
 */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

/**
 * Largest function response: 6 MiB + 100 bytes, interop.MaxPayloadSize in Lambda's runtime
 * interface emulator (github.com/aws/aws-lambda-runtime-interface-emulator, lambda/interop/model.go).
 * Over it the Runtime API answers the runtime's POST .../response with 413 RequestEntityTooLarge
 * (the OpenAPI spec of the Runtime API lists 413 for it; rapi/handler/invocationresponse.go), and
 * the invocation fails with `Function.ResponseSizeTooLarge`.
 */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

/** Largest streamed response (docs.aws.amazon.com/lambda/latest/dg/configuration-response-streaming.html: 200 MB). */
export const MAX_STREAMED_RESPONSE_BYTES = 200 * 1024 * 1024;

/**
 * InvokeWithResponseStream answers with AWS event-stream messages
 * (docs.aws.amazon.com/lambda/latest/api/API_InvokeWithResponseStream.html): `PayloadChunk`
 * events whose body is the bytes the function streamed, then one `InvokeComplete` (JSON, with
 * `ErrorCode` / `ErrorDetails` when the invocation failed).
 */
const eventStream = new EventStreamCodec(
  (bytes) => new TextDecoder().decode(bytes),
  (text) => new TextEncoder().encode(text),
);
const streamEvent = (type: 'PayloadChunk' | 'InvokeComplete', body: Uint8Array, contentType: string) =>
  Buffer.from(
    eventStream.encode({
      headers: {
        ':event-type': { type: 'string', value: type },
        ':message-type': { type: 'string', value: 'event' },
        ':content-type': { type: 'string', value: contentType },
      },
      body,
    }),
  );

export interface EmulatedFunction {
  /** Seconds before an invocation is cut off (Sandbox.Timedout) and its environment destroyed. @default 60 */
  timeoutSeconds?: number;
  /** Reject invocations without a tenant id, keep environments per tenant. @default false */
  tenantIsolation?: boolean;
  /** Extra environment of the init and the runtime (e.g. planted credentials). */
  env?: Record<string, string>;
  /** Argv after the bootstrap. @default node --import tsx functions/runner/lambda.ts */
  command?: string[];
  /** Environments at once; beyond it invocations are throttled (429). @default unlimited */
  concurrency?: number;
}

interface Invocation {
  id: string;
  payload: Buffer;
  deadlineMs: number;
  done: (outcome: { ok: true; body: Buffer } | { ok: false; body: Buffer; errorType: string }) => void;
  /** InvokeWithResponseStream: a streamed response's bytes as the runtime sends them. */
  onChunk?: (chunk: Buffer) => void;
}

/** One execution environment, as the tests may inspect it. */
export interface Environment {
  id: string;
  fn: string;
  tenant: string | null;
  /** `unshare`, whose child is the environment's init. */
  child: ChildProcess;
  server: Server;
  /** The Runtime API address (AWS_LAMBDA_RUNTIME_API), once it listens. */
  runtimeApi: string;
  /** Host directory mounted on the environment's /tmp. */
  scratch: string;
  busy: Invocation | null;
  /** Pending GET /next requests, oldest first. */
  waiting: ServerResponse[];
  queued: Invocation | null;
  dead: boolean;
  output: string[];
  /** Every Runtime API request: method, path, user agent. */
  requests: Array<{ method: string; url: string; agent: string }>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

function sendError(res: ServerResponse, status: number, type: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ Type: 'User', message }));
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const failure = (errorType: string, errorMessage: string) => ({
  ok: false as const,
  errorType,
  body: Buffer.from(JSON.stringify({ errorType, errorMessage })),
});

/**
 * A /next while the runtime is processing an invocation. The Runtime API's OpenAPI spec
 * (runtime-api.zip, linked from https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html)
 * lists 403 Forbidden with an ErrorResponse for GET /runtime/invocation/next; the runtime
 * interface emulator renders a refused state transition as 403 `InvalidStateTransition` with
 * this message format (rapi/rendering/rendering.go, rapi/handler/constants.go). The service
 * refuses a second /next during an invocation so (observed; the docs give only the status),
 * whereas the open-source emulator's state machine hands the same event out again, which this
 * emulator deliberately does not copy.
 */
function refuseNext(res: ServerResponse) {
  sendJson(res, 403, {
    errorType: 'InvalidStateTransition',
    errorMessage: 'State transition from Running to Ready failed for runtime. Error: State transition is not allowed',
  });
}

/** The emulator: `endpoint` goes into `new LambdaClient({ endpoint })`. */
export class LambdaEmulator {
  endpoint = '';
  /** Every invocation as received: function, tenant, payload. */
  readonly invocations: Array<{ fn: string; tenant: string | null; payload: unknown }> = [];
  private server: Server;
  private readonly environments: Environment[] = [];
  private readonly root = mkdtempSync(path.join(os.tmpdir(), 'runtools-lambda-'));

  constructor(private readonly functions: Record<string, EmulatedFunction>, private readonly baseEnv: Record<string, string> = {}) {
    this.server = createServer((req, res) => {
      this.handleInvoke(req, res).catch((err: Error) => sendError(res, 500, 'ServiceException', err.message));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Environments started so far for a function (warm ones are reused). */
  environmentsOf(fn: string) {
    return this.environments.filter((e) => e.fn === fn);
  }

  /** The host pid of an environment's init (its PID 1), while it runs. */
  initPid(env: Environment): number | null {
    const pid = env.child?.pid;
    if (!pid) return null;
    try {
      const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0];
      return first ? Number(first) : null;
    } catch {
      return null;
    }
  }

  private async handleInvoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/(2015-03-31\/functions\/([^/]+)\/invocations|2021-11-15\/functions\/([^/]+)\/response-streaming-invocations)$/.exec(req.url?.split('?')[0] ?? '');
    if (req.method !== 'POST' || !match) return sendError(res, 404, 'UnknownOperationException', 'unknown operation');
    const streaming = match[3] !== undefined;
    const name = decodeURIComponent((match[2] ?? match[3])!);
    const fn = this.functions[name];
    const payload = await readBody(req);
    if (!fn) return sendError(res, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
    if (payload.length > MAX_REQUEST_BYTES) {
      return sendError(res, 413, 'RequestEntityTooLargeException', `${payload.length} byte payload is too large for the RequestResponse invocation type (limit ${MAX_REQUEST_BYTES} bytes)`);
    }
    const tenant = (req.headers['x-amz-tenant-id'] as string | undefined) ?? null;
    if (fn.tenantIsolation && !tenant) {
      return sendError(res, 400, 'InvalidParameterValueException', 'TenantId is required for functions with tenant isolation');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const key = fn.tenantIsolation ? tenant : null;
    const warm = this.environments.find((e) => e.fn === name && e.tenant === key && !e.dead && !e.busy && !e.queued);
    const live = this.environments.filter((e) => e.fn === name && !e.dead).length;
    if (!warm && fn.concurrency !== undefined && live >= fn.concurrency) {
      res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'TooManyRequestsException' });
      res.end(JSON.stringify({ Type: 'User', message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', retryAfterSeconds: '2' }));
      return;
    }
    this.invocations.push({ fn: name, tenant, payload: parsed });
    const env = warm ?? this.launch(name, key);
    const timeoutMs = (fn.timeoutSeconds ?? 60) * 1000;
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amz-executed-version': '$LATEST' });
    };
    const outcome = await new Promise<Parameters<Invocation['done']>[0]>((resolve) => {
      const inv: Invocation = { id: randomUUID(), payload, deadlineMs: Date.now() + timeoutMs, done: resolve };
      if (streaming) {
        inv.onChunk = (chunk) => {
          start();
          res.write(streamEvent('PayloadChunk', chunk, 'application/octet-stream'));
        };
      }
      const timer = setTimeout(() => {
        this.destroy(env);
        resolve(failure('Sandbox.Timedout', `Task timed out after ${fn.timeoutSeconds ?? 60}.00 seconds`));
      }, timeoutMs);
      inv.done = (o) => {
        clearTimeout(timer);
        resolve(o);
      };
      this.assign(env, inv);
    });
    if (streaming) {
      start();
      if (outcome.ok && outcome.body.length) res.write(streamEvent('PayloadChunk', outcome.body, 'application/octet-stream'));
      const complete = outcome.ok ? {} : { ErrorCode: outcome.errorType, ErrorDetails: outcome.body.toString('utf8') };
      res.end(streamEvent('InvokeComplete', Buffer.from(JSON.stringify(complete)), 'application/json'));
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
    if (!outcome.ok) headers['x-amz-function-error'] = 'Unhandled';
    res.writeHead(200, headers);
    res.end(outcome.body);
  }

  /** Hands an invocation to the oldest pending /next; any other pending /next is then refused. */
  private assign(env: Environment, inv: Invocation): void {
    if (env.dead) {
      inv.done(failure('Runtime.ExitError', 'Runtime exited'));
      return;
    }
    const res = env.waiting.shift();
    if (!res) {
      env.queued = inv;
      return;
    }
    env.busy = inv;
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': inv.id,
      'lambda-runtime-deadline-ms': String(inv.deadlineMs),
      'lambda-runtime-invoked-function-arn': `arn:aws:lambda:eu-west-1:123456789012:function:${env.fn}`,
    });
    res.end(inv.payload);
    for (const other of env.waiting.splice(0)) refuseNext(other);
  }

  private launch(fn: string, tenant: string | null): Environment {
    const def = this.functions[fn]!;
    const id = randomUUID().slice(0, 8);
    const scratch = path.join(this.root, id);
    mkdirSync(scratch, { mode: 0o700 });
    chownSync(scratch, LAMBDA_UID, LAMBDA_GID);
    const env: Environment = {
      id, fn, tenant, scratch,
      child: null as unknown as ChildProcess,
      server: null as unknown as Server,
      runtimeApi: '',
      busy: null, waiting: [], queued: null, dead: false, output: [], requests: [],
    };
    env.server = createServer((req, res) => {
      this.handleRuntime(env, req, res).catch((err: Error) => {
        res.writeHead(500);
        res.end(err.message);
      });
    });
    env.server.listen(0, '127.0.0.1');
    env.server.once('listening', () => {
      env.runtimeApi = `127.0.0.1:${(env.server.address() as AddressInfo).port}`;
      const command = def.command ?? [process.execPath, '--import', 'tsx', path.join(ROOT, 'functions/runner/lambda.ts')];
      const variables: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LANG: 'C.UTF-8',
        ...this.baseEnv,
        AWS_LAMBDA_RUNTIME_API: env.runtimeApi,
        AWS_LAMBDA_FUNCTION_NAME: fn,
        AWS_REGION: 'eu-west-1',
        // As the images set them (runtime-layers/*/Dockerfile).
        RUNTOOLS_WORK_ROOT: '/tmp/runtools',
        RUNTOOLS_SCRATCH_ROOT: '/tmp',
        RUNTOOLS_NODUMP: path.join(ROOT, 'build/runtools-nodump.so'),
        ...def.env,
      };
      const runtime = [path.join(ROOT, 'runtime-layers/bootstrap.sh'), ...command].map(inside);
      env.child = spawn(
        'unshare',
        ['--pid', '--fork', '--kill-child', '--mount', '--mount-proc', '/bin/sh', INIT, String(LAMBDA_UID), String(LAMBDA_GID), scratch, ROOT, REPO_VIEW, '--', ...runtime],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, inside(v)])),
        },
      );
      const keep = (chunk: Buffer) => {
        env.output.push(chunk.toString('utf8'));
        if (env.output.length > 200) env.output.shift();
      };
      env.child.stdout!.on('data', keep);
      env.child.stderr!.on('data', keep);
      env.child.on('exit', () => {
        env.dead = true;
        env.server.close();
        env.server.closeAllConnections();
        const pending = env.busy ?? env.queued;
        env.busy = env.queued = null;
        pending?.done(failure('Runtime.ExitError', 'Runtime exited without providing a reason'));
      });
    });
    this.environments.push(env);
    return env;
  }

  private async handleRuntime(env: Environment, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    env.requests.push({ method: req.method ?? '', url, agent: req.headers['user-agent'] ?? '' });
    const streamed = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/response$/.exec(url);
    if (req.method === 'POST' && streamed && req.headers['lambda-runtime-function-response-mode'] === 'streaming') {
      // The runtime's streaming response mode: passed on as it comes to an InvokeWithResponseStream
      // caller (kept whole, within the buffered limit, for a plain Invoke).
      const inv = env.busy;
      if (!inv || inv.id !== streamed[1]) return sendJson(res, 400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
      const kept: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > (inv.onChunk ? MAX_STREAMED_RESPONSE_BYTES : MAX_RESPONSE_BYTES)) {
          env.busy = null;
          inv.done(failure('Function.ResponseSizeTooLarge', 'Response payload size exceeded maximum allowed payload size.'));
          return sendJson(res, 413, { errorType: 'RequestEntityTooLarge', errorMessage: 'Exceeded maximum allowed payload size.' });
        }
        if (inv.onChunk) inv.onChunk(chunk as Buffer);
        else kept.push(chunk as Buffer);
      }
      env.busy = null;
      inv.done({ ok: true, body: Buffer.concat(kept) });
      return sendJson(res, 202, { status: 'OK' });
    }
    const body = await readBody(req);
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      if (env.busy) return refuseNext(res);
      env.waiting.push(res);
      res.on('close', () => {
        env.waiting = env.waiting.filter((r) => r !== res);
      });
      const next = env.queued;
      if (next) {
        env.queued = null;
        this.assign(env, next);
      }
      return;
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && m) {
      const inv = env.busy;
      if (!inv || inv.id !== m[1]) return sendJson(res, 400, { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
      env.busy = null;
      if (m[2] === 'response' && body.length > MAX_RESPONSE_BYTES) {
        inv.done(failure('Function.ResponseSizeTooLarge', `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`));
        return sendJson(res, 413, { errorType: 'RequestEntityTooLarge', errorMessage: `Exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).` });
      }
      if (m[2] === 'response') inv.done({ ok: true, body });
      else inv.done({ ok: false, body, errorType: String(req.headers['lambda-runtime-function-error-type'] ?? 'Unhandled') });
      return sendJson(res, 202, { status: 'OK' });
    }
    if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
      sendJson(res, 202, { status: 'OK' });
      this.destroy(env);
      return;
    }
    res.writeHead(404);
    res.end();
  }

  private destroy(env: Environment): void {
    env.dead = true;
    try {
      env.child?.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }

  /** Kills every environment, stops the servers and removes the scratch space. */
  async stop(): Promise<void> {
    const exits = this.environments
      .filter((e) => e.child && e.child.exitCode === null && e.child.signalCode === null)
      .map((e) => new Promise<void>((resolve) => {
        e.child.once('exit', () => resolve());
        this.destroy(e);
      }));
    await Promise.all(exits);
    for (const e of this.environments) {
      e.server.close();
      e.server.closeAllConnections();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    rmSync(this.root, { recursive: true, force: true });
  }
}
