import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIMES } from '../../functions/runtimes.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

// Every runtime of the registry, through the same programs in its own language (functions/runtimes.ts samples).
describe.each(RUNTIMES.map((r) => [r.id, r] as const))('%s', (runtime, facts) => {
  const p = facts.samples;
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('runs hello world and reports its real version', async () => {
    const result = await t.run({ runtime, code: facts.hello });
    expect(result).toMatchObject({ stdout: 'hello\n', exitCode: 0, timedOut: false, signal: null, truncated: false, runtime });
    expect(result.version).toMatch(/^\d+\.\d+/);
  });

  it('imports a helper module from another file', async () => {
    const result = await t.run({ runtime, files: { ...p.multi } });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('Hello, W!\n');
  });

  it('reads stdin', async () => {
    const result = await t.run({ runtime, code: p.stdin, stdin: 'line one\nline two\n' });
    expect(result.stdout).toBe('LINE ONE\nLINE TWO\n');
  });

  it('sees the request env', async () => {
    const result = await t.run({ runtime, code: p.env, env: { GREETING: 'hi from env' } });
    expect(result.stdout).toBe('hi from env\n');
  });

  it('receives args', async () => {
    const result = await t.run({ runtime, code: p.args, args: ['a', 'b c', '--flag'] });
    expect(result.stdout).toBe('a|b c|--flag\n');
  });

  it('reports a non-zero exit', async () => {
    const result = await t.run({ runtime, code: p.exit });
    expect(result).toMatchObject({ exitCode: 3, timedOut: false });
  });

  it('reports an uncaught error on stderr', async () => {
    const result = await t.run({ runtime, code: p.error.code });
    expect(result.exitCode).toBe(p.error.exitCode);
    expect(result.stderr).toMatch(new RegExp(p.error.stderr));
  });

  it('kills the program and its sleeping child at the timeout', async () => {
    const result = await t.run({ runtime, code: p.sleeper, timeout: 1500 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: 137 });
    expect(result.executionTime).toBeLessThan(30_000);
  });

  it('removes every work directory', async () => {
    expect(await t.leftovers()).toEqual([]);
  });
});
