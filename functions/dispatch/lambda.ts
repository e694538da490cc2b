/**
 * Synchronous executions on AWS Lambda: one container-image function per runtime, invoked with
 * the real Lambda client. Failures of ours become API errors with generic messages; the details
 * go to the logs only.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { ExecuteResultSchema, type Execution, type RuntimeInfo, type ValidExecuteRequest } from '../contract.js';
import type { RuntimeId } from '../runtimes.js';
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
}

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

/** Executes each request by invoking its runtime's runner function and waiting for the result. */
export class LambdaDispatcher implements Dispatcher {
  private readonly log: (entry: Record<string, unknown>) => void;

  constructor(private readonly options: LambdaDispatcherOptions) {
    this.log = options.log ?? ((e) => console.error(JSON.stringify(e)));
  }

  async execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    const functionName = this.options.functions[request.runtime];
    if (!functionName) throw new RuntimeUnavailableError(request.runtime);
    const tenantIsolation = this.options.tenantIsolation ?? true;
    let response;
    try {
      response = await this.options.client.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify({ request })),
          ...(tenantIsolation ? { TenantId: lambdaTenantId(ctx.tenant) } : {}),
        }),
        { abortSignal: ctx.signal },
      );
    } catch (err) {
      throw this.mapInvokeError(err, functionName, ctx);
    }
    const payload = parsePayload(response.Payload);
    if (response.FunctionError) {
      const { errorType, errorMessage } = (payload ?? {}) as FunctionErrorPayload;
      this.log({ level: 'error', msg: 'runner function error', requestId: ctx.requestId, functionName, functionError: response.FunctionError, errorType, errorMessage });
      if (errorType === 'RuntimeUnavailableError') throw new RuntimeUnavailableError(request.runtime);
      const timedOut = errorType === 'Sandbox.Timedout' || /timed out/i.test(errorMessage ?? '');
      throw new BackendError(timedOut ? 'the runner timed out' : 'the runner failed', timedOut ? 504 : 502);
    }
    const result = ExecuteResultSchema.safeParse(payload);
    if (!result.success) {
      this.log({ level: 'error', msg: 'runner returned an unexpected payload', requestId: ctx.requestId, functionName, issues: result.error.issues.slice(0, 5) });
      throw new BackendError('the runner returned an unexpected payload', 502);
    }
    return { kind: 'completed', result: result.data };
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

  /** Lambda executions are synchronous: there is nothing to look up later. */
  async getExecution(): Promise<Execution | null> {
    return null;
  }

  async runtimes(): Promise<RuntimeInfo[]> {
    return staticRuntimes(this.options.versions ?? {}, Object.keys(this.options.functions) as RuntimeId[]);
  }
}
