import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../../functions/runner/cgroup.js';
import { processesMatching, testRunner, type TestRunner } from '../helpers/runner.js';

const SECRET = 'runtools-test-secret-7f3a9c';

describe('bwrap sandbox', () => {
  let t: TestRunner;
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    process.env.RUNTOOLS_TEST_SECRET = SECRET;
    t = await testRunner();
    server = createServer((s) => s.end('reachable\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => {
    delete process.env.RUNTOOLS_TEST_SECRET;
    server.close();
    t.dispose();
  });

  it('gives the program only the minimal environment', async () => {
    const result = await t.run({ runtime: 'python', code: 'import os\nfor k in sorted(os.environ): print(k + "=" + os.environ[k])' });
    expect(result.stdout).not.toContain(SECRET);
    const names = result.stdout.trim().split('\n').map((l) => l.split('=')[0]);
    expect(names).toEqual(expect.arrayContaining(['PATH', 'HOME', 'LANG', 'TMPDIR']));
    // The python runtime's own variables: PYTHON*, and MPLBACKEND (matplotlib draws to files).
    expect(names.every((n) => /^(PATH|HOME|LANG|TMPDIR|PWD|PYTHON\w+|MPLBACKEND)$/.test(n!))).toBe(true);
  });

  it("cannot read the server's environment through /proc", async () => {
    const result = await t.run({
      runtime: 'python',
      code: `import os
found = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            found.append(open(f"/proc/{pid}/environ", "rb").read())
        except OSError:
            pass
print(len([p for p in os.listdir("/proc") if p.isdigit()]), any(b"${SECRET}" in e for e in found))`,
    });
    expect(result.stdout.trim().split(' ')[1]).toBe('False');
    expect(Number(result.stdout.split(' ')[0])).toBeLessThan(5);
  });

  it('sees no host files outside the toolchain directories', async () => {
    const result = await t.run({
      runtime: 'python',
      code: `import os
for p in ["/etc/shadow", "/etc/passwd", "/root/.bashrc", "${process.cwd()}/package.json", "/home", "/var/cache/runtools", "/dev/shm/runtools"]:
    print(p, os.path.exists(p))
print(sorted(os.listdir("/")))`,
    });
    for (const line of result.stdout.trim().split('\n').slice(0, -1)) expect(line).toMatch(/ False$/);
    const top = result.stdout.trim().split('\n').at(-1)!;
    expect(top).not.toContain("'root'");
    expect(top).not.toContain("'home'");
  });

  it('cannot write outside the work dir', async () => {
    const result = await t.run({
      runtime: 'python',
      code: `import os
for p in ["/usr/bin/evil", "/usr/lib/python3/evil.py", "/out/evil", "/etc/evil"]:
    try:
        open(p, "w").write("x"); print(p, "WROTE")
    except OSError as e:
        print(p, "denied")
open("/work/ok.txt", "w").write("fine"); open("/tmp/ok.txt", "w").write("fine")
print("work ok")`,
    });
    expect(result.stdout).not.toContain('WROTE');
    expect(result.stdout).toContain('work ok');
  });

  it('has no network, not even to a server on the host loopback', async () => {
    const result = await t.run({
      runtime: 'python',
      code: `import socket
print(sorted(n for _, n in socket.if_nameindex()))
try:
    s = socket.socket()
    s.settimeout(2)
    s.connect(("127.0.0.1", ${port})); print("CONNECTED")
except OSError as e:
    print("refused", e.errno)
try:
    socket.getaddrinfo("example.com", 80); print("RESOLVED")
except OSError:
    print("no dns")`,
    });
    // EPERM: the seccomp filter refuses inet sockets before the empty network namespace could.
    expect(result.stdout).toBe("['lo']\nrefused 1\nno dns\n");
  });

  it.runIf(cgroupSupport() !== null)('contains a fork bomb, and the host keeps working', async () => {
    const result = await t.run({
      runtime: 'python',
      code: 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass',
      timeout: 3000,
    });
    expect(result.timedOut || result.signal === 'SIGKILL').toBe(true);
    const after = await t.run({ runtime: 'python', code: 'print("alive")' });
    expect(after.stdout).toBe('alive\n');
  });

  it.runIf(cgroupSupport() !== null)('caps the number of processes', async () => {
    const result = await t.run({
      runtime: 'python',
      code: 'import subprocess\nn = 0\ntry:\n    for _ in range(2000):\n        subprocess.Popen(["sleep", "30"]); n += 1\nexcept OSError:\n    pass\nprint(n)',
      timeout: 20_000,
    });
    const started = Number(result.stdout.trim());
    expect(started).toBeGreaterThan(10);
    expect(started).toBeLessThan(300);
  });

  it.runIf(cgroupSupport() !== null)('kills a memory bomb without hurting the host', async () => {
    const result = await t.run({
      runtime: 'python',
      code: 'chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))',
      timeout: 20_000,
    });
    expect(result.exitCode).toBe(137);
    expect(result.signal).toBe('SIGKILL');
    expect(result.timedOut).toBe(false);
    const after = await t.run({ runtime: 'node', code: 'console.log("alive")' });
    expect(after.stdout).toBe('alive\n');
  });

  it('stops a program filling the disk', async () => {
    const result = await t.run({
      runtime: 'python',
      code: 'f = open("/work/big", "wb")\nwhile True:\n    f.write(b"\\0" * (1 << 20))',
      timeout: 20_000,
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.timedOut).toBe(false);
  });

  it('a detached child does not outlive its run', async () => {
    const marker = '987.654';
    const result = await t.run({
      runtime: 'python',
      code: `import subprocess, os
subprocess.Popen(["sleep", "${marker}"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "${marker}1"])
    os._exit(0)
print("parent done")`,
    });
    expect(result.stdout).toBe('parent done\n');
    expect(processesMatching(`sleep ${marker}`)).toEqual([]);
  });

  it('removes the work directory even after a planted symlink', async () => {
    const result = await t.run({
      runtime: 'python',
      code: 'import os\nos.symlink("/usr/bin", "/work/link")\nos.makedirs("/work/a/b")\nos.chmod("/work/a", 0)\nprint("ok")',
    });
    expect(result.stdout).toBe('ok\n');
    expect(await t.leftovers()).toEqual([]);
  });
});

describe('process sandbox', () => {
  let t: TestRunner;
  beforeAll(async () => {
    process.env.RUNTOOLS_TEST_SECRET = SECRET;
    t = await testRunner({ sandbox: 'process' });
  });
  afterAll(() => {
    delete process.env.RUNTOOLS_TEST_SECRET;
    t.dispose();
  });

  it('runs code with a minimal environment', async () => {
    const result = await t.run({ runtime: 'python', code: 'import os\nprint(sorted(os.environ))', env: { MINE: '1' } });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).not.toContain('RUNTOOLS_TEST_SECRET');
    expect(result.stdout).toContain("'MINE'");
  });

  it('compiles and runs Go', async () => {
    const result = await t.run({ runtime: 'go', code: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("go in process mode") }\n' });
    expect(result.stdout).toBe('go in process mode\n');
  });

  it('kills detached survivors after the run', async () => {
    const marker = '876.543';
    const result = await t.run({
      runtime: 'python',
      code: `import subprocess
subprocess.Popen(["sleep", "${marker}"], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("bye")`,
    });
    expect(result.stdout).toBe('bye\n');
    expect(processesMatching(`sleep ${marker}`)).toEqual([]);
  });

  it('times out the whole tree', async () => {
    const result = await t.run({ runtime: 'node', code: "require('child_process').spawn('sleep', ['60']); setTimeout(() => {}, 60000);", timeout: 1000 });
    expect(result).toMatchObject({ timedOut: true, exitCode: 137, signal: 'SIGKILL' });
    expect(await t.leftovers()).toEqual([]);
  });
});
