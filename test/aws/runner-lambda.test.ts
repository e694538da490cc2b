import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidNamespacesAvailable } from './helpers/namespaces.js';

// Without PID namespaces (unprivileged CI) these tests cannot run safely: see helpers/namespaces.ts.
const NAMESPACES = pidNamespacesAvailable();
import { buildRunnerBundle, RUNNER_BUNDLE_DIR } from '../../infra/bundle.js';
import { LAMBDA_GID, LAMBDA_UID, LambdaEmulator, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, type Environment, REPO_VIEW } from './helpers/lambda-emulator.js';
import { toolchainEnv } from './helpers/local-aws.js';

// Planted in the runner's environment: user code must never see them.
const SECRET = 'runtoolsPlantedSecret0123456789';
const PLANTED = {
  AWS_ACCESS_KEY_ID: 'AKIARUNTOOLSPLANTED1',
  AWS_SECRET_ACCESS_KEY: SECRET,
  AWS_SESSION_TOKEN: `token-${SECRET}`,
};

let emulator: LambdaEmulator;
let client: LambdaClient;

async function invoke(request: Record<string, unknown>, tenant = 'tenant-a', fn = 'runner') {
  const out = await client.send(
    new InvokeCommand({ FunctionName: fn, Payload: Buffer.from(JSON.stringify({ request })), TenantId: tenant }),
  );
  const payload = JSON.parse(Buffer.from(out.Payload!).toString('utf8'));
  return { functionError: out.FunctionError, payload };
}

const py = (code: string, args: string[] = []) => ({ runtime: 'python', code, timeout: 10_000, stdin: '', env: {}, args });
const BUNDLED = [process.execPath, path.join(RUNNER_BUNDLE_DIR, 'lambda.mjs')];

/** Python that sets `runners` to the pids of the runner (node running lambda.mjs or lambda.ts). */
const FIND_RUNNER = `
import os
def _argv(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return f.read().split(b'\\0')
    except OSError:
        return []
runners = [int(p) for p in os.listdir('/proc') if p.isdigit()
           and _argv(p)[0].endswith(b'node') and any(a.endswith((b'lambda.mjs', b'lambda.ts')) for a in _argv(p)[1:])]
`;

/** What user code can do to the runner's /proc files: "open" or the errno name, per file. */
const PROBE_RUNNER = `${FIND_RUNNER}
import ctypes, errno, json
pid = runners[0]
uid = next(l for l in open(f'/proc/{pid}/status') if l.startswith('Uid:')).split()[1]
seen = {'runners': len(runners), 'runnerUid': int(uid), 'myUid': os.getuid(), 'owner': os.stat(f'/proc/{pid}/environ').st_uid}
def attempt(name, mode):
    try:
        with open(f'/proc/{pid}/{name}', mode) as f:
            data = f.read(1 << 16)
        return 'open', data
    except OSError as e:
        return errno.errorcode[e.errno], b''
seen['environ'], environ = attempt('environ', 'rb')
seen['mem'], _ = attempt('mem', 'rb')
seen['maps'], _ = attempt('maps', 'rb')
seen['addressInEnviron'] = b'RUNTOOLS_RUNTIME_API=' in environ
try:
    open(f'/proc/{pid}/oom_score_adj', 'r+').close()
    seen['oom_score_adj'] = 'open'
except OSError as e:
    seen['oom_score_adj'] = errno.errorcode[e.errno]
if seen['environ'] != 'open':
    # PTRACE_SEIZE does not stop the tracee; were it to succeed, our exit detaches.
    libc = ctypes.CDLL(None, use_errno=True)
    seen['ptrace'] = 'ok' if libc.ptrace(0x4206, pid, 0, 0) == 0 else errno.errorcode[ctypes.get_errno()]
print(json.dumps(seen))
`;

async function invokeRaw(fn: string, payload: Buffer) {
  const out = await client.send(new InvokeCommand({ FunctionName: fn, Payload: payload }));
  return { functionError: out.FunctionError, payload: Buffer.from(out.Payload ?? new Uint8Array()) };
}

async function environmentOf(fn: string): Promise<Environment> {
  for (let i = 0; i < 200; i++) {
    const env = emulator.environmentsOf(fn).find((e) => e.runtimeApi && !e.dead);
    if (env) return env;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no environment of ${fn}`);
}

beforeAll(async () => {
  if (!NAMESPACES) return;
  buildRunnerBundle();
  emulator = await new LambdaEmulator(
    {
      runner: { tenantIsolation: true, env: PLANTED },
      // The esbuild bundle the images ship, started the way the images start it.
      bundled: { tenantIsolation: true, env: PLANTED, command: BUNDLED },
      // The same without the non-dumpable preload: what the runner exposes without it.
      dumpable: { env: { ...PLANTED, RUNTOOLS_NODUMP: '/nonexistent/nodump.so' }, command: BUNDLED },
      // A runtime that never polls: the test speaks the Runtime API itself.
      manual: { command: ['sleep', '600'] },
      seccomp: { env: PLANTED, command: BUNDLED },
      // A deployment in network mode internet (the stack sets RUNTOOLS_NETWORK on every function).
      internet: { env: { ...PLANTED, RUNTOOLS_NETWORK: 'internet' }, command: BUNDLED },
    },
    await toolchainEnv(),
  ).start();
  client = new LambdaClient({ endpoint: emulator.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await emulator?.stop();
});

describe.runIf(NAMESPACES)('runner Lambda handler (process sandbox, warm environment reuse)', () => {
  it('runs a request and answers an ExecuteResult', async () => {
    const { functionError, payload } = await invoke(py('print(sum([1, 2, 3, 4, 5]))'));
    expect(functionError).toBeUndefined();
    expect(payload).toMatchObject({ stdout: '15\n', exitCode: 0, timedOut: false, runtime: 'python' });
  });

  it("user code cannot read the handler's environment, its own or through /proc", async () => {
    const { payload } = await invoke(
      py(`
import os
found = [k for k, v in os.environ.items() if k.startswith('AWS_') or '${SECRET}' in v]
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    for name in ('environ', 'cmdline'):
        try:
            with open(f'/proc/{pid}/{name}', 'rb') as f:
                data = f.read()
            if b'${SECRET}' in data or b'AKIARUNTOOLSPLANTED1' in data:
                found.append(f'/proc/{pid}/{name}')
        except OSError:
            pass
print('found:', found)
print('pids seen:', len([p for p in os.listdir('/proc') if p.isdigit()]))
print('runtime api:', os.environ.get('AWS_LAMBDA_RUNTIME_API'), os.environ.get('RUNTOOLS_RUNTIME_API'))
`),
    );
    expect(payload.stdout).toContain('found: []');
    expect(payload.stdout).toContain('runtime api: None None');
  });

  it('leaves no process behind for the next invocation', async () => {
    const first = await invoke(
      py(`
import subprocess, os
subprocess.Popen(['sleep', '300'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/bin/sleep', ['sleep', '301'])
    os._exit(0)
import time
time.sleep(0.3)
alive = 0
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                alive += f.read().startswith(b'sleep')
        except OSError:
            pass
print('spawned', alive)
`),
    );
    expect(first.payload.stdout).toContain('spawned 2');
    const second = await invoke(
      py(`
import os
procs = []
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                procs.append(f.read().replace(b'\\0', b' ').decode().strip())
        except OSError:
            pass
print('sleepers:', len([p for p in procs if p.startswith('sleep')]))
`),
    );
    expect(second.payload.stdout).toContain('sleepers: 0');
    expect(emulator.environmentsOf('runner').filter((e) => e.tenant === 'tenant-a')).toHaveLength(1);
  });

  it("cannot see the previous invocation's files (work dir, HOME, TMPDIR, the scratch root)", async () => {
    const plant = await invoke(
      py(`
import os
scratch = os.path.abspath('../../..')
for d in (os.getcwd(), os.environ['HOME'], os.environ['TMPDIR'], scratch):
    with open(os.path.join(d, 'planted.txt'), 'w') as f:
        f.write('left behind')
os.makedirs(os.path.join(scratch, 'locked/inner'))
os.chmod(os.path.join(scratch, 'locked'), 0)
print('planted in', scratch)
`),
    );
    expect(plant.payload.stdout).toContain('planted in');
    const look = await invoke(
      py(`
import os
scratch = os.path.abspath('../../..')
hits = []
for root, dirs, files in os.walk(scratch):
    hits += [os.path.join(root, f) for f in files if f == 'planted.txt'] + [os.path.join(root, d) for d in dirs if d == 'locked']
print('hits:', hits)
`),
    );
    expect(look.payload.stdout).toContain('hits: []');
    expect(emulator.environmentsOf('runner').filter((e) => e.tenant === 'tenant-a')).toHaveLength(1);
  });

  it('keeps tenants in separate environments (tenant isolation)', async () => {
    await invoke(py('print(1)'), 'tenant-b');
    const envs = emulator.environmentsOf('runner');
    expect(new Set(envs.map((e) => e.tenant))).toEqual(new Set(['tenant-a', 'tenant-b']));
    expect(envs.every((e) => e.tenant === 'tenant-a' || e.tenant === 'tenant-b')).toBe(true);
  });

  it('the esbuild bundle the images ship serves invocations the same way', async () => {
    const first = await invoke(py('import os\nopen("../../../left.txt", "w").write("x")\nprint(os.environ.get("AWS_SECRET_ACCESS_KEY"))'), 'tenant-a', 'bundled');
    expect(first.functionError).toBeUndefined();
    expect(first.payload).toMatchObject({ stdout: 'None\n', exitCode: 0, runtime: 'python' });
    const second = await invoke({ runtime: 'node', code: 'console.log(require("fs").existsSync("../../../left.txt"))', timeout: 10_000 }, 'tenant-a', 'bundled');
    expect(second.payload).toMatchObject({ stdout: 'false\n', exitCode: 0, runtime: 'node' });
    expect(emulator.environmentsOf('bundled')).toHaveLength(1);
  });

  it('rejects an invalid event with a RunnerError, without details of the environment', async () => {
    const { functionError, payload } = await invoke({ runtime: 'cobol', code: 'x' });
    expect(functionError).toBe('Unhandled');
    expect(payload.errorType).toBe('RunnerError');
    expect(payload.errorMessage).toMatch(/invalid event/);
    expect(JSON.stringify(payload)).not.toContain(SECRET);
  });
});

describe.runIf(NAMESPACES)('the emulated environment is built like Lambda where it matters (bundled runner)', () => {
  it("PID 1 is the init, holding the Runtime API address; the runner is its child and runs as the sandbox user", async () => {
    const { payload } = await invoke(
      py(`${FIND_RUNNER}
import json
init = open('/proc/1/cmdline', 'rb').read().split(b'\\0')
stat = open(f'/proc/{runners[0]}/stat').read()
try:
    open('/proc/1/environ', 'rb').read()
    init_environ = 'open'
except OSError as e:
    init_environ = type(e).__name__
print(json.dumps({'init': [a.decode() for a in init[:2]], 'runners': runners, 'parent': int(stat[stat.rindex(')') + 2:].split()[1]), 'initEnviron': init_environ}))
`),
      'tenant-a',
      'bundled',
    );
    const seen = JSON.parse(payload.stdout);
    expect(seen.init[1]).toMatch(/lambda-init\.sh$/);
    expect(seen.runners).toHaveLength(1);
    expect(seen.runners[0]).not.toBe(1);
    expect(seen.parent).toBe(1);
    expect(seen.initEnviron).toBe('PermissionError');

    const env = emulator.environmentsOf('bundled')[0]!;
    const init = emulator.initPid(env)!;
    expect(readFileSync(`/proc/${init}/status`, 'utf8')).toMatch(/^Uid:\s+0\s/m);
    const environ = readFileSync(`/proc/${init}/environ`, 'latin1').split('\0');
    expect(environ).toContain(`AWS_LAMBDA_RUNTIME_API=${env.runtimeApi}`);
    expect(environ).toContain(`AWS_SECRET_ACCESS_KEY=${SECRET}`);
  });

  it('user code runs as the unprivileged sandbox user, without capabilities', async () => {
    const { payload } = await invoke(
      py(`import os
cap = next(l for l in open('/proc/self/status') if l.startswith('CapEff:')).split()[1]
print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), cap)`),
      'tenant-a',
      'bundled',
    );
    expect(payload.stdout).toBe(`${LAMBDA_UID} ${LAMBDA_UID} ${LAMBDA_GID} [] 0000000000000000\n`);
  });

  it('the filesystem is read-only except /tmp', async () => {
    const { payload } = await invoke(
      py(`import errno, json, os, sys
def attempt(p):
    try:
        with open(p, 'w') as f:
            f.write('x')
        os.unlink(p)
        return 'written'
    except OSError as e:
        return errno.errorcode[e.errno]
places = ['/tmp/probe', '/var/tmp/probe', '/dev/shm/probe', sys.argv[1] + '/probe', '/etc/probe', os.path.dirname(sys.executable) + '/probe']
print(json.dumps({p: attempt(p) for p in places}))`, [REPO_VIEW]),
      'tenant-a',
      'bundled',
    );
    const seen = JSON.parse(payload.stdout) as Record<string, string>;
    expect(seen['/tmp/probe']).toBe('written');
    // World-writable on this host: only the read-only mount stops them.
    expect(seen['/var/tmp/probe']).toBe('EROFS');
    expect(seen['/dev/shm/probe']).toBe('EROFS');
    for (const [place, result] of Object.entries(seen)) if (place !== '/tmp/probe') expect(['EROFS', 'EACCES'], place).toContain(result);
  });

  it("the runner's /proc files are closed to user code, though it runs as the same user", async () => {
    const { payload } = await invoke(py(PROBE_RUNNER), 'tenant-a', 'bundled');
    expect(JSON.parse(payload.stdout)).toEqual({
      runners: 1,
      runnerUid: LAMBDA_UID,
      myUid: LAMBDA_UID,
      owner: 0,
      environ: 'EACCES',
      mem: 'EACCES',
      maps: 'EACCES',
      addressInEnviron: false,
      oom_score_adj: 'EACCES',
      ptrace: 'EPERM',
    });
  });

  it('without the preload the runner is readable: the emulator reproduces the hole, and the bootstrap says so', async () => {
    const { payload } = await invoke(py(PROBE_RUNNER), 'tenant-a', 'dumpable');
    expect(JSON.parse(payload.stdout)).toMatchObject({ runnerUid: LAMBDA_UID, owner: LAMBDA_UID, environ: 'open', addressInEnviron: true, oom_score_adj: 'open' });
    expect(emulator.environmentsOf('dumpable')[0]!.output.join('')).toMatch(/bootstrap: warning: .*nodump\.so is missing/);
  });

  it('nothing written to /tmp survives into the next invocation', async () => {
    const plant = await invoke(
      py(`import os
os.makedirs('/tmp/deep/er')
for p in ('/tmp/planted', '/tmp/deep/er/planted', '/tmp/.hidden'):
    open(p, 'w').write('left behind')
os.symlink('/etc/passwd', '/tmp/link')
os.chmod('/tmp/deep', 0)
print(sorted(os.listdir('/tmp')))`),
      'tenant-a',
      'bundled',
    );
    expect(plant.payload.stdout).toBe("['.hidden', 'deep', 'link', 'planted', 'runtools']\n");
    const env = emulator.environmentsOf('bundled')[0]!;
    expect(readdirSync(env.scratch)).toEqual([]);
    const look = await invoke(py('import os\nprint(sorted(os.listdir("/tmp")))'), 'tenant-a', 'bundled');
    expect(look.payload.stdout).toBe("['runtools']\n");
    expect(emulator.environmentsOf('bundled')).toHaveLength(1);
  });
});

describe.runIf(NAMESPACES)('the Runtime API and the 6 MB limits, as Lambda enforces them', () => {
  it('a second /next while an invocation is outstanding is refused with 403, and so is a concurrent one', async () => {
    const pending = invokeRaw('manual', Buffer.from('{"n":1}'));
    const env = await environmentOf('manual');
    const base = `http://${env.runtimeApi}/2018-06-01/runtime`;
    const next = await fetch(`${base}/invocation/next`);
    expect(next.status).toBe(200);
    expect(await next.json()).toEqual({ n: 1 });
    const id = next.headers.get('lambda-runtime-aws-request-id')!;

    const again = await fetch(`${base}/invocation/next`);
    expect(again.status).toBe(403);
    expect(await again.json()).toMatchObject({ errorType: 'InvalidStateTransition' });

    const answered = await fetch(`${base}/invocation/${id}/response`, { method: 'POST', body: '{"ok":true}' });
    expect(answered.status).toBe(202);
    expect(JSON.parse((await pending).payload.toString())).toEqual({ ok: true });

    // Two /next waiting: the first gets the invocation, the other is refused once it is handed out.
    const first = fetch(`${base}/invocation/next`);
    await new Promise((r) => setTimeout(r, 100));
    const second = fetch(`${base}/invocation/next`);
    await new Promise((r) => setTimeout(r, 100));
    const pending2 = invokeRaw('manual', Buffer.from('{"n":2}'));
    const [a, b] = await Promise.all([first, second]);
    expect([a.status, b.status]).toEqual([200, 403]);
    const id2 = a.headers.get('lambda-runtime-aws-request-id')!;
    await fetch(`${base}/invocation/${id2}/response`, { method: 'POST', body: '{"n":2}' });
    expect(JSON.parse((await pending2).payload.toString())).toEqual({ n: 2 });
  });

  it('an Invoke payload over 6 MB is refused with 413 before any environment sees it; 6 MB exactly is delivered', async () => {
    const before = emulator.invocations.length;
    const tooLarge = Buffer.alloc(MAX_REQUEST_BYTES + 1, 'x');
    const err = await invoke({ runtime: 'python', code: `# ${tooLarge.toString()}` }, 'tenant-a', 'bundled').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RequestEntityTooLargeException', $metadata: { httpStatusCode: 413 } });
    expect(emulator.invocations.length).toBe(before);

    const env = await environmentOf('manual');
    const base = `http://${env.runtimeApi}/2018-06-01/runtime`;
    const payload = Buffer.from(JSON.stringify({ pad: 'x'.repeat(MAX_REQUEST_BYTES - 10) }));
    expect(payload.length).toBe(MAX_REQUEST_BYTES);
    const pending = invokeRaw('manual', payload);
    const next = await fetch(`${base}/invocation/next`);
    expect((await next.arrayBuffer()).byteLength).toBe(MAX_REQUEST_BYTES);
    await fetch(`${base}/invocation/${next.headers.get('lambda-runtime-aws-request-id')}/response`, { method: 'POST', body: '{}' });
    expect((await pending).functionError).toBeUndefined();
  });

  it('a response over the limit is answered 413 and fails the invocation with Function.ResponseSizeTooLarge', async () => {
    const env = await environmentOf('manual');
    const base = `http://${env.runtimeApi}/2018-06-01/runtime`;
    const respond = async (bytes: number) => {
      const pending = invokeRaw('manual', Buffer.from('{}'));
      const next = await fetch(`${base}/invocation/next`);
      await next.arrayBuffer();
      const body = JSON.stringify({ pad: 'x'.repeat(bytes - 10) });
      const posted = await fetch(`${base}/invocation/${next.headers.get('lambda-runtime-aws-request-id')}/response`, { method: 'POST', body });
      return { status: posted.status, answer: await posted.json(), invoked: await pending };
    };
    const atLimit = await respond(MAX_RESPONSE_BYTES);
    expect(atLimit.status).toBe(202);
    expect(atLimit.invoked.functionError).toBeUndefined();
    expect(atLimit.invoked.payload.length).toBe(MAX_RESPONSE_BYTES);

    const over = await respond(MAX_RESPONSE_BYTES + 1);
    expect(over.status).toBe(413);
    expect(over.answer).toMatchObject({ errorType: 'RequestEntityTooLarge' });
    expect(over.invoked.functionError).toBe('Unhandled');
    expect(JSON.parse(over.invoked.payload.toString())).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
  });

  it('the runner survives a result over the limit (control bytes escaped in JSON) and serves the next invocation', async () => {
    const big = await invoke(py("import sys\nsys.stdout.write('\\x01' * (1 << 20))\nsys.stderr.write('\\x01' * (1 << 20))"), 'tenant-a', 'bundled');
    expect(big.functionError).toBe('Unhandled');
    expect(big.payload.errorType).toBe('Function.ResponseSizeTooLarge');
    const next = await invoke(py('print("still here")'), 'tenant-a', 'bundled');
    expect(next.payload.stdout).toBe('still here\n');
    expect(emulator.environmentsOf('bundled')).toHaveLength(1);
  });
});

// These need the seccomp layer of functions/runner/sandbox (no inet sockets under network none,
// no signals to the launcher's ancestors): they fail until it is in place.
describe.runIf(NAMESPACES)('the seccomp layer: user code cannot reach the Runtime API or the runner', () => {
  it('cannot connect to the Runtime API', async () => {
    await invoke(py('print(1)'), 'tenant-a', 'seccomp');
    const env = await environmentOf('seccomp');
    const { payload } = await invoke(
      py(`import socket, sys
host, port = sys.argv[1].split(':')
try:
    socket.create_connection((host, int(port)), timeout=2).close()
    print('connected')
except OSError as e:
    print('refused', type(e).__name__)`, [env.runtimeApi]),
      'tenant-a',
      'seccomp',
    );
    // Refused at socket(): no inet sockets under network none, whatever the port.
    expect(payload.stdout).toBe('refused PermissionError\n');
    expect(env.requests.filter((r) => !/node|undici/i.test(r.agent))).toEqual([]);
  });

  it('in network mode internet programs may open inet sockets (and so reach the Runtime API: SECURITY.md)', async () => {
    await invoke(py('print(1)'), 'tenant-a', 'internet');
    const env = await environmentOf('internet');
    const { payload } = await invoke(
      py(`import socket, sys
host, port = sys.argv[1].split(':')
socket.create_connection((host, int(port)), timeout=2).close()
print('connected')`, [env.runtimeApi]),
      'tenant-a',
      'internet',
    );
    expect(payload.stdout).toBe('connected\n');
  });

  it('cannot kill the runner', async () => {
    const { functionError, payload } = await invoke(
      py(`${FIND_RUNNER}
import signal
try:
    os.kill(runners[0], signal.SIGKILL)
    print('killed')
except OSError as e:
    print('refused', type(e).__name__)`),
      'tenant-a',
      'seccomp',
    );
    expect(functionError).toBeUndefined();
    expect(payload.stdout).toBe('refused PermissionError\n');
    expect(emulator.environmentsOf('seccomp').filter((e) => e.dead)).toEqual([]);
  });

  it('cannot stop, re-limit, renice or own a descriptor for the runner, its launcher or the init, nor signal everything at once', async () => {
    const { functionError, payload } = await invoke(
      py(`${FIND_RUNNER}
import ctypes, fcntl, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
class rlimit(ctypes.Structure):
    _fields_ = [('cur', ctypes.c_ulong), ('max', ctypes.c_ulong)]
def call(name, f):
    ctypes.set_errno(0)
    try:
        r = f()
        print(name, 'refused' if r == -1 and ctypes.get_errno() == 1 else f'DONE {r} {ctypes.get_errno()}')
    except PermissionError:
        print(name, 'refused')
targets = {'runner': runners[0], 'launcher': os.getppid(), 'init': 1}
for who, pid in targets.items():
    call(f'stop {who}', lambda: os.kill(pid, signal.SIGSTOP))
    call(f'prlimit {who}', lambda: libc.prlimit(pid, 7, ctypes.byref(rlimit(0, 0)), None))
    call(f'renice {who}', lambda: libc.setpriority(0, pid, 19))
    call(f'pidfd {who}', lambda: libc.syscall(434, pid, 0))
    call(f'affinity {who}', lambda: libc.sched_setaffinity(pid, 8, ctypes.byref(ctypes.c_ulong(1))))
    # A descriptor's owner gets its SIGIO, or with F_SETSIG any signal (SIGKILL included).
    call(f'sigio owner {who}', lambda: fcntl.fcntl(os.pipe()[0], fcntl.F_SETOWN, pid))
    # Any process may open /proc/<pid>, and that directory is a pidfd.
    call(f'pidfd signal {who}', lambda: signal.pidfd_send_signal(os.open(f'/proc/{pid}', os.O_RDONLY), signal.SIGKILL))
call('kill -1', lambda: os.kill(-1, signal.SIGKILL))
call('renice user', lambda: libc.setpriority(2, os.getuid(), 19))
# The launcher's report pipe: a forged "E 0 ..." line would rewrite this run's result.
call('forge report', lambda: open(f'/proc/{os.getppid()}/fd/3', 'w').write('E 0 0 0 0 0\\n'))
sys.exit(7)`),
      'tenant-a',
      'seccomp',
    );
    expect(functionError).toBeUndefined();
    expect(payload).toMatchObject({ exitCode: 7, signal: null, status: 'runtime_error' });
    const lines = payload.stdout.trim().split('\n');
    expect(lines).toHaveLength(24);
    for (const line of lines) expect(line).toMatch(/ refused$/);
    expect(emulator.environmentsOf('seccomp').filter((e) => e.dead)).toEqual([]);
    const after = await invoke(py('print("still serving")'), 'tenant-a', 'seccomp');
    expect(after.payload.stdout).toBe('still serving\n');
  });
});
