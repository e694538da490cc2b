import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteResult } from '../../functions/contract.js';
import { processesMatching } from '../helpers/runner.js';
import { newSecret, newTag } from './harness.js';

/*
 * The runner as it runs on Lambda: the image's bootstrap re-executes the bundled handler with a
 * clean environment, the handler speaks the Runtime API, runs each invocation in the process
 * sandbox and sweeps every other process after it. The Runtime API here is a small fake on
 * loopback. The handler runs in its own pid namespace (unshare), because its sweep kills every
 * process it can see except itself and its ancestors: on Lambda that is the whole sandbox, here
 * it must not be this machine.
 */

const SECRET = newSecret();
const SESSION = newSecret();
const BOOTSTRAP = path.resolve('runtime-layers/bootstrap.sh');
const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/unshare') && existsSync(BOOTSTRAP);

interface Invocation {
  id: string;
  event: unknown;
}

/** A fake Lambda Runtime API: hands out queued events, collects responses, records every request. */
class FakeRuntimeApi {
  readonly requests: Array<{ method: string; url: string; agent: string }> = [];
  private readonly queue: Invocation[] = [];
  private waiting: ServerResponse | null = null;
  private readonly answers = new Map<string, (body: { ok: boolean; payload: unknown }) => void>();
  private server!: Server;
  address = '';
  private next = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** Queues an event and resolves with what the runtime answered for it. */
  invoke(event: unknown): Promise<{ ok: boolean; payload: unknown }> {
    const id = `req-${++this.next}`;
    const answered = new Promise<{ ok: boolean; payload: unknown }>((resolve) => this.answers.set(id, resolve));
    this.queue.push({ id, event });
    this.flush();
    return answered;
  }

  private flush(): void {
    if (!this.waiting || this.queue.length === 0) return;
    const { id, event } = this.queue.shift()!;
    const res = this.waiting;
    this.waiting = null;
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': id,
      'lambda-runtime-deadline-ms': String(Date.now() + 120_000),
    });
    res.end(JSON.stringify(event));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', agent: req.headers['user-agent'] ?? '' });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const url = req.url ?? '';
    if (req.method === 'GET' && url.endsWith('/invocation/next')) {
      if (this.waiting) {
        res.writeHead(409).end();
        return;
      }
      this.waiting = res;
      this.flush();
      return;
    }
    const done = /\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && done) {
      this.answers.get(done[1]!)?.({ ok: done[2] === 'response', payload: JSON.parse(body || 'null') });
      res.writeHead(202).end('{}');
      return;
    }
    res.writeHead(404).end();
  }

  close(): void {
    this.waiting?.destroy();
    this.server.close();
    this.server.closeAllConnections();
  }
}

describe.runIf(canRun)('Lambda runner (process sandbox with the sweep)', () => {
  const api = new FakeRuntimeApi();
  let child: ChildProcess;
  let dir: string;
  let scratch: string;
  let stderr = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-security-lambda-'));
    scratch = path.join(dir, 'scratch');
    const bundle = path.join(dir, 'lambda.mjs');
    await build({
      entryPoints: ['functions/runner/lambda.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: bundle,
      logLevel: 'silent',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    await api.start();
    // What Lambda gives the bootstrap: credentials and the Runtime API address in the environment.
    child = spawn(
      '/usr/bin/unshare',
      ['--pid', '--fork', '--mount-proc', '--kill-child', '/bin/sh', BOOTSTRAP, process.execPath, bundle],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          AWS_LAMBDA_RUNTIME_API: api.address,
          AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
          AWS_SECRET_ACCESS_KEY: SECRET,
          AWS_SESSION_TOKEN: SESSION,
          RUNTOOLS_SCRATCH_ROOT: scratch,
          RUNTOOLS_WORK_ROOT: path.join(scratch, 'work'),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  });

  afterAll(() => {
    child?.kill('SIGKILL');
    api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a hostile invocation reads no credentials, and nothing it starts reaches the next invocation', async () => {
    const tag = newTag();
    // Started in a new session with an empty environment, so neither the process group nor the
    // execution's marker finds it: only the sweep of everything does. It waits, then tries to
    // take the next invocation from the Runtime API.
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
tag = sys.argv[-1]
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
subprocess.Popen([sys.executable, "-c", ${JSON.stringify(survivor)}, addr or "127.0.0.1:9", tag], env={}, start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["sleep", tag], env={}, start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("planted")`;

    const first = await api.invoke({ request: { runtime: 'python', code: hostile, args: [tag] } });
    expect(first.ok, stderr).toBe(true);
    const r1 = first.payload as ExecuteResult;
    expect(r1.stdout).toContain('planted');
    expect(r1.stdout).toContain('address in own env False');
    expect(r1.stdout).not.toContain(SECRET);
    expect(r1.stdout).not.toContain(SESSION);
    expect(r1.stdout).not.toContain('AKIAEXAMPLE');

    // Past the survivor's wait: had it lived, it would be polling the Runtime API by now.
    await new Promise((r) => setTimeout(r, 3000));
    const second = await api.invoke({ request: { runtime: 'python', code: 'import os\nprint("next", sorted(os.listdir(".")))' } });
    expect(second.ok).toBe(true);
    expect((second.payload as ExecuteResult).stdout).toBe("next ['main.py']\n");

    expect(processesMatching(tag)).toEqual([]);
    expect(api.requests.filter((r) => !/node|undici/i.test(r.agent))).toEqual([]);
    expect(existsSync(scratch) ? readdirSync(scratch).filter((n) => n !== 'work') : []).toEqual([]);
  });
});
