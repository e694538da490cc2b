import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import type { ExecuteResult, Execution, RuntimeInfo, ValidExecuteRequest } from '../contract.js';
import { CapacityError, ExecutionInterruptedError, SandboxFault } from '../errors.js';
import type { Runner } from '../runner/index.js';
import { exceedsSyncBudget } from './policy.js';
import { ExecutionStore, type ExecutionError } from './store.js';
import {
  QueueFullError,
  RuntimeUnavailableError,
  type DispatchOutcome,
  type Dispatcher,
  type ExecutionContext,
  type LiveOutput,
} from './types.js';

export interface LocalDispatcherOptions {
  runner: Pick<Runner, 'execute' | 'runtimes' | 'locate' | 'capacity'>;
  /** Where background executions are kept. @default an in-memory store (nothing survives the process) */
  store?: ExecutionStore;
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

/** What a background execution that the server cut off says (API.md "Durability and capacity"). */
export const INTERRUPTED_MESSAGE = 'the server stopped before the execution finished; run it again';

interface Job {
  request: ValidExecuteRequest;
  live?: LiveOutput;
  /** The background execution's id (none for a request whose client waits). */
  id?: string;
  signal?: AbortSignal;
  onStart?: () => void;
  resolve(result: ExecuteResult): void;
  reject(error: unknown): void;
}

/** A background execution not started when the server stopped: it stays queued in the store for the next one. */
class LeftQueued extends Error {}

/** Thrown to a waiting request whose client went away before it started. */
export class ExecutionAbortedError extends Error {
  constructor() {
    super('the client closed the request before the execution started');
    this.name = 'ExecutionAbortedError';
  }
}

/**
 * Runs executions in this process over the Runner: bounded concurrency, a bounded queue,
 * background jobs kept in the store (they survive a restart: what was queued runs again, what was
 * running is `interrupted`).
 */
export class LocalDispatcher implements Dispatcher {
  readonly liveOutput = true;
  private readonly runner: LocalDispatcherOptions['runner'];
  private readonly concurrency: number;
  private readonly queueSize: number;
  private readonly budget: { syncBudgetMs: number | null; compileAllowanceMs: number; parallel: number };
  private readonly ttlMs: number;
  private readonly maxStored: number;
  private readonly graceMs: number;
  private readonly onError: (error: unknown, id: string) => void;
  private readonly queue: Job[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly store: ExecutionStore;
  private readonly shutdown = new AbortController();
  private readonly sweeper: NodeJS.Timeout;
  private running = 0;
  private closing = false;
  private averageMs = 1000;

  constructor(options: LocalDispatcherOptions) {
    this.runner = options.runner;
    this.store = options.store ?? new ExecutionStore(null);
    this.concurrency = Math.max(1, options.concurrency ?? cpus().length);
    this.queueSize = Math.max(0, options.queueSize ?? 100);
    this.budget = { syncBudgetMs: options.syncBudgetMs ?? null, compileAllowanceMs: options.compileAllowanceMs ?? 10_000, parallel: this.concurrency };
    this.ttlMs = options.resultTtlMs ?? 600_000;
    this.maxStored = Math.max(1, options.maxStoredResults ?? 10_000);
    this.graceMs = options.shutdownGraceMs ?? 30_000;
    this.onError = options.onError ?? (() => {});
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.ttlMs, 60_000));
    this.sweeper.unref();
    this.resume();
  }

  /**
   * Picks up what a previous server left in the store: executions it was running were cut off
   * (`interrupted`); those still queued run now, in their order.
   */
  private resume(): void {
    const interrupted = this.store.interruptRunning(INTERRUPTED_MESSAGE, this.ttlMs);
    if (interrupted > 0) this.onError(new ExecutionInterruptedError(`${interrupted} execution(s) were running when the last server stopped`), '*');
    for (const { id, request } of this.store.queued()) this.background(id, request);
  }

  /** Runs the request now (waiting for a slot), or accepts it to run in the background when it may outlast the budget. */
  async execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    if (this.closing) throw new CapacityError('the server is shutting down', Math.max(1, Math.ceil(this.graceMs / 1000)));
    if (!(await this.runner.locate(request.runtime))) throw new RuntimeUnavailableError(request.runtime);
    const short = await this.runner.capacity(request);
    if (short) throw new CapacityError(short, this.retryAfterSeconds());
    if (!ctx.live && exceedsSyncBudget(request, this.budget)) return this.accept(request, ctx.tenant);
    const result = await this.enqueue({ request, signal: ctx.signal, live: ctx.live });
    return { kind: 'completed', result };
  }

  /** The background execution, if it exists and belongs to this tenant. */
  async getExecution(id: string, tenant: string): Promise<Execution | null> {
    return this.store.get(id, tenant);
  }

  /** Why the server cannot take work now (shutting down, no room in the work root), or null. */
  async health(): Promise<string | null> {
    if (this.closing) return 'the server is shutting down';
    return this.runner.capacity();
  }

  /** Every runtime and whether it is installed here. */
  runtimes(): Promise<RuntimeInfo[]> {
    return this.runner.runtimes();
  }

  /** Stops accepting work, lets everything accepted finish within the grace period, then kills the rest. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    // Background work that has not started stays queued in the store: the next server runs it.
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const job = this.queue[i]!;
      if (job.id === undefined) continue;
      this.queue.splice(i, 1);
      job.reject(new LeftQueued());
    }
    const drained = Promise.allSettled([...this.inFlight]);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), this.graceMs);
    });
    const outcome = await Promise.race([drained, expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      this.shutdown.abort(new ExecutionInterruptedError(INTERRUPTED_MESSAGE));
      await Promise.allSettled([...this.inFlight]);
    }
    this.store.interruptRunning(INTERRUPTED_MESSAGE, this.ttlMs);
  }

  /** Executions running and waiting right now. */
  stats(): { running: number; queued: number; stored: number } {
    return { running: this.running, queued: this.queue.length, stored: this.store.count() };
  }

  private accept(request: ValidExecuteRequest, tenant: string): DispatchOutcome {
    this.admit();
    const id = `ex_${randomBytes(16).toString('base64url')}`;
    this.store.add(id, tenant, request);
    this.sweep();
    this.background(id, request);
    return { kind: 'accepted', id, status: 'queued' };
  }

  /** Runs a stored background execution when a slot is free and records how it ended. */
  private background(id: string, request: ValidExecuteRequest): void {
    // A store that cannot be written (its disk full) loses this record, not the server.
    const record = (write: () => void) => {
      try {
        write();
      } catch (err) {
        this.onError(err, id);
      }
    };
    const fail = (error: ExecutionError) => record(() => this.store.finish(id, { status: 'failed', error }, this.ttlMs));
    this.enqueue({ id, request, onStart: () => record(() => this.store.started(id)) }, { admitted: true }).then(
      (result) => record(() => this.store.finish(id, { status: 'completed', result }, this.ttlMs)),
      (error: unknown) => {
        if (error instanceof LeftQueued) return;
        if (error instanceof ExecutionInterruptedError) fail({ code: 'interrupted', message: INTERRUPTED_MESSAGE });
        else if (error instanceof RuntimeUnavailableError) fail({ code: 'runtime_unavailable', message: error.message });
        else if (error instanceof CapacityError) fail({ code: 'capacity', message: error.message });
        else {
          this.onError(error, id);
          fail({ code: 'internal', message: error instanceof SandboxFault ? error.message : 'the execution failed on the server' });
        }
      },
    );
  }

  private admit(): void {
    if (this.running >= this.concurrency && this.queue.length >= this.queueSize) {
      throw new QueueFullError(this.retryAfterSeconds());
    }
  }

  private enqueue(job: Omit<Job, 'resolve' | 'reject'>, options: { admitted?: boolean } = {}): Promise<ExecuteResult> {
    if (!options.admitted) this.admit();
    job.live?.onAdmitted();
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
    if (this.shutdown.signal.aborted) {
      job.reject(this.shutdown.signal.reason);
      const next = this.queue.shift();
      if (next) this.start(next);
      return;
    }
    this.running++;
    job.onStart?.();
    const started = performance.now();
    const signal = job.signal ? AbortSignal.any([job.signal, this.shutdown.signal]) : this.shutdown.signal;
    this.runner
      .execute(job.request, {
        signal,
        parallel: this.concurrency,
        extraSlot: () => this.extraSlot(),
        ...(job.live ? { onOutput: job.live.onOutput, onCompile: job.live.onCompile } : {}),
      })
      .then(job.resolve, job.reject)
      .finally(() => {
        this.averageMs = 0.8 * this.averageMs + 0.2 * (performance.now() - started);
        this.running--;
        const next = this.queue.shift();
        if (next) this.start(next);
      });
  }

  /**
   * A slot for one more test of a running suite, when one is free and nothing waits for it (a
   * suite never takes a slot from a queued request); null otherwise. Giving it back starts the
   * next queued execution, as the end of an execution does.
   */
  private extraSlot(): (() => void) | null {
    if (this.closing || this.queue.length > 0 || this.running >= this.concurrency) return null;
    this.running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.queue.shift();
      if (next) this.start(next);
    };
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
    this.store.sweep(this.maxStored);
  }
}
