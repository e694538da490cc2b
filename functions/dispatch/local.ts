import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { ExecuteResult, Execution, RuntimeInfo, ValidExecuteRequest } from '../contract.js';
import type { Runner } from '../runner/index.js';
import { exceedsSyncBudget } from './policy.js';
import {
  BackendError,
  QueueFullError,
  RuntimeUnavailableError,
  type DispatchOutcome,
  type Dispatcher,
  type ExecutionContext,
} from './types.js';

export interface LocalDispatcherOptions {
  runner: Pick<Runner, 'execute' | 'runtimes' | 'locate'>;
  /** Executions running at once. @default number of CPUs */
  concurrency?: number;
  /** Executions waiting for a slot before new ones get 429. @default 100 */
  queueSize?: number;
  /** Requests that may outlast this run in the background (202). @default null (never) */
  syncBudgetMs?: number | null;
  /** Added to a compiled runtime's timeout when comparing with the budget. @default 10000 */
  compileAllowanceMs?: number;
  /** How long a finished background execution stays readable. @default 600000 */
  resultTtlMs?: number;
  /** Most background executions kept at once; the oldest finished ones go first. @default 10000 */
  maxStoredResults?: number;
  /** How long close() waits for in-flight executions before killing them. @default 30000 */
  shutdownGraceMs?: number;
  /** Called with details of background executions that failed on our side. */
  onError?: (error: unknown, id: string) => void;
}

interface Job {
  request: ValidExecuteRequest;
  signal?: AbortSignal;
  onStart?: () => void;
  resolve(result: ExecuteResult): void;
  reject(error: unknown): void;
}

interface Stored {
  tenant: string;
  execution: Execution;
  finishedAt?: number;
}

/** Thrown to a waiting request whose client went away before it started. */
export class ExecutionAbortedError extends Error {
  constructor() {
    super('the client closed the request before the execution started');
    this.name = 'ExecutionAbortedError';
  }
}

/** Runs executions in this process over the Runner: bounded concurrency, a bounded queue, background jobs. */
export class LocalDispatcher implements Dispatcher {
  private readonly runner: LocalDispatcherOptions['runner'];
  private readonly concurrency: number;
  private readonly queueSize: number;
  private readonly budget: { syncBudgetMs: number | null; compileAllowanceMs: number };
  private readonly ttlMs: number;
  private readonly maxStored: number;
  private readonly graceMs: number;
  private readonly onError: (error: unknown, id: string) => void;
  private readonly queue: Job[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly store = new Map<string, Stored>();
  private readonly shutdown = new AbortController();
  private readonly sweeper: NodeJS.Timeout;
  private running = 0;
  private closing = false;
  private averageMs = 1000;

  constructor(options: LocalDispatcherOptions) {
    this.runner = options.runner;
    this.concurrency = Math.max(1, options.concurrency ?? cpus().length);
    this.queueSize = Math.max(0, options.queueSize ?? 100);
    this.budget = { syncBudgetMs: options.syncBudgetMs ?? null, compileAllowanceMs: options.compileAllowanceMs ?? 10_000 };
    this.ttlMs = options.resultTtlMs ?? 600_000;
    this.maxStored = Math.max(1, options.maxStoredResults ?? 10_000);
    this.graceMs = options.shutdownGraceMs ?? 30_000;
    this.onError = options.onError ?? (() => {});
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.ttlMs, 60_000));
    this.sweeper.unref();
  }

  /** Runs the request now (waiting for a slot), or accepts it to run in the background when it may outlast the budget. */
  async execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    if (this.closing) throw new BackendError('the dispatcher is shutting down', 503);
    if (!(await this.runner.locate(request.runtime))) throw new RuntimeUnavailableError(request.runtime);
    if (exceedsSyncBudget(request, this.budget)) return this.accept(request, ctx.tenant);
    const result = await this.enqueue({ request, signal: ctx.signal });
    return { kind: 'completed', result };
  }

  /** The background execution, if it exists and belongs to this tenant. */
  async getExecution(id: string, tenant: string): Promise<Execution | null> {
    this.sweep();
    const stored = this.store.get(id);
    return stored && stored.tenant === tenant ? structuredClone(stored.execution) : null;
  }

  /** Every runtime and whether it is installed here. */
  runtimes(): Promise<RuntimeInfo[]> {
    return this.runner.runtimes();
  }

  /** Stops accepting work, lets everything accepted finish within the grace period, then kills the rest. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    const drained = Promise.allSettled([...this.inFlight]);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), this.graceMs);
    });
    const outcome = await Promise.race([drained, expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      this.shutdown.abort();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  /** Executions running and waiting right now. */
  stats(): { running: number; queued: number; stored: number } {
    return { running: this.running, queued: this.queue.length, stored: this.store.size };
  }

  private accept(request: ValidExecuteRequest, tenant: string): DispatchOutcome {
    this.admit();
    const id = `ex_${randomBytes(16).toString('base64url')}`;
    const stored: Stored = { tenant, execution: { id, status: 'queued' } };
    this.store.set(id, stored);
    this.evict();
    const finish = (update: Partial<Execution>) => {
      stored.execution = { ...stored.execution, ...update };
      stored.finishedAt = Date.now();
    };
    this.enqueue({ request, onStart: () => (stored.execution.status = 'running') }).then(
      (result) => finish({ status: 'completed', result }),
      (error: unknown) => {
        if (error instanceof RuntimeUnavailableError) {
          finish({ status: 'failed', error: { code: 'runtime_unavailable', message: error.message } });
        } else {
          this.onError(error, id);
          finish({ status: 'failed', error: { code: 'internal', message: 'the execution failed on the server' } });
        }
      },
    );
    return { kind: 'accepted', id, status: stored.execution.status as 'queued' | 'running' };
  }

  private admit(): void {
    if (this.running >= this.concurrency && this.queue.length >= this.queueSize) {
      throw new QueueFullError(this.retryAfterSeconds());
    }
  }

  private enqueue(job: Omit<Job, 'resolve' | 'reject'>): Promise<ExecuteResult> {
    this.admit();
    const promise = new Promise<ExecuteResult>((resolve, reject) => {
      const full: Job = { ...job, resolve, reject };
      if (this.running < this.concurrency) {
        this.start(full);
        return;
      }
      this.queue.push(full);
      job.signal?.addEventListener(
        'abort',
        () => {
          const index = this.queue.indexOf(full);
          if (index >= 0) {
            this.queue.splice(index, 1);
            reject(new ExecutionAbortedError());
          }
        },
        { once: true },
      );
    });
    this.track(promise);
    return promise;
  }

  private start(job: Job): void {
    this.running++;
    job.onStart?.();
    const started = performance.now();
    const signal = job.signal ? AbortSignal.any([job.signal, this.shutdown.signal]) : this.shutdown.signal;
    this.runner
      .execute(job.request, { signal })
      .then(job.resolve, job.reject)
      .finally(() => {
        this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started);
        this.running--;
        const next = this.queue.shift();
        if (next) this.start(next);
      });
  }

  private track(promise: Promise<unknown>): void {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
  }

  /** Seconds until a slot is likely free: the queue ahead, spread over the slots, at the recent average duration. */
  private retryAfterSeconds(): number {
    const waitMs = (this.averageMs * (this.queue.length + 1)) / this.concurrency;
    return Math.min(60, Math.max(1, Math.ceil(waitMs / 1000)));
  }

  private sweep(): void {
    const cutoff = Date.now() - this.ttlMs;
    for (const [id, stored] of this.store) {
      if (stored.finishedAt !== undefined && stored.finishedAt <= cutoff) this.store.delete(id);
    }
  }

  private evict(): void {
    for (const [id, stored] of this.store) {
      if (this.store.size <= this.maxStored) return;
      if (stored.finishedAt !== undefined) this.store.delete(id);
    }
  }
}
