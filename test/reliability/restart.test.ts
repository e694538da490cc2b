/**
 * Background executions survive a restart (API.md "Durability and capacity"): the real server
 * process is stopped with work running and queued, then started again on the same data directory.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Execution } from '../../functions/contract.js';
import { call, dataDir, startServerProcess, until, type ServerProcess } from './helpers.js';

const KEY = 'restart-key-0123456789';
const OTHER = 'restart-other-9876543210';
const servers: ServerProcess[] = [];
afterAll(() => servers.forEach((s) => s.kill()));

describe('a restart with background executions running and queued', () => {
  it('answers every id it issued: results kept, cut-off work interrupted, queued work run after the restart', async () => {
    const data = dataDir();
    const env = {
      RUNTOOLS_DATA_DIR: data,
      RUNTOOLS_API_KEYS: `${KEY},${OTHER}`,
      RUNTOOLS_CONCURRENCY: '3',
      RUNTOOLS_SYNC_BUDGET_MS: '10000',
      RUNTOOLS_SHUTDOWN_GRACE_MS: '3000',
    };
    const first = await startServerProcess(env);
    servers.push(first);
    const execution = (s: ServerProcess, id: string, key = KEY) => call<Execution>(`${s.url}/v1/executions/${id}`, { key });
    const post = (s: ServerProcess, body: Record<string, unknown>) => call<{ id: string; stdout?: string }>(`${s.url}/v1/execute`, { body, key: KEY });

    // Finished before the stop: its result must survive.
    const done = await post(first, { runtime: 'python', code: 'print("done")', timeout: 20_000 });
    expect(done.status).toBe(202);
    await until(async () => (await execution(first, done.body.id)).body.status === 'completed');
    // Running when the grace period ends: cut off.
    const long = await post(first, { runtime: 'python', code: 'import time; time.sleep(60)', timeout: 120_000 });
    expect(long.status).toBe(202);
    await until(async () => (await execution(first, long.body.id)).body.status === 'running');
    // A synchronous request that finishes within the grace period gets its result.
    const sync = post(first, { runtime: 'python', code: 'import time; time.sleep(1.5); print("sync")', timeout: 5000 });
    // One that is still running when it ends is our failure, not a result with a made-up exit code.
    const cut = call<{ error: { code: string; message: string } }>(`${first.url}/v1/execute`, {
      key: KEY,
      body: { runtime: 'python', code: 'import time; time.sleep(8)', timeout: 9000 },
    });
    await new Promise((r) => setTimeout(r, 800));
    // Every slot is taken: this one waits in the queue, and is still waiting at the stop.
    const queued = await post(first, { runtime: 'python', code: 'print("ran after the restart")', timeout: 20_000 });
    expect(queued.status).toBe(202);
    expect((await execution(first, queued.body.id)).body.status).toBe('queued');

    first.kill('SIGTERM');
    // Stopping: polls are still answered, new work is refused with 503 capacity.
    await until(async () => (await fetch(`${first.url}/health`)).status === 503, 2000);
    const health = await call<{ status: string; reason: string }>(`${first.url}/health`);
    expect(health.body).toMatchObject({ status: 'degraded', reason: expect.stringMatching(/shutting down/) });
    expect((await execution(first, queued.body.id)).body.status).toBe('queued');
    const refused = await post(first, { runtime: 'python', code: 'print(1)' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((refused.body as unknown as { error: { code: string } }).error.code).toBe('capacity');
    const syncResult = await sync;
    expect(syncResult.status).toBe(200);
    expect(syncResult.body.stdout).toBe('sync\n');
    const cutResult = await cut;
    expect(cutResult.status).toBe(500);
    expect(cutResult.body.error).toEqual({ code: 'internal', message: expect.stringMatching(/server stopped before the execution finished/) });
    expect(await first.exited).toBe(0);

    const second = await startServerProcess(env);
    servers.push(second);
    expect((await execution(second, done.body.id)).body).toMatchObject({ status: 'completed', result: { stdout: 'done\n' } });
    expect((await execution(second, long.body.id)).body).toMatchObject({ status: 'failed', error: { code: 'interrupted' } });
    await until(async () => (await execution(second, queued.body.id)).body.status === 'completed');
    expect((await execution(second, queued.body.id)).body.result).toMatchObject({ stdout: 'ran after the restart\n', exitCode: 0 });
    // Owners survive the restart: another key still cannot read them, and an id never issued is a 404.
    expect((await execution(second, done.body.id, OTHER)).status).toBe(404);
    expect((await execution(second, 'ex_never-issued')).status).toBe(404);
    second.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('runs one server per data directory', async () => {
    const data = dataDir();
    const first = await startServerProcess({ RUNTOOLS_DATA_DIR: data });
    servers.push(first);
    await expect(startServerProcess({ RUNTOOLS_DATA_DIR: data })).rejects.toThrow(/in use by another runtools server/);
    first.kill('SIGTERM');
    await first.exited;
  }, 60_000);
});
