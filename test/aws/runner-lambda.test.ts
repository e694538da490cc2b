import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidNamespacesAvailable } from './helpers/namespaces.js';

// Without PID namespaces (unprivileged CI) these tests cannot run safely: see helpers/namespaces.ts.
const NAMESPACES = pidNamespacesAvailable();
import { buildRunnerBundle, RUNNER_BUNDLE_DIR } from '../../infra/bundle.js';
import { LambdaEmulator } from './helpers/lambda-emulator.js';
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

const py = (code: string) => ({ runtime: 'python', code, timeout: 10_000, stdin: '', env: {}, args: [] });

beforeAll(async () => {
  if (!NAMESPACES) return;
  buildRunnerBundle();
  emulator = await new LambdaEmulator(
    {
      runner: { tenantIsolation: true, env: PLANTED },
      // The esbuild bundle the images ship, started the way the images start it.
      bundled: { tenantIsolation: true, env: PLANTED, command: [process.execPath, path.join(RUNNER_BUNDLE_DIR, 'lambda.mjs')] },
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
