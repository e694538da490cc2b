import type { CompileResult, Execution, ExecuteResult, RuntimeInfo, ValidExecuteRequest } from '../contract.js';

/** Live output of one execution (Accept: text/event-stream). */
export interface LiveOutput {
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  onCompile(compile: CompileResult): void;
  /** Called once the request is admitted (queued or running): past this point errors are the stream's. */
  onAdmitted(): void;
}

/** Who is asking and for which HTTP request. */
export interface ExecutionContext {
  /** The caller's identity (API key id on AWS, a hash of the key locally): owns async executions. */
  tenant: string;
  requestId: string;
  signal?: AbortSignal;
  /** Stream the execution's output as it comes; such a request is never answered 202. */
  live?: LiveOutput;
}

/** A finished execution, or one accepted to run in the background (HTTP 202). */
export type DispatchOutcome =
  | { kind: 'completed'; result: ExecuteResult }
  | { kind: 'accepted'; id: string; status: 'queued' | 'running' };

/** Where executions run: in this process (local), on Lambda, or on Fargate. The API only knows this. */
export interface Dispatcher {
  /** Calls `ctx.live` as output arrives (else a live request gets its output with the result). */
  readonly liveOutput?: boolean;
  execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome>;
  /** The execution, or null when it does not exist or belongs to another tenant (both → 404). */
  getExecution(id: string, tenant: string): Promise<Execution | null>;
  runtimes(): Promise<RuntimeInfo[]>;
  /** Why the backend cannot take work now (GET /health answers 503 degraded with it), or null. */
  health?(): Promise<string | null>;
  /** Stops accepting work and waits (bounded) for in-flight executions. */
  close?(): Promise<void>;
}

/** The queue is full (→ 429 with Retry-After). */
export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('too many executions are waiting; retry later');
    this.name = 'QueueFullError';
  }
}

/** The backend failed in a way that is our fault (→ 500, generic message; details are for logs only). */
export class BackendError extends Error {
  constructor(message: string, readonly status: 500 | 502 | 503 | 504 = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
  }
}

/** A valid request this deployment cannot run as asked (→ 400 invalid_request naming the field). */
export class UnsupportedRequestError extends Error {
  constructor(message: string, readonly path: string) {
    super(message);
    this.name = 'UnsupportedRequestError';
  }
}

export { RuntimeUnavailableError } from '../contract.js';
export { CapacityError } from '../errors.js';
