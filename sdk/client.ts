import type { CompileResult, ExecuteRequest, ExecuteResult, Execution, RuntimeInfo, RuntimesResponse } from './types.js';
import { readEvents } from './sse.js';
import {
  AbortError,
  APIError,
  ConnectionError,
  NotFoundError,
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
  /** Retries of 429, 5xx and connection failures (never of a POST /v1/execute that got no answer). @default 2 */
  maxRetries?: number;
  /**
   * Bound of a whole call (retries and polling included), ms. @default derived from each call: the
   * execution's own bound (see `timeoutMargin`), or `timeoutMargin` for a call that runs nothing
   */
  timeout?: number;
  /**
   * What a call may wait beyond the execution's own worst case (its `timeout`, 30000 ms when not
   * given, plus `COMPILE_ALLOWANCE_MS` for compiled runtimes) for network, queueing and start-up; on
   * its own it bounds a call that runs nothing (`runtimes()`, `getExecution()`, each poll), ms.
   * @default RUNTOOLS_CLIENT_MARGIN_MS, else 30000
   */
  timeoutMargin?: number;
}

/** Per-call overrides. */
export interface RequestOptions {
  timeout?: number;
  maxRetries?: number;
  signal?: AbortSignal;
}

/** `execute()` options: with `onStdout` / `onStderr` the output is streamed to them as the program writes it. */
export interface ExecuteOptions extends RequestOptions {
  /**
   * The request's Idempotency-Key (API.md "Idempotency"), reused by every retry of this call.
   * @default a new random key per call
   */
  idempotencyKey?: string;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

/** What `stream()` yields (API.md "Live output"). */
export type StreamEvent =
  | { type: 'compile'; compile: CompileResult }
  | { type: 'stdout'; data: string }
  | { type: 'stderr'; data: string }
  | { type: 'result'; result: ExecuteResult };

const DEFAULT_BASE_URL = 'http://127.0.0.1:8787';
const POLL_START_MS = 200;
const POLL_MAX_MS = 2000;
/** The API's default `timeout` (API.md). */
export const DEFAULT_EXECUTION_TIMEOUT_MS = 30_000;
/** The header that names an uploaded request body. */
export const UPLOAD_HEADER = 'x-runtools-upload';
/**
 * A body whose JSON-escaped form is larger is uploaded (where the server offers uploads): Lambda
 * takes 6 MiB per event, less what API Gateway puts around the body (headers twice, the request
 * context).
 */
export const EVENT_BODY_BUDGET_BYTES = 6 * 1024 * 1024 - 64 * 1024;
/** What a compile may add before the run phase: the server's default compile timeout. */
export const COMPILE_ALLOWANCE_MS = 60_000;
/** The default `timeoutMargin`. */
export const DEFAULT_MARGIN_MS = 30_000;
/** How long a background (202) execution may stay queued (a busy server's queue, a task starting) on top of its bound. */
export const BACKGROUND_START_MS = 300_000;

/**
 * Runtimes that run without a compile step, with their aliases (functions/runtimes.ts is the registry;
 * a test keeps this copy equal to it). Every other name gets the compile allowance: a runtime the
 * server has and this SDK does not know yet may well be compiled.
 */
export const INTERPRETED_RUNTIMES: ReadonlySet<string> = new Set([
  'python', 'py', 'python3', 'node', 'js', 'javascript', 'nodejs', 'bun', 'deno', 'ruby', 'rb', 'php', 'bash', 'sh',
]);

/** How long a client waits for an execution's answer, and why. */
export interface ExecutionBound {
  /** The run phase's timeout: the request's (each test's, summed, for a test suite), else the API's default. */
  timeoutMs: number;
  /** The compile allowance (0 for interpreted runtimes). */
  compileMs: number;
  marginMs: number;
  totalMs: number;
  /** e.g. `timeout 30 s + 60 s compile + 30 s margin` */
  label: string;
}

/** The longest a client should wait for an execution's answer: its timeout, plus a compile allowance for compiled runtimes, plus the margin. */
export function executionBound(request: ExecuteRequest, marginMs: number): ExecutionBound {
  const single = positive(request.timeout) ?? DEFAULT_EXECUTION_TIMEOUT_MS;
  // Test suites (API.md "Test cases"): every test may run for its timeout, and a checker after it.
  const suite = request as { tests?: unknown; compare?: unknown };
  let timeoutMs = single;
  if (Array.isArray(suite.tests) && suite.tests.length > 0) {
    const checker = typeof suite.compare === 'object' && suite.compare !== null && (suite.compare as { mode?: unknown }).mode === 'checker';
    const sum = suite.tests.reduce((total: number, test: unknown) => total + (positive((test as { timeout?: unknown } | null)?.timeout) ?? single), 0);
    timeoutMs = checker ? 2 * sum : sum;
  }
  const runtime = typeof request.runtime === 'string' ? request.runtime.trim().toLowerCase() : '';
  const compileMs = INTERPRETED_RUNTIMES.has(runtime) ? 0 : COMPILE_ALLOWANCE_MS;
  const label = [`timeout ${seconds(timeoutMs)}`, ...(compileMs ? [`${seconds(compileMs)} compile`] : []), `${seconds(marginMs)} margin`].join(' + ');
  return { timeoutMs, compileMs, marginMs, totalMs: timeoutMs + compileMs + marginMs, label };
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** `30 s`, `1.5 s`, `0.3 s`. */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

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

/** A whole number of milliseconds from the environment, when it holds one. */
function readEnvMs(name: string): number | undefined {
  const value = readEnv(name);
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** What a call waits for and how long: the TimeoutError's message says both. */
interface Bound {
  ms: number;
  /** e.g. `no answer from http://…` (followed by `after 2.0 s`). */
  what: string;
  /** e.g. `timeout 1 s + 1 s margin`. */
  limit: string;
}

interface Call {
  signal: AbortSignal;
  deadline: number;
  maxRetries: number;
  /** Sets a new bound from now (only when the bound was derived; a caller's `timeout` stays). */
  rearm(bound: Bound): void;
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
  /** The bound of every call when the caller fixed one; undefined: derived per call. */
  readonly timeout: number | undefined;
  readonly timeoutMargin: number;
  private readonly apiKey: string | null;
  private readonly fetchImpl: typeof fetch;
  /** Whether the server keeps Idempotency-Key answers; undefined until a response says. */
  private serverDedupes: boolean | undefined;

  constructor(options: RuntoolsOptions = {}) {
    this.apiKey = options.apiKey === undefined ? (readEnv('RUNTOOLS_API_KEY') ?? null) : options.apiKey;
    this.baseUrl = (options.baseUrl ?? readEnv('RUNTOOLS_API_URL') ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.maxRetries = options.maxRetries ?? 2;
    this.timeout = options.timeout;
    this.timeoutMargin = options.timeoutMargin ?? readEnvMs('RUNTOOLS_CLIENT_MARGIN_MS') ?? DEFAULT_MARGIN_MS;
    const custom = options.fetch;
    this.fetchImpl = custom ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Runs code and resolves with its result (a failing program resolves too); waits out background
   * (202) executions. Without a `timeout` it waits for the answer at most the execution's bound
   * (`executionBound`), and for a background execution at most that bound once it runs, plus
   * `BACKGROUND_START_MS` while it is queued. A POST that got no answer is never retried: the
   * server may be running it.
   */
  execute(request: ExecuteRequest, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (options.onStdout || options.onStderr) return this.executeLive(request, options);
    const bound = executionBound(request, this.timeoutMargin);
    const answer: Bound = { ms: bound.totalMs, what: `no answer from ${this.baseUrl}`, limit: bound.label };
    return this.call(options, answer, async (call) => {
      const reply = await this.postExecute(call, request, options.idempotencyKey ?? newIdempotencyKey());
      if (reply.status !== 202) return reply.body as ExecuteResult;
      return this.waitFor((reply.body as { id: string }).id, call, bound);
    });
  }

  /**
   * POST /v1/execute. A body whose escaped form would not fit an AWS Lambda event (API Gateway
   * passes the body inside one, and Lambda takes 6 MB) is uploaded first where the server offers
   * uploads (`POST /v1/uploads`; the API on AWS) and named by `x-runtools-upload`; a server
   * without them (404) gets the body directly.
   */
  private async postExecute(call: Call, request: ExecuteRequest, idempotencyKey: string): Promise<Answer<ExecuteResult | { id: string }>> {
    const text = JSON.stringify(request);
    const key = { [IDEMPOTENCY_HEADER]: idempotencyKey };
    if (utf8Length(JSON.stringify(text)) > EVENT_BODY_BUDGET_BYTES) {
      const id = await this.upload(call, text);
      // An upload is read once: a retry cannot name it again, so this request is not retried.
      if (id !== null) return this.request(call, 'POST', '/v1/execute', undefined, { [UPLOAD_HEADER]: id });
    }
    return this.request(call, 'POST', '/v1/execute', request, key);
  }

  /**
   * Whether the server keeps Idempotency-Key answers (it says so in a response header): only then
   * is a POST whose outcome is unknown (a 5xx, no answer) retried. Asked with GET /health when no
   * response has said yet.
   */
  private async dedupes(call: Call): Promise<boolean> {
    if (this.serverDedupes !== undefined) return this.serverDedupes;
    const probe = await this.attempt(call, `${this.baseUrl}/health`, { method: 'GET', headers: { accept: 'application/json' } }, this.timeoutMargin);
    if ('answer' in probe) this.learn(probe.answer.response);
    return this.serverDedupes ?? false;
  }

  private learn(response: Response): void {
    this.serverDedupes = (response.headers.get(FEATURES_HEADER) ?? '').split(',').some((f) => f.trim() === 'idempotency-key');
  }

  /** Uploads a request body; null when the server has no uploads. */
  private async upload(call: Call, text: string): Promise<string | null> {
    let upload: { id: string; url: string; method: string; headers: Record<string, string> };
    try {
      upload = (await this.request<typeof upload>(call, 'POST', '/v1/uploads', { size: utf8Length(text) })).body;
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
    const headers = { ...upload.headers };
    // fetch sets the length itself from the body, and refuses it as a header.
    delete headers['content-length'];
    let response: Response;
    try {
      response = await this.fetchImpl(upload.url, { method: upload.method, headers, body: text, signal: call.signal });
    } catch (error) {
      if (call.signal.aborted) throw call.failure();
      throw new ConnectionError(`cannot upload the request body: ${describe(error)}`, { cause: error });
    }
    if (!response.ok) {
      const detail = (await response.text().catch(() => '')).slice(0, 200);
      throw new ConnectionError(`uploading the request body failed: HTTP ${response.status}${detail ? ` ${detail}` : ''}`);
    }
    await response.body?.cancel().catch(() => {});
    return upload.id;
  }

  /**
   * Runs code and yields its output as the program writes it (Server-Sent Events): `compile` when
   * there is a compile phase, `stdout` / `stderr` chunks, and last the `result`. A streamed request
   * is never answered 202. An error before the start throws the API's error (and is retried like
   * `execute()`'s); one after it throws `APIError` with the code the stream sent. Breaking out of
   * the loop closes the stream, which stops the execution.
   */
  async *stream(request: ExecuteRequest, options: RequestOptions = {}): AsyncGenerator<StreamEvent, void, undefined> {
    const bound = executionBound(request, this.timeoutMargin);
    const { call, end } = this.begin(options, { ms: bound.totalMs, what: `no answer from ${this.baseUrl}`, limit: bound.label });
    try {
      let response: Response;
      for (let attempt = 0; ; attempt++) {
        try {
          response = await this.fetchImpl(`${this.baseUrl}/v1/execute`, {
            method: 'POST',
            headers: { accept: 'text/event-stream', 'content-type': 'application/json', ...(this.apiKey ? { 'x-api-key': this.apiKey } : {}) },
            body: JSON.stringify(request),
            signal: call.signal,
          });
        } catch (error) {
          if (call.signal.aborted) throw call.failure();
          throw new ConnectionError(`cannot reach ${this.baseUrl}: ${describe(error)}`, { cause: error });
        }
        if (response.ok) break;
        const error = APIError.from(response.status, await readJson(response), response.headers);
        // Refused before anything ran (429, 503 capacity): retried after its Retry-After, as execute() does.
        const retry = (response.status === 429 || error.code === 'capacity') && attempt < call.maxRetries;
        if (!retry) throw error;
        const after = parseRetryAfter(response.headers.get('retry-after'));
        const waitMs = after !== null ? after * 1000 : backoff(attempt);
        if (Date.now() + waitMs >= call.deadline) throw error;
        await sleep(waitMs, call);
      }
      if (!(response.headers.get('content-type') ?? '').includes('text/event-stream') || !response.body) {
        throw new ConnectionError(`${this.baseUrl} answered ${response.status} without an event stream (is it a runtools server that streams?)`);
      }
      // The same deadline, now for the execution rather than the answer.
      call.rearm({ ms: call.deadline - Date.now(), what: `execution at ${this.baseUrl} had not finished`, limit: bound.label });
      try {
        for await (const e of readEvents(response.body)) {
          const data = JSON.parse(e.data) as Record<string, unknown>;
          if (e.event === 'stdout' || e.event === 'stderr') yield { type: e.event, data: String(data.data ?? '') };
          else if (e.event === 'compile') yield { type: 'compile', compile: data as unknown as CompileResult };
          else if (e.event === 'result') {
            yield { type: 'result', result: data as unknown as ExecuteResult };
            return;
          } else if (e.event === 'error') throw APIError.from(500, data, response.headers);
        }
      } catch (error) {
        if (error instanceof APIError) throw error;
        if (call.signal.aborted) throw call.failure();
        throw new ConnectionError(`the event stream from ${this.baseUrl} broke: ${describe(error)}`, { cause: error });
      }
      throw new ConnectionError(`the event stream from ${this.baseUrl} ended without a result`);
    } finally {
      end();
    }
  }

  private async executeLive(request: ExecuteRequest, options: ExecuteOptions): Promise<ExecuteResult> {
    for await (const event of this.stream(request, options)) {
      if (event.type === 'stdout') options.onStdout?.(event.data);
      else if (event.type === 'stderr') options.onStderr?.(event.data);
      else if (event.type === 'result') return event.result;
    }
    throw new ConnectionError(`the event stream from ${this.baseUrl} ended without a result`);
  }

  /** Every runtime the server knows, with its version and availability. */
  runtimes(options: RequestOptions = {}): Promise<RuntimeInfo[]> {
    return this.call(options, this.quick(), async (call) => (await this.request<RuntimesResponse>(call, 'GET', '/v1/runtimes')).body.runtimes);
  }

  /** The status (and, once finished, the result) of a background execution. */
  getExecution(id: string, options: RequestOptions = {}): Promise<Execution> {
    return this.call(options, this.quick(), async (call) => (await this.request<Execution>(call, 'GET', executionPath(id))).body);
  }

  /** The bound of a call that runs nothing: the margin. */
  private quick(): Bound {
    return { ms: this.timeoutMargin, what: `no answer from ${this.baseUrl}`, limit: `limit ${seconds(this.timeoutMargin)}` };
  }

  private async waitFor(id: string, call: Call, bound: ExecutionBound): Promise<ExecuteResult> {
    const what = `execution ${id} at ${this.baseUrl} had not finished`;
    call.rearm({ ms: bound.totalMs + BACKGROUND_START_MS, what, limit: `${bound.label}, and ${seconds(BACKGROUND_START_MS)} to start` });
    let running = false;
    let interval = POLL_START_MS;
    for (;;) {
      await sleep(interval, call);
      const { body, headers } = await this.request<Execution>(call, 'GET', executionPath(id));
      if (body.status === 'completed' && body.result) return body.result;
      if (body.status === 'failed') {
        const code = body.error?.code ?? 'internal';
        throw APIError.from(code === 'runtime_unavailable' ? 503 : 500, { error: body.error ?? { code, message: 'the execution failed' } }, headers);
      }
      if (body.status === 'running' && !running) {
        // It started: from now on its own bound, never more than what was left.
        running = true;
        if (Date.now() + bound.totalMs < call.deadline) call.rearm({ ms: bound.totalMs, what, limit: `${bound.label} once running` });
      }
      interval = Math.min(POLL_MAX_MS, Math.round(interval * 1.5));
    }
  }

  private async call<T>(options: RequestOptions, derived: Bound, run: (call: Call) => Promise<T>): Promise<T> {
    const { call, end } = this.begin(options, derived);
    try {
      return await run(call);
    } catch (error) {
      if (call.signal.aborted && !(error instanceof APIError)) throw call.failure();
      throw error;
    } finally {
      end();
    }
  }

  /** A call's bound (the caller's `timeout`, else `derived`) and the caller's signal, until `end()`. */
  private begin(options: RequestOptions, derived: Bound): { call: Call; end(): void } {
    const fixedMs = options.timeout ?? this.timeout;
    let bound: Bound = fixedMs === undefined ? derived : { ms: fixedMs, what: derived.what, limit: `the call's timeout, ${fixedMs} ms` };
    const started = Date.now();
    const controller = new AbortController();
    let reason: 'timeout' | 'abort' | undefined;
    const expire = () => {
      reason ??= 'timeout';
      controller.abort();
    };
    let timer = setTimeout(expire, bound.ms);
    const onAbort = () => {
      reason ??= 'abort';
      controller.abort();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const call: Call = {
      signal: controller.signal,
      deadline: started + bound.ms,
      maxRetries: options.maxRetries ?? this.maxRetries,
      rearm: (next) => {
        if (fixedMs !== undefined || controller.signal.aborted) return;
        clearTimeout(timer);
        bound = next;
        call.deadline = Date.now() + next.ms;
        timer = setTimeout(expire, next.ms);
      },
      failure: () =>
        reason === 'timeout'
          ? new TimeoutError(`${bound.what} after ${seconds(Date.now() - started)} (${bound.limit})`)
          : new AbortError('the request was aborted'),
    };
    const end = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // Leaving early (a streamed call's consumer stopped) closes what is still open.
      controller.abort();
    };
    return { call, end };
  }

  private async request<T>(call: Call, method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers['x-api-key'] = this.apiKey;
    // A GET runs nothing: each attempt gets the margin, and one that got no answer is retried. Any
    // other request is bounded by its call only. A POST is retried when nothing ran (429, 503
    // capacity), and when its outcome is unknown (another 5xx, no answer) only with an
    // Idempotency-Key on a server that keeps their answers: then a retry never runs it twice.
    const attemptMs = method === 'GET' ? this.timeoutMargin : undefined;
    const keyed = extraHeaders[IDEMPOTENCY_HEADER] !== undefined;
    for (let attempt = 0; ; attempt++) {
      let failure: RuntoolsError;
      let waitMs = backoff(attempt);
      const outcome = await this.attempt(call, `${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }, attemptMs);
      if ('answer' in outcome) {
        const { response, parsed } = outcome.answer;
        if (keyed) this.learn(response);
        if (response.ok) return { status: response.status, body: parsed as T, headers: response.headers };
        const error = APIError.from(response.status, parsed, response.headers);
        if (!retryable(error)) throw error;
        failure = error;
        const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
        if (retryAfter !== null) waitMs = retryAfter * 1000;
        if (attempt >= call.maxRetries || Date.now() + waitMs >= call.deadline) throw failure;
        const nothingRan = error.status === 429 || error.code === 'capacity';
        if (method !== 'GET' && !nothingRan && !(keyed && (await this.dedupes(call)))) throw error;
      } else {
        failure = outcome.failure;
        // No retry left: no need to ask the server whether one would be safe.
        if (attempt >= call.maxRetries || Date.now() + waitMs >= call.deadline) throw failure;
        if (method !== 'GET' && !(keyed && (await this.dedupes(call)))) throw failure;
      }
      await sleep(waitMs, call);
    }
  }

  /** One fetch and its body, bounded by the call and by `attemptMs` when given. */
  private async attempt(
    call: Call,
    url: string,
    init: RequestInit,
    attemptMs: number | undefined,
  ): Promise<{ answer: { response: Response; parsed: unknown } } | { failure: RuntoolsError }> {
    const controller = new AbortController();
    const forward = () => controller.abort();
    if (call.signal.aborted) forward();
    call.signal.addEventListener('abort', forward, { once: true });
    let timedOut = false;
    const timer =
      attemptMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, attemptMs);
    try {
      const response = await this.fetchImpl(url, { ...init, signal: controller.signal });
      return { answer: { response, parsed: await readJson(response) } };
    } catch (error) {
      if (call.signal.aborted) throw call.failure();
      if (timedOut) return { failure: new TimeoutError(`no answer from ${this.baseUrl} after ${seconds(attemptMs!)} (limit ${seconds(attemptMs!)})`) };
      return { failure: new ConnectionError(`cannot reach ${this.baseUrl}: ${describe(error)}`, { cause: error }) };
    } finally {
      clearTimeout(timer);
      call.signal.removeEventListener('abort', forward);
    }
  }
}

/** The Idempotency-Key header (API.md "Idempotency"). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** The response header in which a server lists what it supports (`idempotency-key`). */
export const FEATURES_HEADER = 'x-runtools-features';

/** A fresh key: 128 random bits. */
function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
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
