/**
 * A small Lambda for tests: the Invoke API (what @aws-sdk/client-lambda calls) on one side, the
 * Lambda Runtime API (what functions/runner/lambda.ts polls) on the other. Each execution
 * environment is a child process in its own PID namespace, started through the images'
 * bootstrap exactly as in an image, and reused while warm, per function and (with tenant
 * isolation) per tenant, like Lambda does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface EmulatedFunction {
  /** Seconds before an invocation is cut off (Sandbox.Timedout) and its environment destroyed. @default 60 */
  timeoutSeconds?: number;
  /** Reject invocations without a tenant id, keep environments per tenant. @default false */
  tenantIsolation?: boolean;
  /** Extra environment of the runtime process (e.g. planted credentials). */
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
}

interface Environment {
  id: string;
  fn: string;
  tenant: string | null;
  child: ChildProcess;
  server: Server;
  scratch: string;
  busy: Invocation | null;
  waiting: ServerResponse | null;
  queued: Invocation | null;
  dead: boolean;
  output: string[];
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

  private async handleInvoke(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url?.split('?')[0] ?? '');
    if (req.method !== 'POST' || !match) return sendError(res, 404, 'UnknownOperationException', 'unknown operation');
    const name = decodeURIComponent(match[1]!);
    const fn = this.functions[name];
    const payload = await readBody(req);
    if (!fn) return sendError(res, 404, 'ResourceNotFoundException', `Function not found: ${name}`);
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
    const outcome = await new Promise<Parameters<Invocation['done']>[0]>((resolve) => {
      const inv: Invocation = { id: randomUUID(), payload, deadlineMs: Date.now() + timeoutMs, done: resolve };
      const timer = setTimeout(() => {
        this.destroy(env);
        resolve({ ok: false, errorType: 'Sandbox.Timedout', body: Buffer.from(JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${fn.timeoutSeconds ?? 60}.00 seconds` })) });
      }, timeoutMs);
      inv.done = (o) => {
        clearTimeout(timer);
        resolve(o);
      };
      this.assign(env, inv);
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' };
    if (!outcome.ok) headers['x-amz-function-error'] = 'Unhandled';
    res.writeHead(200, headers);
    res.end(outcome.body);
  }

  private assign(env: Environment, inv: Invocation): void {
    if (env.dead) {
      inv.done({ ok: false, errorType: 'Runtime.ExitError', body: Buffer.from(JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited' })) });
      return;
    }
    if (env.waiting) {
      const res = env.waiting;
      env.waiting = null;
      env.busy = inv;
      res.writeHead(200, {
        'content-type': 'application/json',
        'lambda-runtime-aws-request-id': inv.id,
        'lambda-runtime-deadline-ms': String(inv.deadlineMs),
        'lambda-runtime-invoked-function-arn': `arn:aws:lambda:eu-west-1:123456789012:function:${env.fn}`,
      });
      res.end(inv.payload);
    } else {
      env.queued = inv;
    }
  }

  private launch(fn: string, tenant: string | null): Environment {
    const def = this.functions[fn]!;
    const id = randomUUID().slice(0, 8);
    const scratch = path.join(this.root, id);
    mkdirSync(scratch, { recursive: true });
    const env: Environment = { id, fn, tenant, child: null as unknown as ChildProcess, server: null as unknown as Server, scratch, busy: null, waiting: null, queued: null, dead: false, output: [] };
    env.server = createServer((req, res) => {
      this.handleRuntime(env, req, res).catch((err: Error) => {
        res.writeHead(500);
        res.end(err.message);
      });
    });
    env.server.listen(0, '127.0.0.1');
    const address = () => `127.0.0.1:${(env.server.address() as AddressInfo).port}`;
    env.server.once('listening', () => {
      const command = def.command ?? [process.execPath, '--import', 'tsx', path.join(ROOT, 'functions/runner/lambda.ts')];
      env.child = spawn(
        'unshare',
        ['--pid', '--fork', '--kill-child', '--mount-proc', path.join(ROOT, 'runtime-layers/bootstrap.sh'), ...command],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            LANG: 'C.UTF-8',
            ...this.baseEnv,
            AWS_LAMBDA_RUNTIME_API: address(),
            AWS_LAMBDA_FUNCTION_NAME: fn,
            AWS_REGION: 'eu-west-1',
            RUNTOOLS_WORK_ROOT: path.join(scratch, 'runtools'),
            RUNTOOLS_SCRATCH_ROOT: scratch,
            ...def.env,
          },
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
        pending?.done({ ok: false, errorType: 'Runtime.ExitError', body: Buffer.from(JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited without providing a reason' })) });
      });
    });
    this.environments.push(env);
    return env;
  }

  private async handleRuntime(env: Environment, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '';
    const body = await readBody(req);
    if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      env.waiting = res;
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
      if (!inv || inv.id !== m[1]) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errorType: 'InvalidRequestID', errorMessage: 'unknown request id' }));
        return;
      }
      env.busy = null;
      if (m[2] === 'response') inv.done({ ok: true, body });
      else inv.done({ ok: false, body, errorType: String(req.headers['lambda-runtime-function-error-type'] ?? 'Unhandled') });
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"status":"OK"}');
      return;
    }
    if (req.method === 'POST' && url === '/2018-06-01/runtime/init/error') {
      res.writeHead(202);
      res.end();
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
