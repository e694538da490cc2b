import { describe, expect, it } from 'vitest';
import { fixtures, runCli } from './helpers.js';

const oneLineAndHint = (stderr: string) => {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[0]).toMatch(/^runtools: /);
  expect(lines[1]).toMatch(/^hint: /);
};

describe('bad usage exits 2 with one line and a hint', () => {
  it.each([
    ['missing --runtime', ['exec', 'print(1)']],
    ['missing source', ['exec', '--runtime', 'python']],
    ['bad --timeout', ['exec', '-r', 'python', '--timeout', 'soon', 'print(1)']],
    ['bad --env', ['exec', '-r', 'python', '--env', 'NOEQUALS', 'print(1)']],
    ['a path that does not exist', ['exec', '-r', 'python', './missing.py']],
    ['--entry with inline code', ['exec', '-r', 'python', '--entry', 'main.py', 'print(1)']],
    ['an unknown option', ['exec', '-r', 'python', '--fast', 'print(1)']],
    ['an unknown command', ['run', 'print(1)']],
    ['a bad serve port', ['serve', '--port', '99999']],
  ])('%s', async (_name, args) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    oneLineAndHint(run.stderr);
  });

  it('a bad configuration variable', async () => {
    const run = await runCli(['exec', '-r', 'python', 'print(1)'], { env: { RUNTOOLS_SANDBOX: 'docker' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/RUNTOOLS_SANDBOX="docker"/);
  });
});

describe('failures of runtools itself exit 125', () => {
  it('a wrong API key', async () => {
    const fx = fixtures();
    try {
      const { startTestServer } = await import('../api/helpers.js');
      const server = await startTestServer({ apiKeys: ['right'] });
      try {
        const run = await runCli(['exec', '-r', 'python', 'print(1)'], { env: { RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: 'wrong' } });
        expect(run.code).toBe(125);
        expect(run.stderr).toMatch(/^runtools: 401 unauthorized: the API key is not valid\n$/);
      } finally {
        await server.close();
      }
    } finally {
      fx.cleanup();
    }
  });

  it('an unreachable server; --local runs here instead', async () => {
    const env = { RUNTOOLS_API_URL: 'http://127.0.0.1:9' };
    const run = await runCli(['exec', '-r', 'python', 'print(1)'], { env });
    expect(run.code).toBe(125);
    expect(run.stderr).toMatch(/^runtools: cannot reach http:\/\/127\.0\.0\.1:9/);
    const local = await runCli(['exec', '--local', '-r', 'python', 'print(1)'], { env });
    expect(local).toEqual({ code: 0, stdout: '1\n', stderr: '' });
  });
});

describe('help', () => {
  it('prints usage and exits 0', async () => {
    const run = await runCli(['exec', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--runtime <runtime>/);
  });
});
