import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteResult, Execution } from '../../functions/contract.js';
import { SHUTDOWN_MARGIN_MS, type RunningServer } from '../../functions/api/server.js';
import { postJson, spawnerOf, spawnServerProcess, startServerProcess, startTestServer, until } from './helpers.js';

describe('over HTTP', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ maxBodyBytes: 32 * 1024 });
  });
  afterAll(() => server.close());

  it('runs code and returns the ExecuteResult with x-request-id', async () => {
    const res = await postJson(`${server.url}/v1/execute`, { runtime: 'py', code: 'import sys\nprint("out")\nprint("err", file=sys.stderr)\nsys.exit(3)' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    const result = (await res.json()) as ExecuteResult;
    expect(result).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 3, timedOut: false, runtime: 'python', signal: null, truncated: false });
    expect(result).toMatchObject({ status: 'runtime_error' });
    // A python start takes milliseconds of wall and CPU time: neither is left at zero.
    expect(result.executionTime).toBeGreaterThan(0);
    expect(result.cpuTime).toBeGreaterThan(0);
    expect(result.memoryPeak).toBeGreaterThan(0);
  });

  it('rejects a chunked body over the limit with 413', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(8 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${server.url}/v1/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });
});

describe('queue', () => {
  it('answers 429 with Retry-After when the queue is full, and loses nothing it accepted', async () => {
    const server = await startTestServer({ concurrency: 1, queueSize: 1 });
    try {
      const sleeper = postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'import time; time.sleep(1.5); print("slept")' });
      await until(() => server.dispatcher.stats().running === 1);
      const waiting = postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("queued")' });
      await until(() => server.dispatcher.stats().queued === 1);
      const rejected = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("rejected")' });
      expect(rejected.status).toBe(429);
      expect(Number(rejected.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await rejected.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
      expect(((await (await sleeper).json()) as ExecuteResult).stdout).toBe('slept\n');
      expect(((await (await waiting).json()) as ExecuteResult).stdout).toBe('queued\n');
      const after = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("after")' });
      expect(after.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('long executions (RUNTOOLS_SYNC_BUDGET_MS)', () => {
  let server: RunningServer;
  const alice = { 'x-api-key': 'alice-key' };
  const bob = { 'x-api-key': 'bob-key' };
  beforeAll(async () => {
    server = await startTestServer({ apiKeys: ['alice-key', 'bob-key'], syncBudgetMs: 2000, compileAllowanceMs: 1500 });
  });
  afterAll(() => server.close());

  const poll = async (location: string, headers: Record<string, string>): Promise<Execution> => {
    let execution: Execution | undefined;
    await until(async () => {
      const res = await fetch(`${server.url}${location}`, { headers });
      expect(res.status).toBe(200);
      execution = (await res.json()) as Execution;
      return execution.status === 'completed' || execution.status === 'failed';
    }, 30_000);
    return execution!;
  };

  it('answers 202 + Location for a timeout over the budget, then the result on GET', async () => {
    const res = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("later")', timeout: 5000 }, alice);
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string; status: string };
    expect(['queued', 'running']).toContain(accepted.status);
    expect(res.headers.get('location')).toBe(`/v1/executions/${accepted.id}`);
    const execution = await poll(res.headers.get('location')!, alice);
    expect(execution).toMatchObject({ id: accepted.id, status: 'completed', result: { stdout: 'later\n', exitCode: 0 } });
  });

  it('lets only the creating key read the execution', async () => {
    const res = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print(1)', timeout: 5000 }, alice);
    const { id } = (await res.json()) as { id: string };
    const asBob = await fetch(`${server.url}/v1/executions/${id}`, { headers: bob });
    expect(asBob.status).toBe(404);
    expect(((await asBob.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await poll(`/v1/executions/${id}`, alice)).status).toBe('completed');
  });

  it('answers synchronously within the budget, counting the compile allowance for compiled runtimes', async () => {
    const quick = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print(2)', timeout: 1000 }, alice);
    expect(quick.status).toBe(200);
    const compiled = await postJson(`${server.url}/v1/execute`, { runtime: 'go', code: 'package main\nfunc main() {}\n', timeout: 1000 }, alice);
    expect(compiled.status).toBe(202);
  });
});

describe('the server process', () => {
  it('stops with a message naming a bad variable', async () => {
    const server = spawnServerProcess({ RUNTOOLS_CONCURRENCY: 'lots' });
    const code = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr.text).toMatch(/RUNTOOLS_CONCURRENCY="lots"/);
  });

  it('refuses a public address without keys', async () => {
    const server = spawnServerProcess({ HOST: '0.0.0.0' });
    const code = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr.text).toMatch(/without authentication.*RUNTOOLS_API_KEYS/);
  });

  it('finishes in-flight executions on SIGTERM, then exits 0', async () => {
    const server = await startServerProcess({});
    const out = server.stdout;
    const inFlight = postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'import time; time.sleep(2); print("done")' });
    await new Promise((r) => setTimeout(r, 1000));
    server.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(((await res.json()) as ExecuteResult).stdout).toBe('done\n');
    const code = await server.exited;
    expect(code).toBe(0);
    expect(out.text).toMatch(/"shutting down"/);
    const requestLine = out.text.split('\n').find((l) => l.includes('"/v1/execute"'));
    expect(JSON.parse(requestLine!)).toMatchObject({ msg: 'request', method: 'POST', status: 200, runtime: 'python', exitCode: 0 });
  });

  it('exits within its grace period and margin on SIGTERM though an execution is wedged (its spawner stopped)', async () => {
    const graceMs = 1000;
    const server = await startServerProcess({ HOST: '127.0.0.1', RUNTOOLS_POOL_SIZE: '0', RUNTOOLS_SHUTDOWN_GRACE_MS: String(graceMs) });
    let spawner: number | undefined;
    try {
      // The spawner starts with the first sandbox; stopped, it answers no spawn request again.
      const first = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("first")' });
      expect(first.status).toBe(200);
      spawner = spawnerOf(server.pid);
      expect(spawner).toBeDefined();
      process.kill(spawner!, 'SIGSTOP');
      const wedged = postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("never")' }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 500));
      const stopping = Date.now();
      server.kill('SIGTERM');
      const limit = graceMs + SHUTDOWN_MARGIN_MS + 3000;
      const outcome = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('still running'), limit))]);
      expect(outcome).toBe(1);
      expect(Date.now() - stopping).toBeGreaterThanOrEqual(graceMs + SHUTDOWN_MARGIN_MS - 100);
      expect(server.stderr.text).toMatch(/"shutdown did not finish in time/);
      await wedged;
    } finally {
      if (spawner) {
        for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
          try {
            process.kill(spawner, signal);
          } catch {
            /* gone */
          }
        }
      }
      server.kill('SIGKILL');
    }
  }, 45_000);
});
