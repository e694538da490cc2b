import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../../functions/runner/cgroup.js';
import type { TestRunner } from '../helpers/runner.js';
import { attack, expectContained, hasIpv6Loopback, hostileRunner, loopbackService, newSecret, newTag, secretHolder, tally } from './harness.js';

/*
 * Hostile programs against the local default: the bwrap sandbox. Each attack runs as a real
 * execution and ends with expectContained: no process of it survives, the work root is empty,
 * and a normal execution works afterwards.
 */

const SECRET = newSecret();
const SECRET_NAME = 'RUNTOOLS_SECURITY_SECRET';
const withCgroups = cgroupSupport() !== null;
const repo = process.cwd();

let t: TestRunner;
let holder: ReturnType<typeof secretHolder>;
let service: Awaited<ReturnType<typeof loopbackService>>;
let service6: Awaited<ReturnType<typeof loopbackService>> | null = null;
let hostDir: string;

beforeAll(async () => {
  process.env[SECRET_NAME] = SECRET;
  holder = secretHolder(SECRET_NAME, SECRET);
  t = await hostileRunner();
  service = await loopbackService('127.0.0.1');
  if (await hasIpv6Loopback()) service6 = await loopbackService('::1');
  // Host files the attacks aim links at: they must be intact after every cleanup.
  hostDir = mkdtempSync(path.join(os.tmpdir(), 'runtools-security-host-'));
  writeFileSync(path.join(hostDir, 'sentinel'), 'keep me');
  mkdirSync(path.join(hostDir, 'tree'));
  writeFileSync(path.join(hostDir, 'tree', 'leaf'), 'keep me too');
});

afterAll(() => {
  delete process.env[SECRET_NAME];
  holder.stop();
  service.close();
  service6?.close();
  t.dispose();
  rmSync(hostDir, { recursive: true, force: true });
  console.log(`bwrap attacks: ${tally.contained}/${tally.attacks} contained`);
});


describe('secrets', () => {
  const dumpPython = `import os
print("self", sorted(os.environ.items()))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for f in ("environ", "cmdline"):
            try:
                print(pid, f, open(f"/proc/{pid}/{f}", "rb").read())
            except OSError as e:
                print(pid, f, e)`;
  const dumpNode = `const fs = require('fs');
console.log('self', JSON.stringify(process.env));
for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
  for (const f of ['environ', 'cmdline']) {
    try { console.log(pid, f, fs.readFileSync('/proc/' + pid + '/' + f, 'latin1')); } catch (e) { console.log(pid, f, e.code); }
  }
}`;

  it.each([
    ['python', dumpPython],
    ['node', dumpNode],
  ])('%s: the server environment is not in its env nor in any /proc/<pid>/environ it can see', async (runtime, code) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code }, (r) => {
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('PATH');
      expect(r.stdout).not.toContain(SECRET);
      expect(r.stdout).not.toContain(SECRET_NAME);
      expect(r.stdout).not.toContain(holder.tag);
    });
  });

  const secretPaths = () => [
    '/etc/shadow',
    '/etc/passwd',
    '/etc/hostname',
    '/root/.bashrc',
    '/root',
    '/home',
    `${repo}/package.json`,
    `${repo}/.git/config`,
    '/var/cache/runtools/go-build',
    '/dev/shm/runtools',
    t.workRoot,
    hostDir,
    `/proc/${process.pid}/environ`,
    `/proc/${holder.child.pid}/environ`,
    '/proc/1/root/etc/shadow',
    '/proc/kcore',
    '/sys/class/net',
    '/sys/fs/cgroup',
    '/dev/vda',
    '/dev/sda',
    '/dev/mem',
    '/boot',
  ];

  it('python: host files, homes, the repo and other devices are out of reach', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        code: `import os, json
for p in json.loads(${JSON.stringify(JSON.stringify(secretPaths()))}):
    try:
        if os.path.isdir(p):
            print("LISTED", p, os.listdir(p))
        else:
            print("READ", p, open(p, "rb").read(64))
    except OSError as e:
        print("denied", p, e.errno)`,
      },
      (r) => {
        expect(r.exitCode).toBe(0);
        expect(r.stdout).not.toMatch(/^(READ|LISTED)/m);
        expect(r.stdout).not.toContain(SECRET);
      },
    );
  });

  it('go: host files, homes, the repo and other devices are out of reach', async () => {
    const tag = newTag();
    const paths = secretPaths().map((p) => JSON.stringify(p)).join(', ');
    await attack(t, 
      tag,
      {
        runtime: 'go',
        code: `package main

import (
	"fmt"
	"os"
)

func main() {
	for _, p := range []string{${paths}} {
		if entries, err := os.ReadDir(p); err == nil {
			fmt.Println("LISTED", p, len(entries))
		} else if data, err := os.ReadFile(p); err == nil {
			fmt.Println("READ", p, len(data))
		} else {
			fmt.Println("denied", p)
		}
	}
}
`,
      },
      (r) => {
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toContain('denied /etc/shadow');
        expect(r.stdout).not.toMatch(/^(READ|LISTED)/m);
      },
    );
  });
});

describe('writing outside the work dir', () => {
  const targets = ['/usr/bin/runtools-evil', '/usr/lib/runtools-evil', '/etc/runtools-evil', '/runtools-evil', '/out/evil', '/opt/runtools/node/evil', '/sys/fs/cgroup/evil', '/dev/evil', '/proc/1/root/usr/bin/runtools-evil'];
  // Host-global settings a uid-0 program could reach through /proc. The attack writes back the
  // value it read, so even a failing test leaves the host as it was.
  const sysctls = ['/proc/sys/kernel/core_pattern', '/proc/sys/kernel/modprobe', '/proc/sys/fs/file-max', '/proc/sys/kernel/hostname', '/proc/self/oom_score_adj'];
  const corePattern = existsSync('/proc/sys/kernel/core_pattern') ? readFileSync('/proc/sys/kernel/core_pattern', 'utf8') : null;

  it('python: no write, chmod, remount or mount succeeds, and the program holds no capability', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        code: `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for p in ${JSON.stringify(targets)}:
    try:
        with open(p, "a") as f:
            f.write("x")
        print("WROTE", p)
    except OSError as e:
        print("denied", p, e.errno)
for p in ${JSON.stringify(sysctls)}:
    try:
        value = open(p).read()
        with open(p, "w") as f:
            f.write(value)
        print("WROTE", p)
    except OSError as e:
        print("denied", p, e.errno)
for p in ["/usr/bin/python3", "/usr", "/out", "/"]:
    try:
        os.chmod(p, 0o777); print("CHMOD", p)
    except OSError as e:
        print("denied chmod", p, e.errno)
MS_REMOUNT, MS_BIND = 32, 4096
for p in [b"/usr", b"/out", b"/", b"/etc/ld.so.cache"]:
    r = libc.mount(b"none", p, None, MS_REMOUNT | MS_BIND, None)
    print("REMOUNTED" if r == 0 else "denied remount", p, ctypes.get_errno())
r = libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)
print("MOUNTED" if r == 0 else "denied mount", ctypes.get_errno())
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
r = libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)
print("UNSHARED" if r == 0 else "denied unshare", ctypes.get_errno())
print([l.split() for l in open("/proc/self/status") if l.startswith("Cap")])`,
      },
      (r) => {
        expect(r.exitCode).toBe(0);
        expect(r.stdout).not.toMatch(/^(WROTE|CHMOD|REMOUNTED|MOUNTED|UNSHARED)/m);
        for (const cap of ['CapPrm:', 'CapEff:', 'CapBnd:', 'CapAmb:']) expect(r.stdout).toContain(`['${cap}', '0000000000000000']`);
      },
    );
    for (const p of targets.filter((p) => p.includes('runtools-evil'))) expect(existsSync(p)).toBe(false);
    if (corePattern !== null) expect(readFileSync('/proc/sys/kernel/core_pattern', 'utf8')).toBe(corePattern);
  });

  it('node: no write outside the work dir and /tmp', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'node',
        code: `const fs = require('fs');
for (const p of ${JSON.stringify(targets)}) {
  try { fs.appendFileSync(p, 'x'); console.log('WROTE', p); } catch (e) { console.log('denied', p, e.code); }
}
for (const p of ${JSON.stringify(sysctls)}) {
  try { fs.writeFileSync(p, fs.readFileSync(p)); console.log('WROTE', p); } catch (e) { console.log('denied', p, e.code); }
}
for (const p of ['/opt/runtools/node', process.execPath]) {
  try { fs.chmodSync(p, 0o777); console.log('CHMOD', p); } catch (e) { console.log('denied chmod', p, e.code); }
}
fs.writeFileSync('/work/ok', 'fine'); fs.writeFileSync('/tmp/ok', 'fine'); console.log('inside ok');`,
      },
      (r) => {
        expect(r.stdout).toContain('inside ok');
        expect(r.stdout).not.toMatch(/^(WROTE|CHMOD)/m);
      },
    );
  });

  it('rust: a build script (code run at compile time) cannot write outside the work and out dirs', async () => {
    const tag = newTag();
    const buildRs = `use std::fs;
fn main() {
    for p in ${JSON.stringify(targets.slice(0, 4))} {
        match fs::write(p, "x") { Ok(_) => println!("cargo:warning=WROTE {}", p), Err(_) => {} }
    }
    let _ = fs::remove_dir_all("/work/src");
}
`;
    await attack(t, 
      tag,
      {
        runtime: 'rust',
        files: {
          'Cargo.toml': '[package]\nname = "main"\nversion = "0.1.0"\nedition = "2021"\nbuild = "build.rs"\n',
          'build.rs': buildRs,
          'src/main.rs': 'fn main() { println!("built"); }\n',
        },
      },
      (r) => {
        expect(`${r.compile?.stderr ?? ''}${r.compile?.stdout ?? ''}`).not.toContain('WROTE');
      },
    );
    for (const p of targets.slice(0, 4)) expect(existsSync(p)).toBe(false);
  });
});

describe('links planted for the cleanup to follow', () => {
  it('python: symlinks, hardlinks, unreadable folders, a tree deeper than PATH_MAX, odd names', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        code: `import os, socket
host = ${JSON.stringify(hostDir)}
os.symlink(host + "/sentinel", "/work/to-file")
os.symlink(host + "/tree", "/work/to-dir")
os.symlink(host, "/work/to-host-dir")
os.symlink("/", "/work/to-root")
os.symlink("/work/loop", "/work/loop")
os.makedirs("/work/sub")
os.symlink(host + "/tree", "/work/sub/tree")
for src in ["/usr/bin/python3", "/etc/ld.so.cache", "/proc/self/exe"]:
    try:
        os.link(src, "/work/hard"); print("LINKED", src)
    except OSError as e:
        print("denied link", src, e.errno)
os.mkfifo("/work/fifo")
socket.socket(socket.AF_UNIX).bind("/work/sock")
os.mkdir(b"/work/\\xff\\xfe"); open(b"/work/\\xff\\xfe/\\xc3", "w").write("x")
os.makedirs("/work/locked/inner"); open("/work/locked/inner/f", "w").write("x")
os.chmod("/work/locked/inner", 0); os.chmod("/work/locked", 0)
os.chdir("/work")
for _ in range(40):
    os.mkdir("d" * 200); os.chdir("d" * 200)
os.symlink(host + "/sentinel", "deep-link")
print("planted")`,
      },
      (r) => {
        expect(r.stdout).toContain('planted');
        expect(r.stdout).not.toContain('LINKED');
      },
    );
    expect(readFileSync(path.join(hostDir, 'sentinel'), 'utf8')).toBe('keep me');
    expect(readFileSync(path.join(hostDir, 'tree', 'leaf'), 'utf8')).toBe('keep me too');
    expect(statSync(hostDir).mode & 0o777).toBe(0o700);
  });

  it('node: links and a deep tree, with the program killed at the timeout', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'node',
        timeout: 2000,
        code: `const fs = require('fs');
fs.symlinkSync(${JSON.stringify(hostDir)}, '/work/host');
fs.symlinkSync(${JSON.stringify(path.join(hostDir, 'sentinel'))}, '/work/file');
process.chdir('/work');
for (let i = 0; i < 30; i++) { fs.mkdirSync('n'.repeat(250)); process.chdir('n'.repeat(250)); }
fs.symlinkSync(${JSON.stringify(hostDir)}, 'deep');
console.log('planted');
setInterval(() => {}, 1000);`,
      },
      (r) => {
        expect(r.stdout).toBe('planted\n');
        expect(r.timedOut).toBe(true);
      },
    );
    expect(readFileSync(path.join(hostDir, 'sentinel'), 'utf8')).toBe('keep me');
    expect(readFileSync(path.join(hostDir, 'tree', 'leaf'), 'utf8')).toBe('keep me too');
  });
});

describe('network', () => {
  const pythonNet = (port: number, port6: number | null) => `import errno, socket
print("interfaces", sorted(n for _, n in socket.if_nameindex()))
targets = [("127.0.0.1", ${port}, socket.AF_INET), ("127.1.2.3", ${port}, socket.AF_INET)]
if ${port6 ?? 0}:
    targets.append(("::1", ${port6 ?? 0}, socket.AF_INET6))
for host, port, fam in targets:
    try:
        s = socket.socket(fam)
        s.settimeout(2)
        s.connect((host, port)); print("CONNECTED", host, s.recv(100))
    except OSError as e:
        print("refused", host, errno.errorcode.get(e.errno))
try:
    print("RESOLVED", socket.getaddrinfo("runtools-test.invalid", 80))
except OSError:
    print("no dns")
for fam, typ in [(socket.AF_PACKET, socket.SOCK_RAW), (socket.AF_INET, socket.SOCK_RAW)]:
    try:
        socket.socket(fam, typ, 0); print("RAW SOCKET", fam)
    except OSError as e:
        print("no raw", fam)`;

  it('python: host loopback services (v4 and v6) and DNS are unreachable; no inet or raw sockets at all', async () => {
    const tag = newTag();
    await attack(t, tag, { runtime: 'python', code: pythonNet(service.port, service6?.port ?? null) }, (r) => {
      expect(r.stdout).toContain("interfaces ['lo']");
      // The seccomp filter refuses the socket itself; the network namespace would refuse the connection.
      expect(r.stdout).toContain('refused 127.0.0.1 EPERM');
      expect(r.stdout).toContain('refused 127.1.2.3 EPERM');
      expect(r.stdout).toContain('no dns');
      expect(r.stdout).not.toMatch(/CONNECTED|RESOLVED|RAW SOCKET/);
    });
  });

  it('node: host loopback services and DNS are unreachable', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'node',
        code: `const net = require('net'); const dns = require('dns');
const tryConnect = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port, timeout: 2000 });
  s.on('connect', () => { console.log('CONNECTED', host); s.destroy(); resolve(); });
  s.on('error', (e) => { console.log('refused', host, e.code); resolve(); });
  s.on('timeout', () => { console.log('timeout', host); s.destroy(); resolve(); });
});
(async () => {
  await tryConnect('127.0.0.1', ${service.port});
  ${service6 ? `await tryConnect('::1', ${service6.port});` : ''}
  await new Promise((r) => dns.lookup('runtools-test.invalid', (err) => { console.log(err ? 'no dns' : 'RESOLVED'); r(); }));
  console.log('ifaces', Object.keys(require('os').networkInterfaces()));
})();`,
      },
      (r) => {
        expect(r.stdout).toContain('refused 127.0.0.1 EPERM');
        expect(r.stdout).toContain('no dns');
        expect(r.stdout).not.toMatch(/CONNECTED|RESOLVED/);
      },
    );
  });
});

describe('resource exhaustion', () => {
  it.runIf(withCgroups)('node: a process bomb hits the pids limit and leaves nothing behind', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'node',
        timeout: 4000,
        code: `const { spawn } = require('child_process');
const tag = process.argv.at(-1);
function bomb() {
  for (let i = 0; i < 50; i++) {
    try { spawn('/usr/bin/sleep', [tag], { stdio: 'ignore', detached: true }).on('error', () => {}); } catch {}
  }
  setImmediate(bomb);
}
bomb();`,
      },
      (r) => expect(r.timedOut || r.signal === 'SIGKILL').toBe(true),
    );
  });

  it.runIf(withCgroups)('python: a thread bomb stops at the pids limit', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        timeout: 10_000,
        code: `import threading, time
n = 0
try:
    while True:
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start(); n += 1
except RuntimeError:
    pass
print(n)`,
      },
      (r) => {
        expect(r.exitCode).toBe(0);
        expect(Number(r.stdout)).toBeGreaterThan(10);
        expect(Number(r.stdout)).toBeLessThan(300);
      },
    );
  });

  it.runIf(withCgroups)('go: a thread bomb (locked OS threads) dies at the pids limit', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'go',
        timeout: 10_000,
        code: `package main

import (
	"runtime"
	"time"
)

func main() {
	for {
		go func() {
			runtime.LockOSThread()
			time.Sleep(time.Hour)
		}()
	}
}
`,
      },
      (r) => expect(r.exitCode).not.toBe(0),
    );
  });

  it.runIf(withCgroups)('node: a memory bomb outside the heap is killed by the memory limit', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      { runtime: 'node', timeout: 30_000, code: 'const keep = [];\nfor (;;) keep.push(Buffer.alloc(64 * 1024 * 1024, 1));' },
      (r) => {
        expect(r.exitCode).not.toBe(0);
        expect(r.timedOut).toBe(false);
      },
    );
  });

  it.runIf(withCgroups)('go: a memory bomb is killed by the memory limit', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'go',
        timeout: 30_000,
        code: `package main

func main() {
	var keep [][]byte
	for {
		b := make([]byte, 64<<20)
		for i := range b {
			b[i] = 1
		}
		keep = append(keep, b)
	}
}
`,
      },
      (r) => {
        expect(r.exitCode).not.toBe(0);
        expect(r.timedOut).toBe(false);
      },
    );
  });

  it.runIf(withCgroups)('python: filling the work dir with many large files is stopped by the memory limit', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        timeout: 30_000,
        code: `n = 0
try:
    while True:
        with open(f"/work/fill{n}", "wb") as f:
            f.write(b"x" * (32 << 20))
        n += 1
except OSError as e:
    print("stopped", n, e.errno)`,
      },
      (r) => {
        expect(r.timedOut).toBe(false);
        expect(r.exitCode === 137 || /stopped/.test(r.stdout)).toBe(true);
      },
    );
  });

  it('node: filling /tmp and /dev/shm stops at their size', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'node',
        timeout: 30_000,
        code: `const fs = require('fs');
for (const dir of ['/tmp', '/dev/shm']) {
  let n = 0;
  try { for (;;) { fs.writeFileSync(dir + '/f' + n, Buffer.alloc(16 << 20, 1)); n++; } } catch (e) { console.log(dir, n, e.code); }
}`,
      },
      (r) => {
        // Both tmpfs together exceed the memory limit they are charged to: ENOSPC or the OOM killer.
        expect(r.stdout).toMatch(/^\/tmp \d+ ENOSPC$/m);
        expect(r.exitCode === 137 || /^\/dev\/shm \d+ ENOSPC$/m.test(r.stdout)).toBe(true);
      },
    );
  });

  it('python: tens of thousands of small files in the work dir and /tmp are all removed', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        timeout: 20_000,
        code: `import os
for d in ["/work/many", "/tmp/many"]:
    os.mkdir(d)
    for i in range(20000):
        open(f"{d}/{i}", "w").close()
print(len(os.listdir("/work/many")) + len(os.listdir("/tmp/many")))`,
      },
      (r) => expect(r.stdout).toBe('40000\n'),
    );
  });

  it.each([
    ['python', 'import os\nfds = []\ntry:\n    while True:\n        fds.append(os.open("/dev/null", os.O_RDONLY))\nexcept OSError as e:\n    print(len(fds), e.errno)'],
    ['node', "const fs = require('fs');\nlet n = 0;\ntry { for (;;) { fs.openSync('/dev/null', 'r'); n++; } } catch (e) { console.log(n, e.code); }"],
  ])('%s: descriptor exhaustion stops at the limit', async (runtime, code) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code }, (r) => {
      expect(r.exitCode).toBe(0);
      expect(Number(r.stdout.split(' ')[0])).toBeLessThanOrEqual(1024);
      expect(r.stdout).toMatch(/24|EMFILE/);
    });
  });

  it('python: huge argv and environment to exec are refused by the kernel, nothing breaks', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        code: `import os
for argv, env in [(["true"] + ["a" * 100000] * 400, {}), (["true"], {f"V{i}": "b" * 100000 for i in range(400)})]:
    try:
        pid = os.fork()
        if pid == 0:
            try:
                os.execve("/usr/bin/true", argv, env)
            except OSError as e:
                os._exit(e.errno)
        print(os.waitpid(pid, 0)[1] >> 8)
    except OSError as e:
        print("fork", e)`,
      },
      (r) => expect(r.stdout).toBe('7\n7\n'),
    );
  });

  it('a request with a huge argv and env is refused by validation, one just under the bound runs', async () => {
    const big = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`BIG_${i}`, 'e'.repeat(8000)]));
    // 4.8 MB of strings: more than an exec takes. A 400 naming the bound, never an exec that fails.
    await expect((async () => t.run({ runtime: 'python', code: 'print(1)', args: Array.from({ length: 300 }, () => 'a'.repeat(8000)), env: big }))()).rejects.toThrow(
      /args and env together are \d+ bytes; at most 1048576/,
    );
    const tag = newTag();
    const env = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`BIG_${i}`, 'e'.repeat(8000)]));
    await attack(
      t,
      tag,
      { runtime: 'python', code: 'import sys, os\nprint(len(sys.argv), len(os.environ) >= 60)', args: Array.from({ length: 60 }, () => 'a'.repeat(8000)), env },
      (r) => expect(r.stdout).toBe('62 True\n'),
    );
  });
});

describe('output floods', () => {
  const MiB = 1024 * 1024;
  const floods: Array<[string, string, string, 'stdout' | 'stderr']> = [
    ['python', 'stdout with newlines', 'import sys\nwhile True:\n    sys.stdout.write("flood\\n" * 1000)', 'stdout'],
    ['python', 'stderr without newlines', 'import sys\nwhile True:\n    sys.stderr.write("x" * 65536)', 'stderr'],
    ['python', 'invalid UTF-8', 'import sys\nwhile True:\n    sys.stdout.buffer.write(b"\\xff\\xfe\\xc3\\x28\\xe2\\x82" * 10000)', 'stdout'],
    ['node', 'stdout without newlines', "const s = 'y'.repeat(65536);\nfor (;;) process.stdout.write(s);", 'stdout'],
    ['node', 'split multibyte characters on stderr', "const b = Buffer.from('€😀'.repeat(20000));\nfor (;;) require('fs').writeSync(2, b.subarray(1));", 'stderr'],
    ['go', 'stdout from a busy loop', 'package main\n\nimport "os"\n\nfunc main() {\n\tb := make([]byte, 1<<16)\n\tfor i := range b {\n\t\tb[i] = 0xff\n\t}\n\tfor {\n\t\tos.Stdout.Write(b)\n\t}\n}\n', 'stdout'],
  ];

  it.each(floods)('%s: %s is cut at the cap and the program killed', async (runtime, _name, code, stream) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code, timeout: 20_000 }, (r) => {
      expect(r.truncated).toBe(true);
      expect(r.timedOut).toBe(false);
      expect(r.signal).toBe('SIGKILL');
      expect(Buffer.byteLength(r[stream])).toBeLessThanOrEqual(MiB * 3);
      expect(r[stream].length).toBeGreaterThan(0);
      expect(r[stream]).not.toMatch(/[\uD800-\uDFFF]/u);
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    });
  });

  it.each([
    ['python', 'import os\nos.close(1)\nos.close(2)\nwhile True:\n    pass'],
    ['node', "require('fs').closeSync(1);\nrequire('fs').closeSync(2);\nfor (;;) {}"],
  ])('%s: closing stdout and spinning ends at the timeout', async (runtime, code) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code, timeout: 1500 }, (r) => {
      expect(r).toMatchObject({ timedOut: true, exitCode: 137, signal: 'SIGKILL', stdout: '' });
    });
  });
});

describe('survivors', () => {
  const pythonSurvivors = `import os, signal, subprocess, sys
tag = sys.argv[-1]
quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["sleep", tag], start_new_session=True, **quiet)
subprocess.Popen(["nohup", "sleep", tag], **quiet)
subprocess.Popen(["sleep", tag], env={}, start_new_session=True, **quiet)
subprocess.Popen(["sleep", tag], preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN), **quiet)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.execvp("sleep", ["sleep", tag])
    os._exit(0)
# One child keeps our stdout open, to hold the pipe past our exit.
subprocess.Popen(["sleep", tag], start_new_session=True)
print("parent done")`;
  const nodeSurvivors = `const { spawn } = require('child_process');
const tag = process.argv.at(-1);
spawn('sleep', [tag], { detached: true, stdio: 'ignore' }).unref();
spawn('nohup', ['sleep', tag], { detached: true, stdio: 'ignore', env: {} }).unref();
spawn('sleep', [tag], { stdio: ['ignore', 'inherit', 'inherit'], detached: true }).unref();
process.on('SIGTERM', () => {});
console.log('parent done');`;

  it.each([
    ['python', pythonSurvivors],
    ['node', nodeSurvivors],
  ])('%s: setsid, double fork, nohup, SIGTERM-ignoring and pipe-holding children die with the run', async (runtime, code) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code }, (r) => {
      expect(r.stdout).toBe('parent done\n');
      expect(r.exitCode).toBe(0);
    });
  });

  it('python: a tree ignoring SIGTERM is gone after the timeout', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        timeout: 1500,
        code: `import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for _ in range(5):
    subprocess.Popen(["sleep", sys.argv[-1]], start_new_session=True)
time.sleep(60)`,
      },
      (r) => expect(r).toMatchObject({ timedOut: true, exitCode: 137 }),
    );
  });
});

describe('signals', () => {
  it('python: kill -9 -1, killing pid 1 and the parent only affect the sandbox', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'python',
        code: `import os, signal, subprocess, sys
subprocess.Popen(["sleep", sys.argv[-1]])
for target in [${process.pid}, ${holder.child.pid}]:
    try:
        os.kill(target, signal.SIGKILL); print("KILLED host", target)
    except OSError as e:
        print("no host pid", target, e.errno)
print("pid", os.getpid(), "ppid", os.getppid(), flush=True)
for target in [-1, 1, os.getppid()]:
    try:
        os.kill(target, signal.SIGKILL)
    except OSError as e:
        print("kill", target, e.errno, flush=True)
print("still here", flush=True)`,
      },
      (r) => {
        expect(r.stdout).not.toContain('KILLED host');
        expect(r.stdout).toContain('pid 2 ppid 1');
      },
    );
    expect(holder.child.exitCode).toBeNull();
  });

  it('node: process.kill(-1) inside the sandbox', async () => {
    const tag = newTag();
    await attack(t, 
      tag,
      {
        runtime: 'node',
        code: `require('child_process').spawn('sleep', [process.argv.at(-1)]);
try { process.kill(${holder.child.pid}, 'SIGKILL'); console.log('KILLED host'); } catch (e) { console.log('no host pid', e.code); }
setTimeout(() => { try { process.kill(-1, 'SIGKILL'); } catch (e) { console.log(e.code); } console.log('alive'); }, 50);`,
      },
      (r) => expect(r.stdout).not.toContain('KILLED host'),
    );
    expect(holder.child.exitCode).toBeNull();
  });
});

describe('other executions', () => {
  it("python: a concurrent execution's files and processes are invisible, and nothing carries over to the next one", async () => {
    const tagA = newTag();
    const tagB = newTag();
    const marker = `marker-${tagA}`;
    const a = t.run({
      runtime: 'python',
      args: [tagA],
      code: `import os, subprocess, sys, time
for d in ["/work", "/tmp", "/dev/shm", os.environ["HOME"]]:
    open(f"{d}/${marker}", "w").write("${marker}")
subprocess.Popen(["sleep", sys.argv[-1]])
print("ready", flush=True)
time.sleep(4)`,
    });
    // Give A time to plant its files before B looks for them.
    await new Promise((r) => setTimeout(r, 1500));
    const b = await t.run({
      runtime: 'python',
      args: [tagB],
      code: `import os
found = []
for top in ["/work", "/tmp", "/dev/shm", "/out", "/opt", "/run", "/var"]:
    for root, dirs, files in os.walk(top):
        found += [os.path.join(root, f) for f in files if "${marker}" in f]
procs = [open(f"/proc/{p}/cmdline", "rb").read() for p in os.listdir("/proc") if p.isdigit()]
print("found", found, any(b"${tagA}" in c for c in procs))`,
    });
    expect(b.stdout).toBe('found [] False\n');
    expect((await a).stdout).toBe('ready\n');
    await expectContained(t, tagA);
    await expectContained(t, tagB);
    const next = await t.run({
      runtime: 'python',
      code: `import os\nprint(sorted(os.listdir("/work")), os.listdir("/tmp"), os.listdir("/dev/shm"))`,
    });
    expect(next.stdout).toBe("['main.py'] [] []\n");
  });
});

describe('stdin', () => {
  const big = 'z'.repeat(1024 * 1024);
  it.each([
    ['python', 'print("never read")', 'never read\n'],
    ['node', 'console.log("never read")', 'never read\n'],
    ['python', 'import os\nos.close(0)\nprint("closed")', 'closed\n'],
    ['node', "process.stdin.destroy();\nconsole.log('closed');", 'closed\n'],
    ['python', 'import sys\nsys.stdin.read(10)\nprint("partial")', 'partial\n'],
  ])('%s: 1 MiB of stdin with `%s` does not deadlock', async (runtime, code, expected) => {
    const tag = newTag();
    await attack(t, tag, { runtime, code, stdin: big, timeout: 20_000 }, (r) => {
      expect(r.stdout).toBe(expected);
      expect(r.timedOut).toBe(false);
    });
  });
});
