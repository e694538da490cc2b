/**
 * No room to run (API.md "Durability and capacity"): a program fills only its own share of the
 * work root (its ENOSPC, nobody else's); a work root short of space gives 503 capacity with
 * Retry-After (never a 500) and /health degraded, until the space is back. And what a crashed
 * server left is swept on start.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTANCE_TAG } from '../../functions/runner/instance.js';
import { call, dataDir, startServerProcess, until, type ServerProcess } from './helpers.js';

const servers: ServerProcess[] = [];
afterAll(() => servers.forEach((s) => s.kill()));

const ALICE = 'alice-key-0123456789';
const BOB = 'bob-key-0123456789';

describe('disk space', () => {
  let server: ServerProcess;
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'runtools-small-root-'));
    // A private 48 MiB tmpfs as the work root, mounted in the server's own mount namespace; each
    // execution may write 16 MiB.
    server = await startServerProcess(
      {
        RUNTOOLS_WORK_ROOT: root,
        RUNTOOLS_DATA_DIR: dataDir(),
        RUNTOOLS_API_KEYS: `${ALICE},${BOB}`,
        RUNTOOLS_MIN_FREE_MB: '8',
        RUNTOOLS_WORKSPACE_MB: '16',
        RUNTOOLS_CONCURRENCY: '2',
      },
      ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o size=48m,mode=0700 tmpfs "$0" && exec "$@"', root],
    );
    servers.push(server);
  }, 60_000);

  it('a program fills only its own share: it gets ENOSPC, another tenant runs meanwhile', async () => {
    const filler = call<{ stdout: string; exitCode: number }>(`${server.url}/v1/execute`, {
      key: ALICE,
      body: {
        runtime: 'python',
        timeout: 20_000,
        code: [
          'import os, time',
          'written = 0',
          'try:',
          '    for i in range(1000):',
          '        with open(f"fill{i}", "wb") as f:',
          '            for _ in range(4):',
          '                f.write(b"x" * 1048576); f.flush(); written += 1',
          'except OSError as e:',
          '    print("own error:", e.strerror, "after", written, "MiB", flush=True)',
          'time.sleep(3)',
        ].join('\n'),
      },
    });
    await new Promise((r) => setTimeout(r, 1000));
    const bob = await call<{ stdout: string }>(`${server.url}/v1/execute`, { key: BOB, body: { runtime: 'python', code: 'open("f", "w").write("x" * 100000); print("bob runs")' } });
    expect(bob.status).toBe(200);
    expect(bob.body.stdout).toBe('bob runs\n');
    expect((await call(`${server.url}/health`)).body).toEqual({ status: 'ok' });
    const filled = await filler;
    expect(filled.status).toBe(200);
    const written = Number(/own error: No space left on device after (\d+) MiB/.exec(filled.body.stdout)?.[1]);
    expect(written).toBeGreaterThanOrEqual(12);
    expect(written).toBeLessThanOrEqual(16);
  }, 60_000);

  it('a full work root: 503 capacity with Retry-After and /health degraded for everyone, until the space is back', async () => {
    // Something else fills the work root (seen through the server's mount namespace).
    const ballast = `/proc/${server.pid}/root${root}/ballast`;
    writeFileSync(ballast, Buffer.alloc(44 * 1024 * 1024));
    try {
      const health = await call<{ status: string; reason: string }>(`${server.url}/health`);
      expect(health.status).toBe(503);
      expect(health.body.status).toBe('degraded');
      expect(health.body.reason).toMatch(/work root has \d+ MiB free, \d+ MiB needed/);
      for (const key of [ALICE, BOB]) {
        const refused = await call<{ error: { code: string; message: string } }>(`${server.url}/v1/execute`, { key, body: { runtime: 'python', code: 'print(1)' } });
        expect(refused.status).toBe(503);
        expect(refused.body.error.code).toBe('capacity');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    } finally {
      rmSync(ballast, { force: true });
    }
    expect((await call(`${server.url}/health`)).body).toEqual({ status: 'ok' });
    const after = await call<{ stdout: string }>(`${server.url}/v1/execute`, { key: BOB, body: { runtime: 'python', code: 'print("bob runs")' } });
    expect(after.status).toBe(200);
    expect(after.body.stdout).toBe('bob runs\n');
  }, 60_000);
});

describe('leftovers of a crashed server', () => {
  /** A pid no process has now. */
  function deadPid(): number {
    for (let pid = 4_000_000; ; pid--) if (!existsSync(`/proc/${pid}`)) return pid;
  }

  it('are swept on start (links and FIFOs unlinked, never followed); a live instance’s are kept', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'runtools-leftovers-'));
    const outside = mkdtempSync(path.join(tmpdir(), 'runtools-outside-'));
    writeFileSync(path.join(outside, 'precious'), 'keep me');
    const dead = path.join(root, `i${deadPid()}x12345x${'A'.repeat(12)}`);
    mkdirSync(path.join(dead, 'work/locked'), { recursive: true });
    symlinkSync(outside, path.join(dead, 'work/link-to-outside'));
    symlinkSync(path.join(outside, 'precious'), path.join(dead, 'work/link-to-file'));
    execFileSync('mkfifo', [path.join(dead, 'work/fifo')]);
    writeFileSync(path.join(dead, 'work/locked/file'), 'x');
    chmodSync(path.join(dead, 'work/locked'), 0o000);
    // One with a tmpfs of its own still mounted (RUNTOOLS_WORKSPACE_MB, as root).
    const mounted = path.join(root, `i${deadPid()}x12345x${'C'.repeat(12)}`);
    mkdirSync(mounted);
    const canMount = process.getuid?.() === 0;
    if (canMount) {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mounted]);
      mkdirSync(path.join(mounted, 'work'));
      symlinkSync(path.join(outside, 'precious'), path.join(mounted, 'work/link'));
    }
    const live = path.join(root, `${INSTANCE_TAG}${'B'.repeat(12)}`);
    mkdirSync(path.join(live, 'work'), { recursive: true });
    const foreign = path.join(root, 'not-ours');
    mkdirSync(foreign);
    // A cgroup the dead server left (where this host gives us cgroups).
    const cgroupRoot = ['/sys/fs/cgroup/runtools', '/sys/fs/cgroup/memory/runtools'].find((d) => existsSync(d));
    const deadGroup = cgroupRoot && path.join(cgroupRoot, `${path.basename(dead)}-run`);
    if (deadGroup) mkdirSync(deadGroup);

    const server = await startServerProcess({ RUNTOOLS_WORK_ROOT: root, RUNTOOLS_DATA_DIR: dataDir(), RUNTOOLS_POOL_SIZE: '0' });
    servers.push(server);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(mounted)).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(mounted);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
    expect(readFileSync(path.join(outside, 'precious'), 'utf8')).toBe('keep me');
    if (deadGroup) expect(existsSync(deadGroup)).toBe(false);
    expect(server.stdout.text).toMatch(/"removed what a stopped server left"/);
    server.kill('SIGTERM');
    await server.exited;
  }, 60_000);
});
