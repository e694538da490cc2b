import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputCollector, utf8Boundary } from '../../functions/runner/output.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

describe('OutputCollector', () => {
  it('keeps everything under the cap', () => {
    const c = new OutputCollector(10);
    expect(c.push(Buffer.from('hello'))).toBe(true);
    expect(c.text()).toBe('hello');
    expect(c.overflowed).toBe(false);
  });

  it('never cuts a UTF-8 sequence', () => {
    const c = new OutputCollector(5);
    expect(c.push(Buffer.from('aé€'))).toBe(false); // 1 + 2 + 3 bytes
    expect(c.text()).toBe('aé');
    expect(c.overflowed).toBe(true);
  });

  it('finds the boundary before a split 4-byte sequence', () => {
    const buf = Buffer.from('ab😀');
    expect(utf8Boundary(buf.subarray(0, 4))).toBe(2);
    expect(utf8Boundary(buf)).toBe(6);
  });
});

describe('output handling in the sandbox', () => {
  let t: TestRunner;
  const cap = 64 * 1024;
  beforeAll(async () => {
    t = await testRunner({ outputLimitBytes: cap });
  });
  afterAll(() => t.dispose());

  it('truncates an endless stdout flood and kills the program', async () => {
    const result = await t.run({ runtime: 'python', code: 'import sys\nwhile True:\n    sys.stdout.write("x" * 65536)', timeout: 20_000 });
    expect(result.truncated).toBe(true);
    expect(result.stdout.length).toBe(cap);
    expect(result.signal).toBe('SIGKILL');
    expect(result.exitCode).toBe(137);
    expect(result.timedOut).toBe(false);
  });

  it.each([
    ['node', "const s = 'y'.repeat(65536);\nfor (;;) process.stdout.write(s);"],
    ['node', "for (;;) console.log('x'.repeat(100));"],
    ['bun', "const s = 'y'.repeat(65536);\nfor (;;) process.stdout.write(s);"],
    ['deno', "for (;;) console.log('x'.repeat(100));"],
  ])('%s: a tight write loop is held back by the reader and cut at the cap', async (runtime, code) => {
    const result = await t.run({ runtime, code, timeout: 20_000 });
    expect(result).toMatchObject({ truncated: true, signal: 'SIGKILL', timedOut: false });
    expect(result.stdout.length).toBe(cap);
  });

  it('truncates a stderr flood without newlines', async () => {
    const result = await t.run({ runtime: 'node', code: "for (;;) process.stderr.write('e'.repeat(10000));", timeout: 20_000 });
    expect(result.truncated).toBe(true);
    expect(result.stderr.length).toBe(cap);
  });

  it('cuts multi-byte output on a character boundary', async () => {
    const result = await t.run({ runtime: 'python', code: `print("é€😀" * ${cap})`, timeout: 20_000 });
    expect(result.truncated).toBe(true);
    expect(Buffer.byteLength(result.stdout)).toBeLessThanOrEqual(cap);
    expect(result.stdout).not.toContain('\uFFFD');
  });

  it('replaces invalid UTF-8 and stays valid JSON', async () => {
    const result = await t.run({ runtime: 'python', code: 'import sys\nsys.stdout.buffer.write(b"ok\\xff\\xfe\\xc3\\n")' });
    expect(result.stdout).toBe('ok\uFFFD\uFFFD\uFFFD\n');
    expect(JSON.parse(JSON.stringify(result)).stdout).toBe(result.stdout);
  });

  it('keeps stdout and stderr apart', async () => {
    const result = await t.run({ runtime: 'python', code: 'import sys\nprint("out")\nprint("err", file=sys.stderr)\nprint("out2")' });
    expect(result.stdout).toBe('out\nout2\n');
    expect(result.stderr).toBe('err\n');
  });

  it('does not deadlock on a large stdin the program never reads', async () => {
    const result = await t.run({ runtime: 'python', code: 'print("ignored stdin")', stdin: 'z'.repeat(1024 * 1024) });
    expect(result.stdout).toBe('ignored stdin\n');
    expect(result.exitCode).toBe(0);
  });

  it('survives a program that closes stdin early', async () => {
    const result = await t.run({ runtime: 'python', code: 'import os, time\nos.close(0)\nprint("closed")', stdin: 'y'.repeat(512 * 1024) });
    expect(result.stdout).toBe('closed\n');
  });
});
