import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../../functions/runner/cgroup.js';
import { DEFAULT_RUN_LIMITS } from '../../functions/runner/execute.js';
import { BwrapSandbox } from '../../functions/runner/sandbox/bwrap.js';
import type { TestRunner } from '../helpers/runner.js';
import { expectContained, hostileRunner, newTag } from './harness.js';

/*
 * Test suites run in lanes (launch.c -L): one bwrap sandbox runs a suite's tests one after
 * another, its first process keeping the capabilities of its user namespace to give each test
 * fresh mounts. These attacks come from the tests themselves: a test must hold no capability,
 * reach nothing of the lane, and leave nothing for the next test.
 */

const withCgroups = cgroupSupport() !== null;
let t: TestRunner;

beforeAll(async () => {
  t = await hostileRunner();
});

afterAll(async () => {
  await t.runner.close();
  t.dispose();
});

/** Python run as each test: argv[1] says what it does, the last argument is the attack's tag. */
const suite = (code: string, tests: Array<{ args: string[]; stdin?: string; expectedOutput?: string }>, tag: string) => ({
  runtime: 'python' as const,
  code,
  tests: tests.map((x) => ({ ...x, args: [...x.args, tag] })),
});

/** Mount calls that would write through a read-only bind to the host, tried with every capability of the lane's namespace. */
const PROBE = `
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
static void try(const char *what, int r) { printf("%s %s\\n", what, r == 0 ? "DONE" : (errno == EPERM || errno == EINVAL) ? "refused" : "error"); }
int main(void) {
  try("remount /usr read-write", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL));
  try("unmount /work", umount2("/work", MNT_DETACH));
  if (unshare(CLONE_NEWNS) != 0) { printf("unshare failed\\n"); return 1; }
  try("in a new mount namespace: remount /usr read-write", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL));
  try("in a new mount namespace: unmount /work", umount2("/work", MNT_DETACH));
  try("in a new mount namespace: a tmpfs on /tmp", mount("x", "/tmp", "tmpfs", 0, "size=1m"));
  return 0;
}
`;

describe('the lane itself', () => {
  it('holds capabilities only over mounts of its own: the read-only binds stay read-only and in place, even for it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-lane-probe-'));
    writeFileSync(path.join(dir, 'probe.c'), PROBE);
    execFileSync('cc', ['-static', '-O1', '-o', path.join(dir, 'probe'), path.join(dir, 'probe.c')], { stdio: 'ignore' });
    for (const d of ['work', 'out']) mkdirSync(path.join(dir, d));
    const sandbox = new BwrapSandbox();
    // The lane's own command line, with the probe in the launcher's place.
    const args = (sandbox as unknown as { sandboxArgs(o: object): string[] }).sandboxArgs({
      limits: DEFAULT_RUN_LIMITS,
      tools: [{ runtime: 'python', tool: { root: '/usr', bin: '/usr/bin/python3' } }],
      readOnlyPaths: [],
      dirs: { work: path.join(dir, 'work'), out: path.join(dir, 'out'), tmp: path.join(dir, 'tmp') },
      writableOut: false,
      cwd: '/work',
      lane: true,
    });
    // Bound before the root turns read-only, as the launcher is.
    const root = args.findIndex((a, i) => a === '--remount-ro' && args[i + 1] === '/');
    args.splice(root, 0, '--ro-bind', path.join(dir, 'probe'), '/opt/probe');
    const out = execFileSync('bwrap', [...args, '--', '/opt/probe'], { encoding: 'utf8' });
    expect(out.split('\n')).toEqual([
      'remount /usr read-write refused',
      'unmount /work refused',
      'in a new mount namespace: remount /usr read-write refused',
      'in a new mount namespace: unmount /work refused',
      // What a lane does for each test: mounting on top, in a mount namespace of the test's own.
      'in a new mount namespace: a tmpfs on /tmp DONE',
      '',
    ]);
  });
});

describe('a test in a lane', () => {
  it('runs in a lane, with no capability, no new privileges, under seccomp, and cannot mount, unshare or reach the lane', async () => {
    const tag = newTag();
    const code = [
      'import ctypes, os, signal',
      'libc = ctypes.CDLL(None, use_errno=True)',
      "status = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)",
      "caps = {k: int(status[k], 16) for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')}",
      "print('lane' if b'-L' in open('/proc/1/cmdline', 'rb').read().split(b'\\0') else 'no lane')",
      "print('caps', sum(caps.values()), 'nnp', status['NoNewPrivs'].strip(), 'seccomp', status['Seccomp'].strip())",
      "print('mount', libc.mount(b'x', b'/work', b'tmpfs', 0, None), ctypes.get_errno() != 0)",
      "print('unshare', libc.unshare(0x00020000))",  // CLONE_NEWNS
      "print('setns', libc.setns(os.open('/proc/1/ns/mnt', os.O_RDONLY) if os.path.exists('/proc/1/ns/mnt') else -1, 0))",
      'for pid in (1, -1):',
      '    try:',
      '        os.kill(pid, signal.SIGKILL)',
      "        print('killed', pid)",
      '    except PermissionError:',
      "        print('kill', pid, 'refused')",
      "for f in ('/proc/1/environ', '/proc/1/mem', '/proc/1/root/opt', '/proc/1/fd/0'):",
      '    try:',
      '        open(f, "rb").read(1) if not f.endswith("/opt") else os.listdir(f)',
      "        print('read', f)",
      '    except OSError:',
      "        print('no', f)",
      "try:",
      "    open('/out/x', 'w')",
      "    print('wrote /out')",
      "except OSError:",
      "    print('/out read-only')",
    ].join('\n');
    const r = await t.run(suite(code, [{ args: ['a'] }, { args: ['b'] }], tag));
    const expected = [
      'lane',
      'caps 0 nnp 1 seccomp 2',
      'mount -1 True',
      'unshare -1',
      'setns -1',
      'kill 1 refused',
      'kill -1 refused',
      'no /proc/1/environ',
      'no /proc/1/mem',
      'no /proc/1/root/opt',
      'no /proc/1/fd/0',
      '/out read-only',
      '',
    ].join('\n');
    expect(r.tests!.map((x) => x.stdout)).toEqual([expected, expected]);
    expect(r.tests!.map((x) => x.status)).toEqual(['ok', 'ok']);
    await expectContained(t, tag);
  });

  it('leaves nothing for the next: files (its own program too), /tmp, /dev/shm, System V IPC, an abstract socket, processes', async () => {
    const tag = newTag();
    const code = [
      'import ctypes, os, socket, subprocess, sys, time',
      'libc = ctypes.CDLL(None, use_errno=True)',
      "if sys.argv[1] == 'leave':",
      "    open(__file__, 'w').write('print(\"tampered\")\\n')",
      "    for f in ('left.txt', '/tmp/left.txt', '/dev/shm/left.txt'): open(f, 'w').write('x')",
      '    print(libc.shmget(0x5eed, 4096, 0o1666) >= 0)',  // IPC_CREAT | 0666
      '    s = socket.socket(socket.AF_UNIX); s.bind(b"\\0runtools-lane-test"); s.listen()',
      // A daemon in a session of its own, its parent gone: it would tamper with the next test's files.
      "    subprocess.Popen(['sh', '-c', 'while :; do echo tampered > /work/main.py; sleep 0.01; done', sys.argv[-1]], start_new_session=True, stdout=subprocess.DEVNULL)",
      '    time.sleep(0.2)',
      "    print('left')",
      'else:',
      "    seen = [f for f in ('left.txt', '/tmp/left.txt', '/dev/shm/left.txt') if os.path.exists(f)]",
      '    shm = libc.shmget(0x5eed, 0, 0)',
      '    c = socket.socket(socket.AF_UNIX)',
      '    try:',
      '        c.connect(b"\\0runtools-lane-test"); sock = "connected"',
      '    except OSError:',
      '        sock = "refused"',
      "    procs = sorted(open(f'/proc/{p}/comm').read().strip() for p in os.listdir('/proc') if p.isdigit())",
      "    print(seen, shm, sock, [p for p in procs if p != '.launch' and not p.startswith('python3')])",
    ].join('\n');
    const r = await t.run(
      suite(code, [{ args: ['leave'] }, { args: ['look'] }, { args: ['look'] }], tag),
    );
    expect(r.tests!.map((x) => x.stdout)).toEqual(['True\nleft\n', '[] -1 refused []\n', '[] -1 refused []\n']);
    await expectContained(t, tag);
  });

  it('a daemon holding the output open does not hold the test: it ends with its program and its output is whole', async () => {
    const tag = newTag();
    const code = "import subprocess, sys\nsubprocess.Popen(['sleep', '60', sys.argv[-1]])\nprint(sys.stdin.read().count('x'))";
    const started = performance.now();
    const r = await t.run({ ...suite(code, [{ args: [], stdin: 'x'.repeat(1 << 20) }], tag), timeout: 20_000 });
    expect(r.tests![0]).toMatchObject({ stdout: `${1 << 20}\n`, status: 'ok', timedOut: false });
    // Well before the 60 s sleep and the 20 s timeout.
    expect(performance.now() - started).toBeLessThan(15_000);
    await expectContained(t, tag);
  });

  it('a program that signals its own process group kills only itself: a runtime error, not a failure of the lane', async () => {
    const tag = newTag();
    const code = "import os, signal, sys\nif sys.argv[1] == 'group': os.kill(0, signal.SIGKILL)\nprint('fine')";
    const r = await t.run(suite(code, [{ args: ['group'] }, { args: ['after'], expectedOutput: 'fine' }], tag));
    expect(r.tests!.map((x) => [x.verdict, x.signal])).toEqual([['runtime_error', 'SIGKILL'], ['passed', null]]);
    await expectContained(t, tag);
  });

  it('a checker in a lane gets each test\'s own input, expected and output, and nothing of the checks before', async () => {
    const tag = newTag();
    const checker = [
      'import os, sys',
      "i, e, o = (open(f).read() for f in sys.argv[1:4])",
      "left = os.path.exists('left.txt')",
      "open('left.txt', 'w').write('x')",
      "open('input', 'w').write('overwritten')",
      "lane = b'-L' in open('/proc/1/cmdline', 'rb').read().split(b'\\0')",
      "print(repr((i, e, o.strip())), 'left' if left else 'clean', 'lane' if lane else 'no lane')",
      'sys.exit(0 if int(o) == 2 * int(i) and not left else 1)',
    ].join('\n');
    const r = await t.run({
      runtime: 'python',
      code: 'print(2 * int(input()))',
      compare: { mode: 'checker', runtime: 'python', code: checker },
      tests: [1, 2, 3].map((n) => ({ stdin: String(n), expectedOutput: `e${n}`, args: [tag] })),
    });
    expect(r.tests!.map((x) => [x.verdict, x.message])).toEqual(
      [1, 2, 3].map((n) => ['passed', `('${n}', 'e${n}', '${2 * n}') clean lane\n`]),
    );
    await expectContained(t, tag);
  });

  it.runIf(withCgroups)('a test that fills its memory with files is memory_limit, and the next test runs as usual', async () => {
    const tag = newTag();
    const code = [
      'import sys',
      "if sys.argv[1] == 'fill':",
      "    with open('/work/fill', 'wb') as f:",
      '        for _ in range(200): f.write(b"x" * (1 << 20))',
      "print('fine')",
    ].join('\n');
    const r = await t.run({ ...suite(code, [{ args: ['fill'] }, { args: ['after'], expectedOutput: 'fine' }], tag), memoryLimitMb: 64 });
    expect(r.tests!.map((x) => x.verdict)).toEqual(['memory_limit', 'passed']);
    await expectContained(t, tag);
  });
});
