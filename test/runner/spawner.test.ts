import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processesMatching, testRunner, type TestRunner } from '../helpers/runner.js';

/** Sandboxes are forked by build/runtools-spawn, not by the server (functions/runner/sandbox/spawner.ts). */
describe('sandbox spawner', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner({ poolSize: 1 });
  });
  afterAll(async () => {
    await t.runner.close();
    t.dispose();
  });

  it('gives the program plain pipes on 0, 1 and 2 and no other descriptor', async () => {
    const r = await t.run({
      runtime: 'python',
      code: 'import os, stat\nfds = sorted(int(f) for f in os.listdir("/proc/self/fd"))\nprint([(f, stat.S_ISFIFO(os.fstat(f).st_mode)) for f in fds if f <= 2], len(fds))',
    });
    // listdir holds one descriptor of its own while it lists.
    expect(r.stdout).toBe('[(0, True), (1, True), (2, True)] 4\n');
  });

  it('lets a program write to /dev/stdout and /dev/stderr', async () => {
    const r = await t.run({ runtime: 'python', code: 'open("/dev/stdout", "w").write("out\\n")\nopen("/dev/stderr", "w").write("err\\n")' });
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 0 });
  });

  it('applies the rlimits to the program', async () => {
    const r = await t.run({
      runtime: 'python',
      code: 'import resource as r\nprint([r.getrlimit(x) for x in (r.RLIMIT_NOFILE, r.RLIMIT_FSIZE, r.RLIMIT_CORE)])',
    });
    expect(r.stdout).toBe(`[(1024, 1024), (${128 * 1024 * 1024}, ${128 * 1024 * 1024}), (0, 0)]\n`);
  });

  it('comes back when the spawner process is killed, and takes no sandbox along', async () => {
    expect((await t.run({ runtime: 'python', code: 'print(1)' })).stdout).toBe('1\n');
    // Only this runner's spawner: test files run in parallel, each with its own.
    const parent = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    const spawners = processesMatching('build/runtools-spawn').filter((pid) => parent(pid) === process.pid);
    expect(spawners).toHaveLength(1);
    for (const pid of spawners) process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    // The prepared sandbox died with it; the next execution gets a new spawner and a new sandbox.
    const r = await t.run({ runtime: 'python', code: 'print(2)' });
    expect(r).toMatchObject({ stdout: '2\n', exitCode: 0 });
  });
});
