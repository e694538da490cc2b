import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecuteRequestSchema, type ExecuteRequest, type ExecuteResult } from '../../functions/contract.js';
import { createRunner, type Runner } from '../../functions/runner/index.js';
import { launcherPath } from '../../functions/runner/sandbox/launcher.js';
import { processesMatching } from '../helpers/runner.js';

/** What must not differ between a prepared and a fresh sandbox (times and memory are measurements). */
const comparable = ({ executionTime, cpuTime, memoryPeak, ...r }: ExecuteResult) => ({ ...r, compile: r.compile && { ...r.compile, executionTime: 0, cpuTime: 0, memoryPeak: 0 } });

describe.runIf(launcherPath() !== null)('prepared sandboxes', () => {
  let pooled: Runner;
  let fresh: Runner;
  const poolRoot = mkdtempSync(path.join(os.tmpdir(), 'runtools-pool-'));
  const freshRoot = mkdtempSync(path.join(os.tmpdir(), 'runtools-fresh-'));
  const run = (r: Runner, req: ExecuteRequest) => r.execute(ExecuteRequestSchema.parse(req));

  beforeAll(async () => {
    pooled = await createRunner({ workRoot: poolRoot, poolSize: 2, compileCacheBytes: 0 });
    fresh = await createRunner({ workRoot: freshRoot, compileCacheBytes: 0 });
  });
  afterAll(async () => {
    await pooled.close();
    rmSync(poolRoot, { recursive: true, force: true });
    rmSync(freshRoot, { recursive: true, force: true });
  });

  it.each<ExecuteRequest>([
    {
      runtime: 'python',
      code: 'import os, sys\nprint(sys.argv, os.getcwd(), sorted(os.environ.items()))\nprint(input())\nraise SystemExit(4)',
      stdin: 'from stdin\n',
      args: ['a', 'b c', ''],
      env: { EXTRA: 'x=y', EMPTY: '' },
    },
    { runtime: 'python', code: 'def f():\n    raise KeyError("k")\nf()' },
    { runtime: 'node', code: 'console.log(process.argv.slice(1), process.cwd(), Object.keys(process.env).sort())' },
    { runtime: 'bun', code: 'console.log(process.argv.length, process.cwd(), Bun.env.HOME)' },
    { runtime: 'deno', code: 'console.log(Deno.args, Deno.cwd(), Object.entries(Deno.env.toObject()).sort())', args: ['z'] },
    { runtime: 'go', code: 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() { fmt.Println(os.Args[1:], os.Getenv("PWD")) }\n', args: ['q'] },
    { runtime: 'rust', code: 'fn main() { println!("{:?}", std::env::args().skip(1).collect::<Vec<_>>()); }\n', args: ['r s'] },
  ])('gives the same result as a sandbox built on demand: $runtime', async (req) => {
    const [a, b] = [await run(pooled, req), await run(fresh, req)];
    expect(comparable(a)).toEqual(comparable(b));
  });

  it('times out the whole tree', async () => {
    const result = await run(pooled, { runtime: 'python', code: 'import subprocess, time\nsubprocess.Popen(["sleep", "60"])\ntime.sleep(60)', timeout: 1000 });
    expect(result).toMatchObject({ timedOut: true, exitCode: 137, signal: 'SIGKILL' });
  });

  it('uses each sandbox for exactly one execution', async () => {
    const write = await run(pooled, { runtime: 'python', code: 'open("/tmp/left", "w").write("x"); open("/work/left", "w").write("x"); print("written")' });
    expect(write.stdout).toBe('written\n');
    for (let i = 0; i < 4; i++) {
      const read = await run(pooled, { runtime: 'python', code: 'import os\nprint(os.path.exists("/tmp/left"), os.path.exists("/work/left"), sorted(os.listdir("/proc"))[:3])' });
      expect(read.stdout.startsWith('False False')).toBe(true);
    }
  });

  it('leaves no process or directory behind once closed', async () => {
    const runner = await createRunner({ workRoot: poolRoot, poolSize: 3 });
    await run(runner, { runtime: 'python', code: 'print(1)' });
    await new Promise((r) => setTimeout(r, 300));
    // This file's sandboxes only (other test files run their own pools meanwhile): their bwrap
    // command lines name a workspace under poolRoot.
    expect(processesMatching(poolRoot).length).toBeGreaterThan(0);
    await runner.close();
    await pooled.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(processesMatching(poolRoot)).toEqual([]);
    expect(readdirSync(poolRoot)).toEqual([]);
    pooled = await createRunner({ workRoot: poolRoot, poolSize: 1 });
  });
});
