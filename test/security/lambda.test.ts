import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteResult } from '../../functions/contract.js';
import { buildRunnerBundle, RUNNER_BUNDLE_DIR } from '../../infra/bundle.js';
import { LambdaEmulator } from '../aws/helpers/lambda-emulator.js';
import { toolchainEnv } from '../aws/helpers/local-aws.js';
import { pidNamespacesAvailable } from '../aws/helpers/namespaces.js';
import { processesMatching } from '../helpers/runner.js';
import { newSecret, newTag } from './harness.js';

/*
 * The runner as it runs on Lambda, in the emulated execution environment of
 * test/aws/helpers/lambda-emulator.ts: the image's bootstrap re-executes the bundled handler with
 * a clean environment, as Lambda's sandbox user, a child of the environment's init, on a
 * read-only filesystem with a writable /tmp. The handler speaks the Runtime API, runs each
 * invocation in the process sandbox and sweeps every other process after it.
 */

const SECRET = newSecret();
const SESSION = newSecret();
const canRun = process.getuid?.() === 0 && pidNamespacesAvailable();

describe.runIf(canRun)('Lambda runner (process sandbox with the sweep)', () => {
  let emulator: LambdaEmulator;
  let client: LambdaClient;

  const invoke = async (request: unknown): Promise<{ ok: boolean; payload: unknown }> => {
    const out = await client.send(new InvokeCommand({ FunctionName: 'runner', Payload: Buffer.from(JSON.stringify({ request })) }));
    return { ok: !out.FunctionError, payload: JSON.parse(Buffer.from(out.Payload!).toString()) };
  };

  beforeAll(async () => {
    buildRunnerBundle();
    // What Lambda gives the bootstrap: credentials and the Runtime API address in the environment.
    emulator = await new LambdaEmulator(
      {
        runner: {
          env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: SESSION },
          command: [process.execPath, path.join(RUNNER_BUNDLE_DIR, 'lambda.mjs')],
        },
      },
      await toolchainEnv(),
    ).start();
    client = new LambdaClient({ endpoint: emulator.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
  });

  afterAll(async () => {
    client?.destroy();
    await emulator?.stop();
  });

  it('a hostile invocation reads no credentials, and nothing it starts reaches the next invocation', async () => {
    const warm = await invoke({ runtime: 'python', code: 'print(1)' });
    expect(warm.ok).toBe(true);
    const env = emulator.environmentsOf('runner')[0]!;
    const tag = newTag();
    // Started in a new session with an empty environment, so neither the process group nor the
    // execution's marker finds it: only the sweep of everything does. It waits, then tries to
    // take the next invocation from the Runtime API, whose address it is given (on Lambda it is
    // a well-known one, and listening sockets show in /proc/net/tcp).
    const survivor = `import sys, time, urllib.request
addr, tag = sys.argv[1], sys.argv[2]
time.sleep(2)
for _ in range(40):
    try:
        urllib.request.urlopen(f"http://{addr}/2018-06-01/runtime/invocation/next", timeout=1).read()
    except Exception:
        pass
    time.sleep(0.25)`;
    const hostile = `import os, subprocess, sys
tag, known = sys.argv[-2], sys.argv[-1]
print("env", sorted(os.environ.items()))
environs = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            environs.append(open(f"/proc/{pid}/environ", "rb").read())
        except OSError:
            pass
print("environs", environs)
addr = next((e.split(b"RUNTOOLS_RUNTIME_API=")[1].split(b"\\0")[0].decode() for e in environs if b"RUNTOOLS_RUNTIME_API=" in e), None)
print("address in own env", any("RUNTIME_API" in k for k in os.environ))
print("address readable from the runner", addr is not None)
subprocess.Popen([sys.executable, "-c", ${JSON.stringify(survivor)}, addr or known, tag], env={}, start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["sleep", tag], env={}, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("planted")`;

    const first = await invoke({ runtime: 'python', code: hostile, args: [tag, env.runtimeApi] });
    expect(first.ok, env.output.join('')).toBe(true);
    const r1 = first.payload as ExecuteResult;
    expect(r1.stdout).toContain('planted');
    expect(r1.stdout).toContain('address in own env False');
    expect(r1.stdout).toContain('address readable from the runner False');
    expect(r1.stdout).not.toContain(SECRET);
    expect(r1.stdout).not.toContain(SESSION);
    expect(r1.stdout).not.toContain('AKIAEXAMPLE');

    // Past the survivor's wait: had it lived, it would be polling the Runtime API by now.
    await new Promise((r) => setTimeout(r, 3000));
    const second = await invoke({ runtime: 'python', code: 'import os\nprint("next", sorted(os.listdir(".")))' });
    expect(second.ok).toBe(true);
    expect((second.payload as ExecuteResult).stdout).toBe("next ['main.py']\n");

    expect(processesMatching(tag)).toEqual([]);
    expect(env.requests.filter((r) => !/node|undici/i.test(r.agent))).toEqual([]);
    expect(readdirSync(env.scratch).filter((n) => n !== 'runtools')).toEqual([]);
    expect(emulator.environmentsOf('runner')).toHaveLength(1);
  });
});
