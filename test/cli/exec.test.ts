import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteResult } from '../../functions/contract.js';
import type { RunningServer } from '../../functions/api/server.js';
import { startTestServer } from '../api/helpers.js';
import { fixtures, runCli } from './helpers.js';
import { RUNTIME_IDS } from '../../functions/runtimes.js';

let fx: ReturnType<typeof fixtures>;
let server: RunningServer;

beforeAll(async () => {
  fx = fixtures();
  server = await startTestServer({ apiKeys: ['cli-key'] });
});
afterAll(async () => {
  fx.cleanup();
  await server.close();
});

const modes = [
  ['locally', () => ({})],
  ['through RUNTOOLS_API_URL', () => ({ RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: 'cli-key' })],
] as const;

describe.each(modes)('runtools exec %s', (_mode, env) => {
  it('runs inline code', async () => {
    const run = await runCli(['exec', '--runtime', 'python', 'print(1 + 1)'], { env: env() });
    expect(run).toEqual({ code: 0, stdout: '2\n', stderr: '' });
  });

  it('runs a file with -- args and exits with its exit code', async () => {
    const run = await runCli(['exec', '--runtime', 'python', './script.py', '--', 'a', '--b'], { env: env(), cwd: fx.dir });
    expect(run.stdout).toBe("args ['a', '--b']\n");
    expect(run.code).toBe(3);
  });

  it('runs a folder with --entry, skipping dotfiles and node_modules', async () => {
    const run = await runCli(['exec', '--runtime', 'python', '--entry', 'main.py', './src/'], { env: env(), cwd: fx.dir });
    expect(run.stdout).toBe("Hello, World!\n['main.py', 'pkg']\n");
    expect(run.code).toBe(0);
  });

  it("feeds piped stdin to the program", async () => {
    const run = await runCli(['exec', '--runtime', 'python', './hello.py'], { env: env(), cwd: fx.dir, input: 'Alice\n' });
    expect(run).toEqual({ code: 0, stdout: 'Hello, Alice!\n', stderr: '' });
  });

  it('prints the whole result with --json, passing --stdin, --env and --timeout', async () => {
    const code = 'import os, sys\nprint(os.environ["GREETING"], sys.stdin.read())\nsys.exit(4)';
    const run = await runCli(['exec', '-r', 'py', '--json', '--stdin', 'there', '--env', 'GREETING=hi', '--timeout', '5000', code], { env: env() });
    const result = JSON.parse(run.stdout) as ExecuteResult;
    expect(result).toMatchObject({ stdout: 'hi there\n', exitCode: 4, timedOut: false, runtime: 'python' });
    expect(run.code).toBe(4);
  });

  it('reports a timeout and exits with the killed program status', async () => {
    const run = await runCli(['exec', '-r', 'python', '--timeout', '500', 'import time; time.sleep(30)'], { env: env() });
    expect(run.code).toBe(137);
    expect(run.stderr).toMatch(/timed out after 500 ms/);
  });

  it('writes the program stderr to stderr', async () => {
    const run = await runCli(['exec', '-r', 'python', 'raise ValueError("Something went wrong")'], { env: env() });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/Traceback[\s\S]*ValueError: Something went wrong/);
  });

  it('rejects an unknown runtime with exit 2 and no stack trace', async () => {
    const run = await runCli(['exec', '-r', 'cobol', 'DISPLAY 1'], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^runtools: runtime: unknown runtime "cobol"/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('lists runtimes', async () => {
    const table = await runCli(['runtimes'], { env: env() });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^RUNTIME\s+VERSION\s+AVAILABLE/);
    expect(table.stdout).toMatch(/\npython\s+\S+\s+yes\s+main\.py/);
    const json = await runCli(['runtimes', '--json'], { env: env() });
    expect((JSON.parse(json.stdout) as { runtimes: unknown[] }).runtimes).toHaveLength(RUNTIME_IDS.length);
  });
});
