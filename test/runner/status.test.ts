import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../../functions/runner/cgroup.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

/*
 * Every result says why it ended (`status`) and what it cost (`cpuTime`, `memoryPeak`), from the
 * launcher's wait status, the cgroup's accounting and OOM events, and the supervisor's own kills
 * (API.md "Additions"). In both sandboxes: bwrap (cgroup accounting) and process mode (the
 * launcher's rusage of the whole tree).
 */

const withCgroups = cgroupSupport() !== null;

/** Burns `ms` of CPU time (not wall time) in the calling process. */
const burn = (ms: number) => `import time\nend = time.process_time() + ${ms / 1000}\nwhile time.process_time() < end: pass\n`;

describe.each(['bwrap', 'process'] as const)('result status and accounting (%s)', (sandbox) => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner({ sandbox });
  });
  afterAll(() => t.dispose());

  it('exit(137) is an exit code, not a signal', async () => {
    const r = await t.run({ runtime: 'python', code: 'import sys; sys.exit(137)' });
    expect(r).toMatchObject({ exitCode: 137, signal: null, status: 'runtime_error', timedOut: false });
  });

  it('a signal comes from the wait status', async () => {
    const killed = await t.run({ runtime: 'python', code: 'import os, signal; os.kill(os.getpid(), signal.SIGKILL)' });
    expect(killed).toMatchObject({ exitCode: 137, signal: 'SIGKILL', status: 'runtime_error' });
    const segv = await t.run({ runtime: 'python', code: 'import ctypes; ctypes.string_at(0)' });
    expect(segv).toMatchObject({ exitCode: 139, signal: 'SIGSEGV', status: 'runtime_error' });
    const ok = await t.run({ runtime: 'node', code: 'console.log("fine")' });
    expect(ok).toMatchObject({ exitCode: 0, signal: null, status: 'ok' });
  });

  it('ptrace of the sandbox init is refused and the program ends normally, long before its timeout', async () => {
    const r = await t.run({
      runtime: 'python',
      code: 'import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())\nprint("done")',
      timeout: 20_000,
    });
    expect(r).toMatchObject({ stdout: '-1 1\ndone\n', exitCode: 0, status: 'ok', timedOut: false });
    expect(r.executionTime).toBeLessThan(10_000);
  });

  it('the program cannot kill its launcher through a descriptor owner (F_SETOWN + F_SETSIG SIGKILL) or a /proc pidfd', async () => {
    const r = await t.run({
      runtime: 'python',
      code: `import fcntl, os, signal, sys, time
try:
    signal.pidfd_send_signal(os.open(f"/proc/{os.getppid()}", os.O_RDONLY), signal.SIGKILL); print("SENT")
except OSError as e:
    print("no pidfd signal", e.errno)
r, w = os.pipe()
for cmd, arg in ((fcntl.F_SETOWN, os.getppid()), (fcntl.F_SETOWN, -os.getpgid(os.getppid())), (15, 0)):  # 15: F_SETOWN_EX
    try:
        fcntl.fcntl(r, cmd, arg); print("OWNED", cmd, arg)
    except OSError as e:
        print("refused", cmd, e.errno)
fcntl.fcntl(r, fcntl.F_SETOWN, os.getpid())  # its own process stays allowed
fcntl.fcntl(r, 10, signal.SIGKILL)  # F_SETSIG
time.sleep(0.2)
sys.exit(5)`,
    });
    expect(r.stdout).not.toMatch(/OWNED|SENT/);
    expect(r.stdout).toContain('no pidfd signal 1');
    expect(r.stdout.match(/^refused \d+ 1$/gm)).toHaveLength(3);
    expect(r).toMatchObject({ exitCode: 5, signal: null, status: 'runtime_error' });
  });

  it('timeout and output cap are statuses of their own', async () => {
    const slow = await t.run({ runtime: 'python', code: 'import time; time.sleep(30)', timeout: 300 });
    expect(slow).toMatchObject({ status: 'timeout', timedOut: true, exitCode: 137, signal: 'SIGKILL' });
    const loud = await t.run({ runtime: 'python', code: 'import sys\nwhile True: sys.stdout.write("x" * 65536)' });
    expect(loud).toMatchObject({ status: 'output_limit', truncated: true, timedOut: false });
  });

  it('cpuTime counts the CPU of the whole process tree', async () => {
    const one = await t.run({ runtime: 'python', code: burn(300) });
    expect(one.status).toBe('ok');
    expect(one.cpuTime).toBeGreaterThanOrEqual(300);
    const tree = await t.run({
      runtime: 'python',
      code: `import subprocess, sys\nkids = [subprocess.Popen([sys.executable, "-c", ${JSON.stringify(burn(250))}]) for _ in range(2)]\nfor k in kids: k.wait()\n${burn(100)}`,
    });
    expect(tree.status).toBe('ok');
    expect(tree.cpuTime).toBeGreaterThanOrEqual(600);
    const idle = await t.run({ runtime: 'python', code: 'import time; time.sleep(0.5)' });
    expect(idle.cpuTime).toBeLessThan(300);
  });

  it('memoryPeak covers what the program touched', async () => {
    const r = await t.run({ runtime: 'python', code: 'x = bytearray(200 * 1024 * 1024)\nprint(len(x))' });
    expect(r.status).toBe('ok');
    expect(r.memoryPeak).toBeGreaterThanOrEqual(200 * 1024 * 1024);
    expect(r.memoryPeak).toBeLessThan(512 * 1024 * 1024);
    const small = await t.run({ runtime: 'python', code: 'print(1)' });
    expect(small.memoryPeak).toBeGreaterThan(0);
    expect(small.memoryPeak).toBeLessThan(64 * 1024 * 1024);
  });

  it('a compile has its own status and accounting; a cache hit costs nothing', async () => {
    const code = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("built") }\n';
    const first = await t.run({ runtime: 'go', code });
    expect(first).toMatchObject({ stdout: 'built\n', status: 'ok' });
    expect(first.compile).toMatchObject({ status: 'ok', exitCode: 0 });
    expect(first.compile!.cpuTime).toBeGreaterThan(0);
    expect(first.compile!.memoryPeak).toBeGreaterThan(0);
    expect(first.compile!.cached).toBeUndefined();
    const broken = await t.run({ runtime: 'rust', code: 'fn main() { let x: u32 = "no"; }' });
    expect(broken).toMatchObject({ status: 'compile_error', cpuTime: 0, memoryPeak: 0, signal: null });
    expect(broken.compile).toMatchObject({ status: 'runtime_error' });
    expect(broken.exitCode).not.toBe(0);
  });
});

describe('result status and accounting (bwrap only)', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner({ sandbox: 'bwrap' });
  });
  afterAll(() => t.dispose());

  it.runIf(withCgroups)('an OOM kill is memory_limit, and memoryLimitMb lowers the cap', async () => {
    const hog = 'x = bytearray(200 * 1024 * 1024)\nprint("survived")';
    const capped = await t.run({ runtime: 'python', code: hog, memoryLimitMb: 64 });
    expect(capped).toMatchObject({ status: 'memory_limit', signal: 'SIGKILL', exitCode: 137, timedOut: false, stdout: '' });
    expect(capped.memoryPeak).toBeGreaterThanOrEqual(60 * 1024 * 1024);
    expect(capped.memoryPeak).toBeLessThanOrEqual(64 * 1024 * 1024);
    const roomy = await t.run({ runtime: 'python', code: hog });
    expect(roomy).toMatchObject({ status: 'ok', stdout: 'survived\n' });
  });

  it('a compile cache hit says so, with no CPU spent', async () => {
    const code = 'fn main() { println!("again"); }\n';
    await t.run({ runtime: 'rust', code });
    const hit = await t.run({ runtime: 'rust', code });
    expect(hit.compile).toMatchObject({ status: 'ok', cached: true, cpuTime: 0, memoryPeak: 0 });
  });

  it('the program cannot forge, stop or re-limit the launcher that reports its status', async () => {
    const r = await t.run({
      runtime: 'python',
      code: `import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
for path in ("/proc/1/fd/3", "/proc/1/mem", "/proc/1/environ"):
    try:
        with open(path, "wb" if path.endswith("3") else "rb") as f:
            print("OPENED", path)
    except OSError as e:
        print("refused", path)
for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
    try:
        os.kill(1, sig); print("SIGNALLED", sig)
    except OSError as e:
        print("no signal", e.errno)
class rlimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
lim = rlimit(0, 0)
print("prlimit", libc.prlimit(1, 7, ctypes.byref(lim), None), ctypes.get_errno())
sys.exit(3)`,
    });
    expect(r.stdout).not.toMatch(/OPENED|SIGNALLED/);
    expect(r.stdout).toContain('refused /proc/1/fd/3');
    expect(r.stdout).toContain('refused /proc/1/mem');
    expect(r.stdout).toContain('no signal 1\nno signal 1\nno signal 1');
    expect(r.stdout).toContain('prlimit -1 1');
    expect(r).toMatchObject({ exitCode: 3, signal: null, status: 'runtime_error', timedOut: false });
  });
});
