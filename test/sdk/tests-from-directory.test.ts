import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_CASE_FILE_BYTES, testsFromDirectory } from '../../sdk/node.js';

let dir: string;
const put = (files: Record<string, string>) => {
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
};

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-cases-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('testsFromDirectory', () => {
  it('pairs .in and .out files in natural order', async () => {
    put({ '10.in': 'ten\n', '10.out': 'TEN\n', '2.in': 'two\n', '2.out': 'TWO\n', '1.in': 'one\n', '1.out': 'ONE\n', 'notes.txt': 'ignored' });
    expect(await testsFromDirectory(dir)).toEqual([
      { name: '1', stdin: 'one\n', expectedOutput: 'ONE\n' },
      { name: '2', stdin: 'two\n', expectedOutput: 'TWO\n' },
      { name: '10', stdin: 'ten\n', expectedOutput: 'TEN\n' },
    ]);
  });

  it('keeps tests with a missing side, and reads .ans when there is no .out', async () => {
    put({ 'a.in': 'only input', 'b.out': 'only output', 'c.in': 'x', 'c.ans': 'answer', 'd.in': 'y', 'd.out': 'out wins', 'd.ans': 'ans loses' });
    expect(await testsFromDirectory(dir)).toEqual([
      { name: 'a', stdin: 'only input' },
      { name: 'b', stdin: '', expectedOutput: 'only output' },
      { name: 'c', stdin: 'x', expectedOutput: 'answer' },
      { name: 'd', stdin: 'y', expectedOutput: 'out wins' },
    ]);
  });

  it('takes other extensions (then .ans is not read)', async () => {
    put({ 't1.input': 'i', 't1.expected': 'e', 't2.input': 'j', 't2.ans': 'no', '1.in': 'not a test' });
    expect(await testsFromDirectory(dir, { inputExt: '.input', outputExt: 'expected' })).toEqual([
      { name: 't1', stdin: 'i', expectedOutput: 'e' },
      { name: 't2', stdin: 'j' },
    ]);
  });

  it('returns nothing for a folder without cases', async () => {
    put({ 'README.md': '# cases' });
    expect(await testsFromDirectory(dir)).toEqual([]);
  });

  it('skips symlinks, folders and FIFOs without blocking on them', async () => {
    put({ '1.in': 'one', '1.out': 'ONE' });
    writeFileSync(path.join(os.tmpdir(), `runtools-outside-${path.basename(dir)}`), 'outside');
    try {
      symlinkSync(path.join(os.tmpdir(), `runtools-outside-${path.basename(dir)}`), path.join(dir, '2.in'));
      symlinkSync(path.join(dir, '1.out'), path.join(dir, '3.out'));
      mkdirSync(path.join(dir, '4.in'));
      execFileSync('mkfifo', [path.join(dir, '5.in')]);
      execFileSync('mkfifo', [path.join(dir, '1.ans')]);
      expect(await testsFromDirectory(dir)).toEqual([{ name: '1', stdin: 'one', expectedOutput: 'ONE' }]);
    } finally {
      rmSync(path.join(os.tmpdir(), `runtools-outside-${path.basename(dir)}`), { force: true });
    }
  }, 5000);

  it('accepts 100 tests and refuses 101, naming the limit', async () => {
    for (let i = 1; i <= 100; i++) put({ [`${i}.in`]: `${i}\n` });
    const tests = await testsFromDirectory(dir);
    expect(tests).toHaveLength(100);
    expect(tests.slice(0, 3).map((t) => t.name)).toEqual(['1', '2', '3']);
    put({ '101.out': 'x' });
    await expect(testsFromDirectory(dir)).rejects.toThrow(/101 test cases; at most 100/);
  });

  it('accepts a 1 MiB file and refuses a larger one, naming it', async () => {
    put({ 'big.in': 'x'.repeat(MAX_CASE_FILE_BYTES), 'big.out': 'y' });
    expect((await testsFromDirectory(dir))[0]!.stdin).toHaveLength(MAX_CASE_FILE_BYTES);
    put({ 'big.out': 'y'.repeat(MAX_CASE_FILE_BYTES + 1) });
    await expect(testsFromDirectory(dir)).rejects.toThrow(new RegExp(`big\\.out is larger than ${MAX_CASE_FILE_BYTES} bytes`));
  });

  it('refuses a file that is not UTF-8 text', async () => {
    writeFileSync(path.join(dir, '1.in'), Buffer.from([0xff, 0xfe, 0x00]));
    await expect(testsFromDirectory(dir)).rejects.toThrow(/1\.in is not UTF-8 text/);
  });
});
