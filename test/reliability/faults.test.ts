/**
 * Our faults are ours (API.md "Durability and capacity"): a sandbox that dies under its program
 * is a 500 naming what failed, never a 200 with a made-up exit code; one that failed before its
 * program started is built once more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { SandboxFault } from '../../functions/errors.js';
import { Runner, createSandbox } from '../../functions/runner/index.js';
import type { Sandbox } from '../../functions/runner/sandbox/types.js';
import { postJson, recordingLogger, spawnerOf, startTestServer, until } from '../api/helpers.js';

const log = recordingLogger();
let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer({}, log);
});
afterAll(() => server?.close());

describe('the sandbox spawner killed while a program runs', () => {
  it('answers 500 internal naming the failure, logs it with the request id, and the next request runs', async () => {
    const warm = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("warm")' });
    expect(warm.status).toBe(200);
    const spawner = spawnerOf(process.pid);
    expect(spawner).toBeDefined();
    const pending = postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'import time; print("started", flush=True); time.sleep(20)', timeout: 30_000 });
    // The program is running once its interpreter is up (a python3 below the spawner's tree).
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(spawner!, 'SIGKILL');
    const res = await pending;
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('internal');
    expect(body.error.message).toMatch(/sandbox ended \(signal SIGKILL\) before it reported how the program ended/);
    const requestId = res.headers.get('x-request-id');
    await until(() => log.lines.some((l) => l.msg === 'request failed' && l.requestId === requestId));
    expect(log.lines.find((l) => l.msg === 'request failed' && l.requestId === requestId)).toMatchObject({ level: 'error', error: 'SandboxFault' });

    const next = await postJson(`${server.url}/v1/execute`, { runtime: 'python', code: 'print("fine")' });
    expect(next.status).toBe(200);
    expect(((await next.json()) as { stdout: string }).stdout).toBe('fine\n');
  }, 60_000);
});

/** The bubblewrap sandbox, with faults injected into its first `n` runs. */
function faulty(faults: SandboxFault[]): Sandbox & { runs: number } {
  const real = createSandbox('bwrap');
  const sandbox = Object.create(real) as Sandbox & { runs: number };
  sandbox.runs = 0;
  sandbox.run = (spec) => {
    sandbox.runs++;
    const fault = faults.shift();
    return fault ? Promise.reject(fault) : real.run(spec);
  };
  return sandbox;
}

describe('a sandbox that failed', () => {
  it('before its program started is built once more, transparently', async () => {
    const sandbox = faulty([new SandboxFault('could not start the sandbox: the sandbox spawner stopped', { beforeStart: true })]);
    const runner = new Runner({ sandbox });
    const result = await runner.execute({ runtime: 'python', code: 'print(7)', stdin: '', timeout: 10_000, env: {}, args: [] });
    expect(result).toMatchObject({ stdout: '7\n', exitCode: 0, status: 'ok' });
    expect(sandbox.runs).toBe(2);
    await runner.close();
  });

  it('only once: a second failure is the execution’s', async () => {
    const fault = () => new SandboxFault('could not start the sandbox: the sandbox spawner stopped', { beforeStart: true });
    const sandbox = faulty([fault(), fault()]);
    const runner = new Runner({ sandbox });
    await expect(runner.execute({ runtime: 'python', code: 'print(7)', stdin: '', timeout: 10_000, env: {}, args: [] })).rejects.toThrow(/spawner stopped/);
    expect(sandbox.runs).toBe(2);
    await runner.close();
  });

  it('after its program started is never run again', async () => {
    const sandbox = faulty([new SandboxFault('the sandbox ended (signal SIGKILL) before it reported how the program ended', { beforeStart: false })]);
    const runner = new Runner({ sandbox });
    await expect(runner.execute({ runtime: 'python', code: 'print(7)', stdin: '', timeout: 10_000, env: {}, args: [] })).rejects.toBeInstanceOf(SandboxFault);
    expect(sandbox.runs).toBe(1);
    await runner.close();
  });
});
