/**
 * How a runner exchanges an execution through S3 without AWS permissions of its own: it reads a
 * request too big to be sent inline from a presigned GET URL, and writes the outcome to a
 * presigned PUT URL that creates the one result object (If-None-Match: *). Fargate tasks always
 * work this way; Lambda runners when the API may stop waiting for them (a long execution).
 */
import type { ExecuteResult } from '../contract.js';

/** An error whose type name reaches the caller (the Invoke response's errorType). */
export class RunnerError extends Error {
  constructor(message: string, readonly errorType = 'RunnerError') {
    super(message);
    this.name = errorType;
  }
}

/** What a runner stores as its result object. */
export type Outcome = { result: ExecuteResult } | { error: { code: 'runtime_unavailable' | 'internal'; message: string } };

/** A stored request is the validated request the API accepted (at most 6 MiB), escaped: bounded well above it. */
const MAX_REQUEST_OBJECT_BYTES = 32 * 1024 * 1024;

export interface RetryOptions {
  /** Attempts before giving up. @default 5 */
  attempts?: number;
  /** First retry delay, doubled each time. @default 500 */
  retryDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withRetries<T>(what: string, options: RetryOptions, fn: () => Promise<T>): Promise<T> {
  const attempts = options.attempts ?? 5;
  const delayMs = options.retryDelayMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts) throw new Error(`${what} failed after ${attempts} attempts: ${(err as Error).message}`);
      console.error(JSON.stringify({ level: 'warn', msg: `${what} failed, retrying`, attempt, error: (err as Error).message }));
      await sleep(delayMs * 2 ** (attempt - 1));
    }
  }
}

/** Reads a stored invocation event (`{ request }`) from its presigned URL. */
export function fetchStoredEvent(url: string, options: RetryOptions = {}): Promise<unknown> {
  return withRetries('fetching the request', options, async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET answered ${res.status}`);
    const size = Number(res.headers.get('content-length') ?? 0);
    if (size > MAX_REQUEST_OBJECT_BYTES) throw new RunnerError(`the stored request is ${size} bytes`);
    return (await res.json()) as unknown;
  });
}

/** Writes the outcome once; a 412 means an earlier attempt already stored it (its answer was lost). */
export function storeOutcome(url: string, outcome: Outcome, options: RetryOptions = {}): Promise<void> {
  const body = JSON.stringify(outcome);
  return withRetries('uploading the result', options, async () => {
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json', 'if-none-match': '*' }, body });
    await res.arrayBuffer();
    if (!res.ok && res.status !== 412) throw new Error(`PUT answered ${res.status}`);
  });
}

/** The outcome a failed execution stores: a missing toolchain says so, anything else is ours and generic. */
export function failedOutcome(err: unknown): Outcome {
  const unavailable = err instanceof RunnerError && err.errorType === 'RuntimeUnavailableError';
  return { error: { code: unavailable ? 'runtime_unavailable' : 'internal', message: unavailable ? (err as Error).message : 'the execution failed' } };
}
