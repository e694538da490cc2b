import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { startTestServer } from '../api/helpers.js';

/* runtools exec --stream: output printed as the program writes it, locally and through the API. */

const BIN = path.resolve(import.meta.dirname, '../../bin/runtools.mjs');
const PROGRAM = 'import sys, time\nprint("first", flush=True)\nprint("warn", file=sys.stderr, flush=True)\ntime.sleep(1.5)\nprint("second")\nsys.exit(3)';

/** Runs the CLI and notes when stdout's first bytes and the exit came. */
function timed(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; firstAt: number; exitAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let firstAt = 0;
    child.stdout.on('data', (d: Buffer) => {
      firstAt ||= Date.now();
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, firstAt, exitAt: Date.now() }));
    child.stdin.end();
  });
}

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('runtools exec --stream', () => {
  it.each([
    ['on this machine', {}],
    ['through the API (Server-Sent Events)', { remote: true }],
  ])('%s: output arrives while the program runs, the exit code is the program\'s', async (_where, how) => {
    const env: Record<string, string> = 'remote' in how ? { RUNTOOLS_API_URL: server.url } : {};
    const r = await timed(['exec', '--stream', '-r', 'python', PROGRAM], env);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('first\nsecond\n');
    expect(r.stderr).toContain('warn\n');
    expect(r.exitAt - r.firstAt).toBeGreaterThan(1000);
  });
});
