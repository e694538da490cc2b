import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { ExecuteRequestSchema, type ExecuteRequest, type ExecuteResult } from '../../functions/contract.js';
import { createRunner, DEFAULT_COMPILE_LIMITS, type RunnerOptions, type Sandbox, type SandboxKind } from '../../functions/runner/index.js';
import { BwrapSandbox } from '../../functions/runner/sandbox/bwrap.js';
import type { SandboxSpawn } from '../../functions/runner/sandbox/types.js';
import type { Workspace } from '../../functions/runner/workspace.js';
import { processesMatching, type TestRunner } from '../helpers/runner.js';

/**
 * A runner whose work root sits where production's does: under /dev/shm, memory-backed, so what a
 * program writes to its work dir is charged to its cgroup like in a real deployment.
 */
export async function hostileRunner(
  options: Omit<RunnerOptions, 'sandbox' | 'workRoot'> & { sandbox?: SandboxKind | Sandbox; network?: boolean } = {},
): Promise<TestRunner> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const workRoot = mkdtempSync(path.join(base, 'runtools-security-'));
  const runner = await createRunner({ ...options, workRoot });
  return {
    runner,
    workRoot,
    run: (request: ExecuteRequest): Promise<ExecuteResult> => runner.execute(ExecuteRequestSchema.parse(request)),
    leftovers: async () => {
      await runner.idle();
      return readdirSync(workRoot);
    },
    dispose: () => rmSync(workRoot, { recursive: true, force: true }),
  };
}

/**
 * Runs Python `code` in a compile phase's sandbox over `ws`, with the host paths and overlays
 * `phase` gives it: what a compromised compiler could do (compilers run no user code).
 */
export async function asCompiler(t: TestRunner, ws: Workspace, code: string, phase: Pick<SandboxSpawn, 'readOnlyPaths' | 'overlays'>) {
  const python = await t.runner.locate('python');
  expect(python).not.toBeNull();
  const sandbox = new BwrapSandbox();
  const view = sandbox.view(ws.dirs, python!.tool, 'python');
  return sandbox.run({
    id: ws.id,
    runtime: 'python',
    dirs: ws.dirs,
    tool: python!.tool,
    argv: [view.tool.bin, '-c', code],
    env: { PATH: '/usr/bin:/bin', HOME: '/tmp' },
    ...phase,
    writableOut: true,
    stdin: '',
    timeoutMs: 60_000,
    outputLimitBytes: 1024 * 1024,
    limits: DEFAULT_COMPILE_LIMITS,
  });
}

/**
 * Names, modes, sizes, inodes and mtimes of everything beneath `dir`, with the contents of every
 * `sampleEvery`-th regular file: equal before and after an attack when it changed nothing.
 */
export function treeFingerprint(dir: string, sampleEvery = 1): string {
  const hash = createHash('sha256');
  let files = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = lstatSync(p);
      hash.update(`${p} ${st.mode} ${st.size} ${st.ino} ${st.mtimeMs}\n`);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && files++ % sampleEvery === 0) hash.update(readFileSync(p));
    }
  };
  const st = lstatSync(dir);
  hash.update(`${dir} ${st.mode} ${st.ino} ${st.mtimeMs}\n`);
  walk(dir);
  return hash.digest('hex');
}

/**
 * A number unique to one attack, usable as a `sleep` duration: every process an attack starts
 * carries it on its command line (as an argument of the program or of the `sleep` it spawns),
 * so survivors can be found with processesMatching.
 */
export function newTag(): string {
  return `${randomInt(7000, 8999)}.${randomInt(100000, 999999)}`;
}

/** Counts of what the suite tried, printed at the end of each file for SECURITY.md. */
export const tally = { attacks: 0, contained: 0 };

/**
 * The aftermath every attack must end with: no process carrying its tag, nothing left in the
 * work root, and a normal execution that still works.
 */
export async function expectContained(t: TestRunner, tag: string): Promise<void> {
  tally.attacks++;
  expect(processesMatching(tag)).toEqual([]);
  expect(await t.leftovers()).toEqual([]);
  const after = await t.run({ runtime: 'python', code: 'print("healthy")' });
  expect(after).toMatchObject({ stdout: 'healthy\n', exitCode: 0 });
  tally.contained++;
}

/** Runs a hostile request with its tag as the program's last argument, then checks the aftermath. */
export async function attack(t: TestRunner, tag: string, request: ExecuteRequest, check: (r: ExecuteResult) => void): Promise<void> {
  const result = await t.run({ ...request, args: [...(request.args ?? []), tag] });
  check(result);
  await expectContained(t, tag);
}

/** A host process holding `secret` in its environment, standing in for the server. */
export function secretHolder(name: string, secret: string): { child: ChildProcess; tag: string; stop(): void } {
  const tag = newTag();
  const child = spawn('/usr/bin/sleep', [tag], { env: { [name]: secret, PATH: '/usr/bin:/bin' }, stdio: 'ignore' });
  return { child, tag, stop: () => child.kill('SIGKILL') };
}

/** A TCP service on a loopback address that answers every connection with a fixed line. */
export async function loopbackService(host = '127.0.0.1'): Promise<{ server: Server; port: number; close(): void }> {
  const server = createServer((s) => s.end('reachable\n'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return { server, port: (server.address() as { port: number }).port, close: () => server.close() };
}

/** True when IPv6 loopback is configured on this host. */
export async function hasIpv6Loopback(): Promise<boolean> {
  try {
    const svc = await loopbackService('::1');
    svc.close();
    return true;
  } catch {
    return false;
  }
}

/** A random secret for one test file. */
export const newSecret = () => `runtools-secret-${randomBytes(12).toString('hex')}`;
