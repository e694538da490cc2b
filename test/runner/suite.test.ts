import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cgroupSupport } from '../../functions/runner/cgroup.js';
import { SandboxFault } from '../../functions/errors.js';
import { BwrapSandbox } from '../../functions/runner/sandbox/bwrap.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

/*
 * Test suites in the engine (API.md "Test cases"): one compile, each test in a lane's fresh namespaces (or a fresh sandbox), a
 * verdict from the run's status and then the comparison or the checker, results in order.
 */

const withCgroups = cgroupSupport() !== null;

const ADD_GO = 'package main\nimport "fmt"\nfunc main() { var a, b int; fmt.Scan(&a, &b); fmt.Println(a + b) }\n';

let t: TestRunner;
beforeAll(async () => {
  t = await testRunner();
});
afterAll(() => t.dispose());

describe('a suite', () => {
  it('compiles once, runs every test in order and judges each (lines by default)', async () => {
    const compile = vi.spyOn(t.runner as unknown as { compile: (...a: unknown[]) => unknown }, 'compile');
    try {
      const r = await t.run({
        runtime: 'go',
        code: ADD_GO,
        tests: [
          { stdin: '1 2', expectedOutput: '3\n' },
          { name: 'crlf and no final newline', stdin: '2 2', expectedOutput: '4\r\n\r\n' },
          { name: 'wrong', stdin: '2 3', expectedOutput: '6' },
          { stdin: '40 2' },
        ],
      });
      expect(compile).toHaveBeenCalledTimes(1);
      expect(r).toMatchObject({ status: 'ok', exitCode: 1, signal: null, timedOut: false, runtime: 'go', compile: { status: 'ok' } });
      expect(r.tests!.map((x) => [x.name, x.verdict])).toEqual([
        ['test 1', 'passed'],
        ['crlf and no final newline', 'passed'],
        ['wrong', 'wrong_answer'],
        ['test 4', 'passed'],
      ]);
      expect(r.tests![2]).toMatchObject({ stdout: '5\n', exitCode: 0, status: 'ok', diff: { line: 1, expected: '6', actual: '5' } });
      expect(r.tests![3]!.stdout).toBe('42\n');
      expect(r.summary).toMatchObject({ passed: 3, total: 4 });
      expect(r.summary!.maxExecutionTime).toBe(Math.max(...r.tests!.map((x) => x.executionTime)));
      expect(r.cpuTime).toBe(r.tests!.reduce((n, x) => n + x.cpuTime, 0));
      expect(r.memoryPeak).toBe(Math.max(...r.tests!.map((x) => x.memoryPeak)));
      expect(r.memoryPeak).toBeGreaterThan(0);
      expect(await t.leftovers()).toEqual([]);
    } finally {
      compile.mockRestore();
    }
  });

  it('all passing: exitCode 0; top-level stdin, args and timeout are the tests\' defaults', async () => {
    const r = await t.run({
      runtime: 'python',
      code: 'import sys\nprint(input(), *sys.argv[1:])',
      stdin: 'default',
      args: ['a'],
      tests: [{ expectedOutput: 'default a' }, { stdin: 'own', expectedOutput: 'own a' }, { args: ['b', 'c'], expectedOutput: 'default b c' }],
    });
    expect(r.exitCode).toBe(0);
    expect(r.tests!.every((x) => x.verdict === 'passed')).toBe(true);
    expect(r.stdout).toBe('');
    expect(r.compile).toBeUndefined();
  });

  it('a compile error: status compile_error, the compiler output on top, every test skipped', async () => {
    const r = await t.run({ runtime: 'go', code: 'package main\nfunc main() { nope }\n', tests: [{ stdin: '1' }, { stdin: '2' }] });
    expect(r).toMatchObject({ status: 'compile_error', compile: { status: 'runtime_error' } });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/nope|undefined/);
    expect(r.tests!.map((x) => [x.verdict, x.exitCode, x.status])).toEqual([
      ['skipped', -1, 'compile_error'],
      ['skipped', -1, 'compile_error'],
    ]);
    expect(r.summary).toMatchObject({ passed: 0, total: 2 });
  });

  it('a verdict for every way a run ends: timeout, exit(137), a real SIGKILL, output cap, OOM kill', async () => {
    const r = await t.run({
      runtime: 'python',
      memoryLimitMb: 64,
      code: [
        'import os, signal, sys, time',
        'what = input()',
        "if what == 'sleep': time.sleep(10)",
        "if what == 'exit': sys.exit(137)",
        "if what == 'kill': os.kill(os.getpid(), signal.SIGKILL)",
        "if what == 'flood':\n    while True: sys.stdout.write('x' * 65536)",
        "if what == 'oom':\n    b = []\n    while True: b.append(bytearray(16 << 20))",
        'print(what)',
      ].join('\n'),
      tests: [
        { name: 'sleep', stdin: 'sleep', timeout: 500 },
        { name: 'exit', stdin: 'exit' },
        { name: 'kill', stdin: 'kill' },
        { name: 'flood', stdin: 'flood' },
        ...(withCgroups ? [{ name: 'oom', stdin: 'oom' }] : []),
        { name: 'fine', stdin: 'fine', expectedOutput: 'fine' },
      ],
    });
    const by = Object.fromEntries(r.tests!.map((x) => [x.name, x]));
    expect(by.sleep).toMatchObject({ verdict: 'timeout', status: 'timeout', timedOut: true });
    expect(by.exit).toMatchObject({ verdict: 'runtime_error', status: 'runtime_error', exitCode: 137, signal: null });
    expect(by.kill).toMatchObject({ verdict: 'runtime_error', status: 'runtime_error', signal: 'SIGKILL' });
    expect(by.flood).toMatchObject({ verdict: 'output_limit', status: 'output_limit', truncated: true });
    // The response keeps 64 KiB of a test's output; the cap itself is 1 MiB.
    expect(by.flood!.stdout.length).toBeLessThanOrEqual(64 * 1024);
    if (withCgroups) expect(by.oom).toMatchObject({ verdict: 'memory_limit', status: 'memory_limit' });
    expect(by.fine).toMatchObject({ verdict: 'passed' });
    expect(r).toMatchObject({ timedOut: true, truncated: true, exitCode: 1 });
  });

  it('nothing carries over from one test to the next: files, /tmp, processes', async () => {
    const code = [
      'import os, subprocess, sys',
      "if sys.argv[1] == 'leave':",
      "    open('left.txt', 'w').write('x')",
      "    open('/tmp/left.txt', 'w').write('x')",
      "    subprocess.Popen(['sleep', '30'], start_new_session=True)",
      "    print('left')",
      'else:',
      "    seen = [p for p in ('left.txt', '/tmp/left.txt') if os.path.exists(p)]",
      "    procs = [p for p in os.listdir('/proc') if p.isdigit() and 'sleep' in open(f'/proc/{p}/cmdline').read()]",
      "    print('clean' if not seen and not procs else f'dirty {seen} {procs}')",
    ].join('\n');
    const r = await t.run({ runtime: 'python', code, tests: [{ args: ['leave'], expectedOutput: 'left' }, { args: ['look'], expectedOutput: 'clean' }] });
    expect(r.tests!.map((x) => x.stdout)).toEqual(['left\n', 'clean\n']);
    expect(r.exitCode).toBe(0);
  });

  it('stopOnFailure: tests after the first failure are skipped, with why', async () => {
    const r = await t.run({
      runtime: 'python',
      code: 'print(int(input()) * 2)',
      stopOnFailure: true,
      tests: [
        { stdin: '1', expectedOutput: '2' },
        { stdin: '2', expectedOutput: '5' },
        { stdin: '3', expectedOutput: '6' },
      ],
    });
    expect(r.tests!.map((x) => x.verdict)).toEqual(['passed', 'wrong_answer', 'skipped']);
    expect(r.tests![2]).toMatchObject({ exitCode: -1, stdout: '', message: expect.stringMatching(/stopOnFailure/) });
    expect(r.summary).toMatchObject({ passed: 1, total: 3 });
  });

  it('comparison modes: exact, tokens, float', async () => {
    const echo = { runtime: 'python', code: 'import sys\nsys.stdout.write(sys.stdin.read())' } as const;
    const exact = await t.run({ ...echo, compare: 'exact', tests: [{ stdin: 'a\n', expectedOutput: 'a\n' }, { stdin: 'a\r\n', expectedOutput: 'a\n' }] });
    expect(exact.tests!.map((x) => x.verdict)).toEqual(['passed', 'wrong_answer']);
    const tokens = await t.run({ ...echo, compare: 'tokens', tests: [{ stdin: '  1 2\n\n3 ', expectedOutput: '1 2 3' }, { stdin: '1 2', expectedOutput: '1 2 3' }] });
    expect(tokens.tests!.map((x) => x.verdict)).toEqual(['passed', 'wrong_answer']);
    const float = await t.run({
      ...echo,
      compare: { mode: 'float' },
      tests: [
        { stdin: '-0.0 1e-9 3.1415926', expectedOutput: '0 0 3.14159265' },
        { stdin: '0.5 yes', expectedOutput: '0.5 no' },
        { stdin: '1.1', expectedOutput: '1.0' },
      ],
    });
    expect(float.tests!.map((x) => x.verdict)).toEqual(['passed', 'wrong_answer', 'wrong_answer']);
    const loose = await t.run({ ...echo, compare: { mode: 'float', absTol: 0.2 }, tests: [{ stdin: '1.1', expectedOutput: '1.0' }] });
    expect(loose.tests![0]!.verdict).toBe('passed');
  });
});

describe('a checker', () => {
  const doubles = { runtime: 'python', code: 'n = int(input())\nprint(n * 2 if n != 3 else 7)' } as const;

  it('in another runtime: gets input, expected and output as files and arguments; 0 accepts, 1 rejects; its stdout is the message', async () => {
    const checker = [
      'const fs = require("fs");',
      'const [i, e, o] = process.argv.slice(2).map((f) => fs.readFileSync(f, "utf8").trim());',
      'const ok = Number(o) === 2 * Number(i) && e === "any";',
      'console.log(ok ? "ok" : `expected ${2 * Number(i)}, got ${o}`);',
      'process.exit(ok ? 0 : 1);',
    ].join('\n');
    const r = await t.run({
      ...doubles,
      compare: { mode: 'checker', runtime: 'node', code: checker },
      tests: [
        { stdin: '2', expectedOutput: 'any' },
        { stdin: '3', expectedOutput: 'any' },
      ],
    });
    expect(r.tests!.map((x) => [x.verdict, x.message])).toEqual([
      ['passed', 'ok\n'],
      ['wrong_answer', 'expected 6, got 7\n'],
    ]);
  });

  it('a checker that crashes or exits with anything but 0 or 1 is checker_error, not the program\'s fault', async () => {
    const crash = await t.run({ ...doubles, compare: { mode: 'checker', runtime: 'python', code: 'raise SystemExit(3)' }, tests: [{ stdin: '1' }] });
    expect(crash.tests![0]).toMatchObject({ verdict: 'checker_error', status: 'ok', stdout: '2\n', message: expect.stringMatching(/exited with 3/) });
    const killed = await t.run({ ...doubles, compare: { mode: 'checker', runtime: 'python', code: 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)' }, tests: [{ stdin: '1' }] });
    expect(killed.tests![0]).toMatchObject({ verdict: 'checker_error', message: expect.stringMatching(/SIGKILL/) });
    const broken = await t.run({ ...doubles, compare: { mode: 'checker', runtime: 'go', code: 'package main\nfunc main() { nope }\n' }, tests: [{ stdin: '1' }] });
    expect(broken.tests![0]).toMatchObject({ verdict: 'checker_error', message: expect.stringMatching(/checker did not compile/) });
    // A program that fails is judged by its own status before any checker runs.
    const failing = await t.run({ runtime: 'python', code: 'raise SystemExit(2)', compare: { mode: 'checker', runtime: 'python', code: 'raise SystemExit(0)' }, tests: [{}] });
    expect(failing.tests![0]!.verdict).toBe('runtime_error');
  });
});

describe('a suite where no lane can start', () => {
  it('runs each test in a fresh sandbox of its own instead, with the same verdicts', async () => {
    const sandbox = new BwrapSandbox();
    let tried = 0;
    Object.assign(sandbox, {
      lane: async () => {
        tried++;
        throw new SandboxFault('no lane here', { beforeStart: true });
      },
    });
    const f = await testRunner({ sandbox });
    try {
      const code = "import sys\nlane = b'-L' in open('/proc/1/cmdline', 'rb').read().split(b'\\0')\nprint(int(input()) * 2, 'lane' if lane else 'own sandbox')";
      const r = await f.run({ runtime: 'python', code, tests: [{ stdin: '1', expectedOutput: '2 own sandbox' }, { stdin: '2', expectedOutput: '5 own sandbox' }] });
      expect(r.tests!.map((x) => x.verdict)).toEqual(['passed', 'wrong_answer']);
      expect(tried).toBeGreaterThan(0);
      // The same suite on a sandbox with lanes runs in one.
      const laned = await t.run({ runtime: 'python', code, tests: [{ stdin: '1', expectedOutput: '2 lane' }] });
      expect(laned.tests![0]!.verdict).toBe(process.getuid?.() === 0 ? 'passed' : 'wrong_answer');
    } finally {
      await f.runner.close();
      f.dispose();
    }
  });
});

describe('a suite in process mode (the sandbox of Lambda and Fargate), with a binary and with a directory of classes', () => {
  let p: TestRunner;
  beforeAll(async () => {
    p = await testRunner({ sandbox: 'process' });
  });
  afterAll(() => p.dispose());

  it.each([
    ['go', ADD_GO],
    ['java', 'import java.util.Scanner;\npublic class Main { public static void main(String[] a) { Scanner s = new Scanner(System.in); System.out.println(s.nextInt() + s.nextInt()); } }\n'],
  ])('%s', async (runtime, code) => {
    const r = await p.run({ runtime, code, tests: [{ stdin: '1 2', expectedOutput: '3' }, { stdin: '5 5', expectedOutput: '10' }, { stdin: '1 1', expectedOutput: '3' }] });
    expect(r.tests!.map((x) => x.verdict)).toEqual(['passed', 'passed', 'wrong_answer']);
    expect(await p.leftovers()).toEqual([]);
  });
});
