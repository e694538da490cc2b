import { afterEach, describe, expect, it } from 'vitest';
import type { ValidExecuteRequest } from '../../functions/contract.js';
import { ExecuteRequestSchema } from '../../functions/contract.js';
import { LocalDispatcher } from '../../functions/dispatch/local.js';
import { ExecutionInterruptedError } from '../../functions/errors.js';
import { QueueFullError } from '../../functions/dispatch/types.js';
import { testRunner, until } from './helpers.js';

const req = (code: string, timeout?: number): ValidExecuteRequest => ExecuteRequestSchema.parse({ runtime: 'python', code, timeout });
const ctx = (tenant = 't1') => ({ tenant, requestId: 'r' });
let dispatcher: LocalDispatcher | undefined;
afterEach(() => dispatcher?.close());

describe('LocalDispatcher', () => {
  it('runs at most `concurrency` at once and completes everything it queued', async () => {
    dispatcher = new LocalDispatcher({ runner: await testRunner(), concurrency: 1, queueSize: 5 });
    const d = dispatcher;
    let maxRunning = 0;
    const watch = setInterval(() => (maxRunning = Math.max(maxRunning, d.stats().running)), 5);
    const outcomes = await Promise.all([1, 2, 3, 4].map((n) => d.execute(req(`print(${n})`), ctx())));
    clearInterval(watch);
    expect(outcomes.map((o) => (o.kind === 'completed' ? o.result.stdout : o.kind))).toEqual(['1\n', '2\n', '3\n', '4\n']);
    expect(maxRunning).toBe(1);
  });

  it('throws QueueFullError with a Retry-After estimate when full', async () => {
    dispatcher = new LocalDispatcher({ runner: await testRunner(), concurrency: 1, queueSize: 0 });
    const running = dispatcher.execute(req('import time; time.sleep(0.5)'), ctx());
    await until(() => dispatcher!.stats().running === 1);
    const error = await dispatcher.execute(req('print(1)'), ctx()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect((error as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((error as QueueFullError).retryAfterSeconds).toBeLessThanOrEqual(60);
    await running;
  });

  it('expires finished background executions after the TTL', async () => {
    dispatcher = new LocalDispatcher({ runner: await testRunner(), syncBudgetMs: 100, resultTtlMs: 300 });
    const outcome = await dispatcher.execute(req('print(1)', 1000), ctx());
    expect(outcome.kind).toBe('accepted');
    const id = outcome.kind === 'accepted' ? outcome.id : '';
    await until(async () => (await dispatcher!.getExecution(id, 't1'))?.status === 'completed');
    expect(await dispatcher.getExecution(id, 't2')).toBeNull();
    await new Promise((r) => setTimeout(r, 400));
    expect(await dispatcher.getExecution(id, 't1')).toBeNull();
  });

  it('keeps at most maxStoredResults, dropping the oldest finished first', async () => {
    dispatcher = new LocalDispatcher({ runner: await testRunner(), syncBudgetMs: 100, maxStoredResults: 2, concurrency: 1 });
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const outcome = await dispatcher.execute(req(`print(${n})`, 1000), ctx());
      const id = outcome.kind === 'accepted' ? outcome.id : '';
      ids.push(id);
      await until(async () => (await dispatcher!.getExecution(id, 't1'))?.status === 'completed');
    }
    expect(await dispatcher.getExecution(ids[0]!, 't1')).toBeNull();
    expect((await dispatcher.getExecution(ids[2]!, 't1'))?.result?.stdout).toBe('3\n');
    expect(dispatcher.stats().stored).toBe(2);
  });

  it('finishes accepted work on close and refuses new work', async () => {
    dispatcher = new LocalDispatcher({ runner: await testRunner(), syncBudgetMs: 100 });
    const outcome = await dispatcher.execute(req('import time; time.sleep(0.3); print("kept")', 1000), ctx());
    const id = outcome.kind === 'accepted' ? outcome.id : '';
    await dispatcher.close();
    expect((await dispatcher.getExecution(id, 't1'))?.result?.stdout).toBe('kept\n');
    await expect(dispatcher.execute(req('print(1)'), ctx())).rejects.toThrow(/shutting down/);
  });

  it('kills what is still running when the grace period ends: an interruption, never a made-up result', async () => {
    dispatcher = new LocalDispatcher({ runner: await testRunner(), shutdownGraceMs: 200 });
    const slow = dispatcher.execute(req('import time; time.sleep(30)'), ctx());
    await until(() => dispatcher!.stats().running === 1);
    const started = Date.now();
    await dispatcher.close();
    expect(Date.now() - started).toBeLessThan(15_000);
    await expect(slow).rejects.toBeInstanceOf(ExecutionInterruptedError);
  });
});
