/**
 * Executions on AWS Lambda: one container-image function per runtime, invoked synchronously with
 * the real Lambda client, as long as the API may wait (its window, under API Gateway's 29 s). A
 * program still running when the window closes goes on in its invocation (Lambda does not stop
 * an invocation whose caller left) and stores its outcome through a presigned URL: the request is
 * answered 202 and polled, as a Fargate task is. Nothing is invoked twice: a synchronous
 * invocation is never retried (the client has maxAttempts 1). Requests too big for the 6 MB
 * invoke payload go through S3, as do results too big for the response. Failures of ours become
 * API errors with generic messages; the details go to the logs only.
 */
import { InvokeCommand, InvokeWithResponseStreamCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { CompileResultSchema, ExecuteResultSchema, type ExecuteResult, type Execution, type RuntimeInfo, type ValidExecuteRequest } from '../contract.js';
import type { RuntimeId } from '../runtimes.js';
import type { RunnerSuiteOptions } from '../runner/lambda.js';
import { ExecutionObjects, type Outcome } from './execution-objects.js';
import { worstCaseMs } from './policy.js';
import { staticRuntimes } from './route.js';
import { BackendError, QueueFullError, RuntimeUnavailableError, type DispatchOutcome, type Dispatcher, type ExecutionContext } from './types.js';

export interface LambdaDispatcherOptions {
  client: LambdaClient;
  /** Function name or ARN per deployed runtime. */
  functions: Partial<Record<RuntimeId, string>>;
  /** Toolchain version per deployed runtime, as reported by GET /v1/runtimes. */
  versions?: Partial<Record<RuntimeId, string>>;
  /**
   * Send the tenant with every invocation, so Lambda reuses an environment only for the same
   * tenant (the functions must be deployed with tenant isolation). @default true
   */
  tenantIsolation?: boolean;
  /** Where failures are logged. @default console.error */
  log?: (entry: Record<string, unknown>) => void;
  /** The results bucket, for the exchange through S3 (big requests and results, executions that outlast the window). */
  s3: S3Client;
  bucket: string;
  /** How long the API waits for a result before answering 202, ms. */
  windowMs: number;
  /** Added to a compiled runtime's timeout for its deadline. @default 10000 */
  compileAllowanceMs?: number;
  /** Lifetime of the result URL, s: must outlast the longest invocation. @default 960 (Lambda's 15 min + 1) */
  resultUrlSeconds?: number;
}

/** Above this the request goes through S3: the synchronous invoke payload limit is 6 MB (lambda-emulator.ts cites it). */
const MAX_INLINE_REQUEST_BYTES = 6 * 1024 * 1024 - 64 * 1024;
/** After its deadline (timeout + compile allowance + this) an invocation without a result is over. */
const DEADLINE_MARGIN_MS = 60_000;

/** Lambda's tenant ids: 1–256 characters from a restricted set; API key ids fit, anything else is hashed. */
const TENANT_ID = /^[a-zA-Z0-9._:/=+\-@ ]{1,256}$/;

/** The tenant id sent to Lambda for a tenant of the API. */
export function lambdaTenantId(tenant: string): string {
  if (TENANT_ID.test(tenant)) return tenant;
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(tenant)) h = Math.imul(h ^ ch, 0x01000193) >>> 0;
  return `t-${h.toString(16)}-${Buffer.from(tenant).toString('base64url').slice(0, 200)}`;
}

interface FunctionErrorPayload {
  errorType?: string;
  errorMessage?: string;
}

function parsePayload(payload: Uint8Array | undefined): unknown {
  if (!payload || payload.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The API error of a runner invocation that failed (the function's error type and message). */
function functionFailure(request: ValidExecuteRequest, errorType: string | undefined, errorMessage: string | undefined): Error {
  if (errorType === 'RuntimeUnavailableError') return new RuntimeUnavailableError(request.runtime);
  const timedOut = errorType === 'Sandbox.Timedout' || /timed out/i.test(errorMessage ?? '');
  return new BackendError(timedOut ? 'the runner timed out' : 'the runner failed', timedOut ? 504 : 502);
}

/** The API's window closed before the invocation answered (it goes on and stores its outcome). */
class WindowClosed extends Error {}

/** Executes each request by invoking its runtime's runner function and waiting for the result. */
export class LambdaDispatcher implements Dispatcher {
  readonly liveOutput = true;
  private readonly log: (entry: Record<string, unknown>) => void;
  private readonly objects: ExecutionObjects;

  constructor(private readonly options: LambdaDispatcherOptions) {
    this.log = options.log ?? ((e) => console.error(JSON.stringify(e)));
    this.objects = new ExecutionObjects({ s3: options.s3, bucket: options.bucket, log: this.log });
  }

  async execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    const functionName = this.options.functions[request.runtime];
    if (!functionName) throw new RuntimeUnavailableError(request.runtime);
    if (ctx.live) return { kind: 'completed', result: await this.executeLive(request, ctx, functionName) };
    const id = ExecutionObjects.newId();
    // The window closes the wait, not the invocation: the program goes on and stores its outcome.
    const window = new AbortController();
    const timer = setTimeout(() => window.abort(), this.options.windowMs);
    try {
      return { kind: 'completed', result: await this.invoke(id, request, ctx, functionName, window.signal) };
    } catch (err) {
      if (err instanceof WindowClosed) return this.accepted(id, request.runtime, worstCaseMs(request, this.options.compileAllowanceMs ?? 10_000), ctx);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs a request to its end in its runtime's function (no window: the caller waits as long as
   * the invocation lasts), with internal suite options beside it (dispatch/checker-suite.ts).
   */
  async run(request: ValidExecuteRequest, ctx: ExecutionContext, suite?: RunnerSuiteOptions): Promise<ExecuteResult> {
    const functionName = this.options.functions[request.runtime];
    if (!functionName) throw new RuntimeUnavailableError(request.runtime);
    return this.invoke(ExecutionObjects.newId(), request, ctx, functionName, undefined, suite);
  }

  /** One synchronous invocation; WindowClosed when `window` aborts it first. */
  private async invoke(id: string, request: ValidExecuteRequest, ctx: ExecutionContext, functionName: string, window?: AbortSignal, suite?: RunnerSuiteOptions) {
    const resultUrl = await this.objects.resultUrl(id, this.options.resultUrlSeconds ?? 960);
    const payload = await this.payload(id, request, ctx, { ...(suite ? { suite } : {}) }, { resultUrl });
    const signals = [ctx.signal, window].filter((s): s is AbortSignal => s !== undefined);
    let response;
    try {
      response = await this.options.client.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(payload),
          ...this.tenantOf(ctx),
        }),
        signals.length ? { abortSignal: AbortSignal.any(signals) } : {},
      );
    } catch (err) {
      if (window?.aborted && !ctx.signal?.aborted) throw new WindowClosed();
      throw this.mapInvokeError(err, functionName, ctx);
    }
    return this.resultOf(id, request, response, functionName, ctx);
  }

  /**
   * Live output: the runner invoked with InvokeWithResponseStream and `stream: true` answers in
   * the Runtime API's streaming mode, one JSON line per event (functions/runner/lambda.ts
   * StreamLine), relayed as they arrive. Never answered 202: the API holds the request (API
   * Gateway streams for up to 15 minutes), and a client that leaves aborts the invocation's stream.
   */
  private async executeLive(request: ValidExecuteRequest, ctx: ExecutionContext, functionName: string): Promise<ExecuteResult> {
    const live = ctx.live!;
    const payload = await this.payload(ExecutionObjects.newId(), request, ctx, {}, { stream: true });
    let response;
    try {
      response = await this.options.client.send(
        new InvokeWithResponseStreamCommand({
          FunctionName: functionName,
          Payload: Buffer.from(payload),
          ...this.tenantOf(ctx),
        }),
        ctx.signal ? { abortSignal: ctx.signal } : {},
      );
    } catch (err) {
      throw this.mapInvokeError(err, functionName, ctx);
    }
    live.onAdmitted();
    let pending = '';
    let result: ExecuteResult | null = null;
    let failure: { errorType?: string; errorMessage?: string } | null = null;
    const line = (text: string) => {
      if (!text.trim()) return;
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        failure ??= { errorType: 'UnexpectedPayload', errorMessage: 'the runner streamed an unreadable line' };
        return;
      }
      if (parsed.out === 'stdout' || parsed.out === 'stderr') live.onOutput(parsed.out, Buffer.from(String(parsed.data ?? ''), 'base64'));
      else if ('compile' in parsed) {
        const compile = CompileResultSchema.safeParse(parsed.compile);
        if (compile.success) live.onCompile(compile.data);
      } else if ('result' in parsed) {
        const r = ExecuteResultSchema.safeParse(parsed.result);
        if (r.success) result = r.data;
        else failure ??= { errorType: 'UnexpectedPayload', errorMessage: 'the runner streamed an unexpected result' };
      } else if ('error' in parsed) failure ??= parsed.error as typeof failure;
    };
    try {
      for await (const event of response.EventStream ?? []) {
        if (event.PayloadChunk?.Payload) {
          pending += Buffer.from(event.PayloadChunk.Payload).toString('utf8');
          let newline: number;
          while ((newline = pending.indexOf('\n')) >= 0) {
            line(pending.slice(0, newline));
            pending = pending.slice(newline + 1);
          }
        }
        if (event.InvokeComplete?.ErrorCode) failure ??= { errorType: event.InvokeComplete.ErrorCode, errorMessage: event.InvokeComplete.ErrorDetails };
      }
      line(pending);
    } catch (err) {
      throw this.mapInvokeError(err, functionName, ctx);
    }
    if (result) return result;
    const { errorType, errorMessage } = failure ?? { errorType: 'NoResult', errorMessage: 'the stream ended without a result' };
    this.log({ level: 'error', msg: 'runner function error (streamed)', requestId: ctx.requestId, functionName, errorType, errorMessage });
    throw functionFailure(request, errorType, errorMessage);
  }

  /**
   * The event for a runner: the request inline with `extra` beside it, or (too big to invoke
   * with) stored in S3 with `extra` and read back by the runner; `links` always inline.
   */
  private async payload(id: string, request: ValidExecuteRequest, ctx: ExecutionContext, extra: Record<string, unknown>, links: Record<string, unknown>): Promise<string> {
    const inline = JSON.stringify({ ...extra, request, ...links });
    if (Buffer.byteLength(inline) <= MAX_INLINE_REQUEST_BYTES) return inline;
    return JSON.stringify({ requestUrl: await this.objects.putRequest(id, request, 300, ctx.requestId, extra), ...links });
  }

  /** Lambda's tenant of an invocation, where the functions isolate tenants. */
  private tenantOf(ctx: ExecutionContext): { TenantId?: string } {
    return (this.options.tenantIsolation ?? true) ? { TenantId: lambdaTenantId(ctx.tenant) } : {};
  }

  /**
   * The window closed with the execution still going (in its invocation, or in this API: a suite
   * with a checker in another runtime): record it and answer 202. Past `worstMs` (and a margin)
   * without a stored outcome it is over.
   */
  async accepted(id: string, runtime: RuntimeId, worstMs: number, ctx: ExecutionContext): Promise<DispatchOutcome> {
    const deadline = Date.now() + worstMs + DEADLINE_MARGIN_MS;
    await this.objects.putMeta(id, { tenant: ctx.tenant, backend: 'lambda', runtime, createdAt: new Date().toISOString(), deadline }, ctx.requestId);
    this.log({ level: 'info', msg: 'execution outlasted the window: answered 202', requestId: ctx.requestId, executionId: id, windowMs: this.options.windowMs });
    return { kind: 'accepted', id, status: 'running' };
  }

  private async resultOf(
    id: string,
    request: ValidExecuteRequest,
    response: { Payload?: Uint8Array; FunctionError?: string },
    functionName: string,
    ctx: ExecutionContext,
  ) {
    const payload = parsePayload(response.Payload);
    if (response.FunctionError) {
      const { errorType, errorMessage } = (payload ?? {}) as FunctionErrorPayload;
      this.log({ level: 'error', msg: 'runner function error', requestId: ctx.requestId, functionName, functionError: response.FunctionError, errorType, errorMessage });
      throw functionFailure(request, errorType, errorMessage);
    }
    if ((payload as { stored?: unknown } | undefined)?.stored === true) {
      // Too big for Lambda's response: the runner stored it first.
      const stored = await this.objects.outcome(id);
      if (stored?.status === 'completed' && stored.result) return stored.result;
      this.log({ level: 'error', msg: 'runner stored no readable result', requestId: ctx.requestId, functionName, executionId: id });
      throw new BackendError('the runner returned an unexpected payload', 502);
    }
    const result = ExecuteResultSchema.safeParse(payload);
    if (!result.success) {
      this.log({ level: 'error', msg: 'runner returned an unexpected payload', requestId: ctx.requestId, functionName, issues: result.error.issues.slice(0, 5) });
      throw new BackendError('the runner returned an unexpected payload', 502);
    }
    return result.data;
  }

  private mapInvokeError(err: unknown, functionName: string, ctx: ExecutionContext): Error {
    const e = err as Error & { $metadata?: { httpStatusCode?: number }; retryAfterSeconds?: string; Reason?: string };
    this.log({ level: 'error', msg: 'invoke failed', requestId: ctx.requestId, functionName, error: e?.name, message: e?.message, status: e?.$metadata?.httpStatusCode });
    if (e?.name === 'AbortError' || ctx.signal?.aborted) return new BackendError('the execution was cancelled', 503, { cause: err });
    if (e?.name === 'TooManyRequestsException' || e?.name === 'EC2ThrottledException' || e?.$metadata?.httpStatusCode === 429) {
      const retry = Number(e.retryAfterSeconds);
      return new QueueFullError(Number.isFinite(retry) && retry > 0 ? retry : 1);
    }
    if (e?.name === 'TimeoutError' || e?.name === 'RequestTimeout') return new BackendError('the runner timed out', 504, { cause: err });
    if (e?.name === 'ResourceNotReadyException' || e?.name === 'ServiceException' || (e?.$metadata?.httpStatusCode ?? 0) >= 500) {
      return new BackendError('the runner is unavailable', 503, { cause: err });
    }
    return new BackendError('the runner could not be invoked', 500, { cause: err });
  }

  /** Stores the outcome of an execution this API finished itself after accepted() (as a runner stores its own). */
  storeOutcome(id: string, outcome: Outcome, requestId: string): Promise<void> {
    return this.objects.putOutcome(id, outcome, requestId);
  }

  /** An execution that outlasted the window: its stored outcome, else running until its deadline, then failed. */
  async getExecution(id: string, tenant: string): Promise<Execution | null> {
    const meta = await this.objects.meta(id, tenant);
    if (!meta || meta.backend !== 'lambda') return null;
    const done = await this.objects.outcome(id);
    if (done) return done;
    if (Date.now() < (meta.deadline ?? 0)) return { id, status: 'running' };
    return { id, status: 'failed', error: { code: 'internal', message: 'the execution ended without a result (its invocation failed or timed out)' } };
  }

  async runtimes(): Promise<RuntimeInfo[]> {
    return staticRuntimes(this.options.versions ?? {}, Object.keys(this.options.functions) as RuntimeId[]);
  }
}
