import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { ExecuteRequestSchema, type ExecuteRequest, type ExecuteResult } from '../../functions/contract.js';
import { createRunner, type RunnerOptions, type Sandbox, type SandboxKind } from '../../functions/runner/index.js';
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
