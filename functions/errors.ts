/**
 * Failures that are ours, not the program's: the client gets `500 internal` with this message
 * (API.md "Durability and capacity"), never a result with a made-up exit code.
 */
export class SandboxFault extends Error {
  /** True when the program had not started: running it again cannot run it twice. */
  readonly beforeStart: boolean;

  constructor(message: string, options: { beforeStart: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'SandboxFault';
    this.beforeStart = options.beforeStart;
  }
}

/** The server stopped the execution (a shutdown whose grace period ran out): it did not end on its own. */
export class ExecutionInterruptedError extends Error {
  constructor(message = 'the server shut down before the execution finished') {
    super(message);
    this.name = 'ExecutionInterruptedError';
  }
}

/** No room to run now: the work root is nearly full, or the server is shutting down (→ 503 capacity, Retry-After). */
export class CapacityError extends Error {
  constructor(message: string, readonly retryAfterSeconds = 5) {
    super(message);
    this.name = 'CapacityError';
  }
}

/** True for the errors a full filesystem gives. */
export const isNoSpace = (err: unknown) => ['ENOSPC', 'EDQUOT'].includes((err as NodeJS.ErrnoException)?.code ?? '');
