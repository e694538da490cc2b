import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../functions/api/server.js';
import { startTestServer } from './api/helpers.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** `npm run smoke -- <args>` as a user runs it (asynchronously: the server answers from this process). */
function runSmoke(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'smoke', '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (out: string) => out.split('\n').filter(Boolean);

// Budget 6 s with no compile allowance: the samples (timeout 5 s) answer 200, the long execution
// (budget + 5 s) takes the 202 path, as on a deployment.
const BUDGET_MS = 6000;

describe('npm run smoke', () => {
  let healthy: RunningServer;
  let otherKey: RunningServer;
  beforeAll(async () => {
    healthy = await startTestServer({ apiKeys: ['smoke-key'], syncBudgetMs: BUDGET_MS, compileAllowanceMs: 0 });
    otherKey = await startTestServer({ apiKeys: ['another-key'], syncBudgetMs: BUDGET_MS, compileAllowanceMs: 0 });
  });
  afterAll(async () => {
    await healthy?.close();
    await otherKey?.close();
  });

  it('passes against a healthy server: every available runtime, the 202 path, a wrong key', async () => {
    const runtimes = ((await (await fetch(`${healthy.url}/v1/runtimes`, { headers: { 'x-api-key': 'smoke-key' } })).json()) as { runtimes: Array<{ runtime: string; available: boolean }> }).runtimes
      .filter((r) => r.available)
      .map((r) => r.runtime);
    expect(runtimes.length).toBeGreaterThan(0);
    const run = await runSmoke(['--url', healthy.url, '--key', 'smoke-key', '--sync-budget-ms', String(BUDGET_MS), '--example-timeout-ms', '5000', '--concurrency', '2']);
    const out = lines(run.stdout);
    expect(out.filter((l) => !l.startsWith('PASS ') && !l.startsWith('smoke: ')), run.stdout + run.stderr).toEqual([]);
    expect(run.code).toBe(0);
    expect(out).toContainEqual(expect.stringMatching(/^PASS health: /));
    expect(out).toContainEqual(expect.stringMatching(/^PASS wrong key: 401 unauthorized/));
    expect(out).toContainEqual(expect.stringMatching(/^PASS long execution \(python\): 202 queued, \d+ polls, completed/));
    for (const runtime of runtimes) {
      for (const example of ['hello', 'files', 'stdin', 'env', 'args', 'exit code', 'uncaught error']) {
        expect(out, `${runtime} ${example}`).toContainEqual(expect.stringMatching(new RegExp(`^PASS ${runtime} ${example}: 200, `)));
      }
    }
    expect(out.at(-1)).toBe(`smoke: ${runtimes.length * 7 + 4} passed, 0 failed`);
  }, 600_000);

  it('fails against a server with another key, naming the check', async () => {
    const run = await runSmoke(['--url', otherKey.url, '--key', 'smoke-key']);
    expect(run.code).toBe(1);
    const out = lines(run.stdout);
    expect(out).toContainEqual(expect.stringMatching(/^PASS health: /));
    expect(out).toContainEqual(expect.stringMatching(/^FAIL runtimes: GET \/v1\/runtimes: 401 unauthorized: /));
    expect(out.at(-1)).toMatch(/^smoke: 2 passed, 2 failed$/);
  }, 60_000);

  it('fails when a long execution is answered synchronously (the 202 path is not there)', async () => {
    const run = await runSmoke(['--url', healthy.url, '--key', 'smoke-key', '--sync-budget-ms', '1000', '--runtimes', 'python']);
    expect(run.code).toBe(1);
    expect(lines(run.stdout)).toContainEqual(expect.stringMatching(/^FAIL long execution \(python\): answered 200 for a program running 6000 ms; expected 202/));
  }, 120_000);
});
