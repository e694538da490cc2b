import type { ExecuteRequest, ExecuteResult, Execution, RuntimeInfo, RuntimesResponse } from '../functions/contract.js';
import {
  AbortError,
  APIError,
  ConnectionError,
  parseRetryAfter,
  RuntoolsError,
  TimeoutError,
} from './errors.js';

export interface RuntoolsOptions {
  /** @default the RUNTOOLS_API_KEY environment variable, when there is one */
  apiKey?: string | null;
  /** @default RUNTOOLS_API_URL, else http://127.0.0.1:8787 */
  baseUrl?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Retries of 429, 5xx and connection failures. @default 2 */
  maxRetries?: number;
  /** Bound of a whole call (retries and polling included), ms. @default 600000 */
  timeout?: number;
}

/** Per-call overrides. */
export interface RequestOptions {
  timeout?: number;
  maxRetries?: number;
  signal?: AbortSignal;
}

const DEFAULT_BASE_URL = 'http://127.0.0.1:8787';
const DEFAULT_TIMEOUT_MS = 600_000;
const POLL_START_MS = 200;
const POLL_MAX_MS = 2000;

/** Reads an environment variable where there is one (Node, Bun, Deno with permission); undefined elsewhere. */
function readEnv(name: string): string | undefined {
  try {
    const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
    const value = proc?.env?.[name];
    return value && value.trim() !== '' ? value.trim() : undefined;
  } catch {
    return undefined;
  }
}

interface Call {
  signal: AbortSignal;
  deadline: number;
  maxRetries: number;
  failure(): RuntoolsError;
}

interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** The runtools client: execute code, list runtimes, read background executions. */
export class Runtools {
  readonly baseUrl: string;
  readonly maxRetries: number;
  readonly timeout: number;
  private readonly apiKey: string | null;
  private readonly fetchImpl: typeof fetch;

  constructor(options: RuntoolsOptions = {}) {
    this.apiKey = options.apiKey === undefined ? (readEnv('RUNTOOLS_API_KEY') ?? null) : options.apiKey;
    this.baseUrl = (options.baseUrl ?? readEnv('RUNTOOLS_API_URL') ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.maxRetries = options.maxRetries ?? 2;
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    const custom = options.fetch;
    this.fetchImpl = custom ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Runs code and resolves with its result (a failing program resolves too); waits out background (202) executions. */
  execute(request: ExecuteRequest, options: RequestOptions = {}): Promise<ExecuteResult> {
    return this.call(options, async (call) => {
      const answer = await this.request<ExecuteResult | { id: string }>(call, 'POST', '/v1/execute', request);
      if (answer.status !== 202) return answer.body as ExecuteResult;
      return this.waitFor((answer.body as { id: string }).id, call);
    });
  }

  /** Every runtime the server knows, with its version and availability. */
  runtimes(options: RequestOptions = {}): Promise<RuntimeInfo[]> {
    return this.call(options, async (call) => (await this.request<RuntimesResponse>(call, 'GET', '/v1/runtimes')).body.runtimes);
  }

  /** The status (and, once finished, the result) of a background execution. */
  getExecution(id: string, options: RequestOptions = {}): Promise<Execution> {
    return this.call(options, async (call) => (await this.request<Execution>(call, 'GET', executionPath(id))).body);
  }

  private async waitFor(id: string, call: Call): Promise<ExecuteResult> {
    let interval = POLL_START_MS;
    for (;;) {
      await sleep(interval, call);
      const { body, headers } = await this.request<Execution>(call, 'GET', executionPath(id));
      if (body.status === 'completed' && body.result) return body.result;
      if (body.status === 'failed') {
        const code = body.error?.code ?? 'internal';
        throw APIError.from(code === 'runtime_unavailable' ? 503 : 500, { error: body.error ?? { code, message: 'the execution failed' } }, headers);
      }
      interval = Math.min(POLL_MAX_MS, Math.round(interval * 1.5));
    }
  }

  private async call<T>(options: RequestOptions, run: (call: Call) => Promise<T>): Promise<T> {
    const timeout = options.timeout ?? this.timeout;
    const controller = new AbortController();
    let reason: 'timeout' | 'abort' | undefined;
    const timer = setTimeout(() => {
      reason ??= 'timeout';
      controller.abort();
    }, timeout);
    const onAbort = () => {
      reason ??= 'abort';
      controller.abort();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const call: Call = {
      signal: controller.signal,
      deadline: Date.now() + timeout,
      maxRetries: options.maxRetries ?? this.maxRetries,
      failure: () =>
        reason === 'timeout' ? new TimeoutError(`the request took longer than ${timeout} ms`) : new AbortError('the request was aborted'),
    };
    try {
      return await run(call);
    } catch (error) {
      if (controller.signal.aborted && !(error instanceof APIError)) throw call.failure();
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async request<T>(call: Call, method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers['x-api-key'] = this.apiKey;
    const init: RequestInit = { method, headers, signal: call.signal, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) };
    for (let attempt = 0; ; attempt++) {
      let failure: RuntoolsError;
      let waitMs = backoff(attempt);
      try {
        const response = await this.fetchImpl(`${this.baseUrl}${path}`, init);
        const parsed = await readJson(response);
        if (response.ok) return { status: response.status, body: parsed as T, headers: response.headers };
        const error = APIError.from(response.status, parsed, response.headers);
        if (!retryable(error)) throw error;
        failure = error;
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
        if (retryAfter !== null) waitMs = retryAfter * 1000;
      } catch (error) {
        if (error instanceof APIError) throw error;
        if (call.signal.aborted) throw call.failure();
        failure = new ConnectionError(`cannot reach ${this.baseUrl}: ${describe(error)}`, { cause: error });
      }
      if (attempt >= call.maxRetries || Date.now() + waitMs >= call.deadline) throw failure;
      await sleep(waitMs, call);
    }
  }
}

function executionPath(id: string): string {
  return `/v1/executions/${encodeURIComponent(id)}`;
}

function retryable(error: APIError): boolean {
  if (error.code === 'runtime_unavailable') return false;
  return error.status === 429 || error.status >= 500;
}

/** Exponential backoff with jitter: ~0.5 s, 1 s, 2 s … capped at 8 s. */
function backoff(attempt: number): number {
  const base = Math.min(8000, 500 * 2 ** attempt);
  return Math.round(base * (0.75 + Math.random() * 0.25));
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    if (response.ok) throw new ConnectionError(`the server answered ${response.status} with a body that is not JSON`);
    return null;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

function sleep(ms: number, call: Call): Promise<void> {
  return new Promise((resolve, reject) => {
    if (call.signal.aborted) return reject(call.failure());
    const onAbort = () => {
      clearTimeout(timer);
      reject(call.failure());
    };
    const timer = setTimeout(() => {
      call.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    call.signal.addEventListener('abort', onAbort, { once: true });
  });
}
