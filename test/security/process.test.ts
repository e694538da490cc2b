import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRunner } from '../helpers/runner.js';
import { attack, expectContained, hostileRunner, newSecret, newTag } from './harness.js';

/*
 * The process sandbox (Lambda, Fargate, or an explicit local opt-in) has no namespaces: programs
 * run as the runner's user with the host's filesystem and network. What it does promise: a
 * minimal environment, rlimits, the output caps and timeout, every process of the execution
 * killed afterwards, and the work dir removed. What it cannot promise is listed in SECURITY.md.
 * Every program here writes only below its own work dir (relative paths), never elsewhere on
 * the host.
 */

const SECRET = newSecret();
const SECRET_NAME = 'RUNTOOLS_SECURITY_PROCESS_SECRET';

let t: TestRunner;
let hostDir: string;

beforeAll(async () => {
  process.env[SECRET_NAME] = SECRET;
  t = await hostileRunner({ sandbox: 'process' });
  hostDir = mkdtempSync(path.join(os.tmpdir(), 'runtools-security-host-'));
  writeFileSync(path.join(hostDir, 'sentinel'), 'keep me');
});

afterAll(() => {
  delete process.env[SECRET_NAME];
  t.dispose();
  rmSync(hostDir, { recursive: true, force: true });
});


describe('process sandbox: hostile programs', () => {
  it.each([
    ['python', 'import os\nprint(sorted(os.environ.items()))\nprint(open(f"/proc/{os.getppid()}/environ", "rb").read())'],
    ['node', "console.log(JSON.stringify(process.env));\nconsole.log(require('fs').readFileSync('/proc/' + process.ppid + '/environ', 'latin1'));"],
  ])("%s: a secret the runner holds is neither in the program's env nor in the runner's /proc environ", async (runtime, code) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code }, (r) => {
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('PATH');
      expect(r.stdout).not.toContain(SECRET);
      expect(r.stdout).not.toContain(SECRET_NAME);
    });
  });

  it.each([
    [
      'python',
      `import os, signal, subprocess, sys
tag = sys.argv[-1]
quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["sleep", tag], start_new_session=True, **quiet)
subprocess.Popen(["nohup", "sleep", tag], **quiet)
subprocess.Popen(["sleep", tag], preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN), **quiet)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", tag])
    os._exit(0)
subprocess.Popen(["sleep", tag], start_new_session=True)
print("parent done")`,
    ],
    [
      'node',
      `const { spawn } = require('child_process');
const tag = process.argv.at(-1);
spawn('sleep', [tag], { detached: true, stdio: 'ignore' }).unref();
spawn('nohup', ['sleep', tag], { detached: true, stdio: 'ignore' }).unref();
spawn('sleep', [tag], { stdio: ['ignore', 'inherit', 'inherit'], detached: true }).unref();
console.log('parent done');`,
    ],
  ])('%s: setsid, double fork, nohup and pipe-holding children are swept', async (runtime, code) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code }, (r) => expect(r.stdout).toBe('parent done\n'));
  });

  it('python: a tree ignoring SIGTERM is swept at the timeout', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        timeout: 1500,
        code: `import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for _ in range(5):
    subprocess.Popen(["sleep", sys.argv[-1]], start_new_session=True)
time.sleep(60)`,
      },
      (r) => expect(r).toMatchObject({ timedOut: true, exitCode: 137 }),
    );
  });

  it('python: links to host files and a tree deeper than PATH_MAX in the work dir are removed without following them', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        code: `import os
host = ${JSON.stringify(hostDir)}
os.symlink(host + "/sentinel", "to-file")
os.symlink(host, "to-dir")
os.link("main.py", "hard")
os.makedirs("locked/inner")
os.chmod("locked/inner", 0)
os.chmod("locked", 0)
here = os.getcwd()
for _ in range(40):
    os.mkdir("d" * 200)
    os.chdir("d" * 200)
os.symlink(host, "deep-link")
os.chdir(here)
print("planted")`,
      },
      (r) => expect(r.stdout).toBe('planted\n'),
    );
    expect(readFileSync(path.join(hostDir, 'sentinel'), 'utf8')).toBe('keep me');
  });

  it.each([
    ['python', 'import sys\nwhile True:\n    sys.stdout.buffer.write(b"\\xff\\xc3" * 65536)'],
    ['node', "const chunk = Buffer.alloc(65536, 'e');\nfor (;;) require('fs').writeSync(2, chunk);"],
  ])('%s: output floods are cut and the program killed', async (runtime, code) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code, timeout: 60_000 }, (r) => {
      const summary = JSON.stringify({ ...r, stdout: r.stdout.slice(0, 200), stderr: r.stderr.slice(0, 200) });
      expect(r, summary).toMatchObject({ truncated: true, timedOut: false, signal: 'SIGKILL' });
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    });
  });

  it('python: descriptor exhaustion stops at the rlimit', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      { runtime: 'python', code: 'import os\nn = 0\ntry:\n    while True:\n        os.open("/dev/null", os.O_RDONLY); n += 1\nexcept OSError:\n    print(n)' },
      (r) => expect(Number(r.stdout)).toBeLessThanOrEqual(1024),
    );
  });

  it('python: a file larger than the size rlimit is refused', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        code: 'import signal\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\ntry:\n    with open("big", "wb") as f:\n        for _ in range(200):\n            f.write(b"\\0" * (1 << 20))\n    print("WROTE")\nexcept OSError as e:\n    print("stopped", e.errno)',
      },
      (r) => expect(r.stdout).toBe('stopped 27\n'),
    );
  });

  it('node: 1 MiB of stdin never read does not deadlock', async () => {
    const tag = newTag();
    await attack(t, tag, { runtime: 'node', code: 'console.log("ignored")', stdin: 'x'.repeat(1024 * 1024) }, (r) =>
      expect(r.stdout).toBe('ignored\n'),
    );
  });

  it('python: files left in the work dir are gone for the next execution', async () => {
    const tag = newTag();
    const first = await t.run({ runtime: 'python', args: [tag], code: 'import os\nopen("left-" + os.path.basename(os.getcwd()), "w").write("x")\nprint(os.getcwd())' });
    // A result returns before its workspace is removed; the Lambda handler waits for that (idle)
    // before it takes the next invocation, as this does.
    await t.runner.idle();
    const next = await t.run({ runtime: 'python', code: `import os\nprint(os.path.exists(${JSON.stringify(first.stdout.trim())}), sorted(os.listdir(".")))` });
    expect(next.stdout).toBe("False ['main.py']\n");
    await expectContained(t, tag);
  });
});
