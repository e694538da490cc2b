import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteResult } from '../../functions/contract.js';
import { runCli } from './helpers.js';

// `runtools test` with the embedded local runner (no RUNTOOLS_API_URL), like the exec tests' local mode.
let dir: string;

const writeCases = (folder: string, cases: Record<string, string>) => {
  mkdirSync(path.join(dir, folder));
  for (const [name, content] of Object.entries(cases)) writeFileSync(path.join(dir, folder, name), content);
};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-cli-test-'));
  writeFileSync(path.join(dir, 'sum.py'), 'a, b = map(int, input().split())\nprint(a + b)\n');
  // 2.out is wrong on purpose: 2 + 2 is not 5.
  writeCases('cases', { '1.in': '1 2\n', '1.out': '3\n', '2.in': '2 2\n', '2.out': '5\n', '10.in': '10 20\n', '10.out': '30\n' });
  writeCases('good', { '1.in': '1 2\n', '1.out': '3\n', '2.in': '2 2\n', '2.out': '4\n', '10.in': '10 20\n', '10.out': '30\n' });
  writeCases('spaced', { '1.in': '', '1.out': '1 2 3\n' });
  writeCases('empty', { 'README.md': 'no cases here\n' });
  writeFileSync(
    path.join(dir, 'check.py'),
    [
      'import sys',
      'expected = int(open("expected").read())',
      'output = int(open(sys.argv[3]).read())',
      'if abs(expected - output) <= 1:',
      '    sys.exit(0)',
      'print(f"off by {output - expected}")',
      'sys.exit(1)',
      '',
    ].join('\n'),
  );
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const rowsOf = (stdout: string) => stdout.split('\n').filter((line) => /^\S+\s+(PASS|[A-Z_]{4,})\s/.test(line) && !line.startsWith('TEST'));

describe('runtools test', () => {
  it('lists the tests in natural order, shows the diff of a failure and exits 1', async () => {
    const run = await runCli(['test', '-r', 'python', '--cases', 'cases', './sum.py'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^TEST\s+VERDICT\s+TIME\s+MEMORY\n/);
    const rows = rowsOf(run.stdout);
    expect(rows.map((r) => r.split(/\s+/).slice(0, 2))).toEqual([
      ['1', 'PASS'],
      ['2', 'WRONG_ANSWER'],
      ['10', 'PASS'],
    ]);
    expect(rows[0]).toMatch(/\d+ ms\s+\d+\.\d MiB$/);
    expect(run.stdout).toMatch(/\n2 +WRONG_ANSWER.*\n {4}line 1: expected "5" got "4"\n10 /);
    expect(run.stdout).toMatch(/\n2\/3 passed, slowest \d+ ms, peak \d+\.\d MiB\n$/);
    expect(run.stdout).not.toMatch(/\x1b\[/);
    expect(run.stderr).toBe('');
  });

  it('exits 0 when every test passes', async () => {
    const run = await runCli(['test', '-r', 'python', '--cases', 'good', './sum.py'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\n3\/3 passed, /);
    expect(run.stdout).not.toMatch(/line \d+:/);
  });

  it('prints the whole result with --json', async () => {
    const run = await runCli(['test', '-r', 'py', '--json', '--cases', 'cases', './sum.py'], { cwd: dir });
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout) as ExecuteResult;
    expect(result.summary).toMatchObject({ passed: 2, total: 3 });
    expect(result.tests?.map((t) => [t.name, t.verdict])).toEqual([
      ['1', 'passed'],
      ['2', 'wrong_answer'],
      ['10', 'passed'],
    ]);
  });

  it("prints the compiler's output on stderr and exits 1 when the program does not compile", async () => {
    const run = await runCli(['test', '-r', 'cpp', '--cases', 'good', 'int main() { return 0 }'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/main\.cpp:1:\d+: error: expected .;. before/);
    expect(run.stderr).toMatch(/\ncompile error: every test skipped\n$/);
  });

  it('is a usage error (exit 2) without test cases', async () => {
    const run = await runCli(['test', '-r', 'python', '--cases', 'empty', './sum.py'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^runtools: no test cases in empty\nhint: /);
  });

  it('compares whitespace-separated tokens with --compare tokens', async () => {
    const program = 'print("1  2\\t3")';
    const lines = await runCli(['test', '-r', 'python', '--cases', 'spaced', program], { cwd: dir });
    expect(lines.code).toBe(1);
    expect(lines.stdout).toMatch(/line 1: expected "1 2 3" got "1  2\\t3"/);
    const tokens = await runCli(['test', '-r', 'python', '--cases', 'spaced', '--compare', 'tokens', program], { cwd: dir });
    expect(tokens.code).toBe(0);
    expect(tokens.stdout).toMatch(/\n1\/1 passed, /);
  });

  it('judges with a --checker program and shows its message', async () => {
    // The checker accepts answers off by at most one: 4 for 5 passes; a program adding 2 does not.
    const accept = await runCli(['test', '-r', 'python', '--cases', 'cases', '--checker', 'check.py', '--checker-runtime', 'python', './sum.py'], { cwd: dir });
    expect(accept.code).toBe(0);
    expect(accept.stdout).toMatch(/\n3\/3 passed, /);
    const reject = await runCli(
      ['test', '-r', 'python', '--cases', 'good', '--checker', 'check.py', '--checker-runtime', 'python', 'a, b = map(int, input().split())\nprint(a + b + 2)'],
      { cwd: dir },
    );
    expect(reject.code).toBe(1);
    expect(rowsOf(reject.stdout).map((r) => r.split(/\s+/)[1])).toEqual(['WRONG_ANSWER', 'WRONG_ANSWER', 'WRONG_ANSWER']);
    expect(reject.stdout).toMatch(/\n {4}off by 2\n/);
  });
});
