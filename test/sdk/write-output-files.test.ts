import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutputFile } from '../../sdk/index.js';
import { writeOutputFiles } from '../../sdk/node.js';

/* writeOutputFiles: a result's returned files written beneath a folder, and nowhere else. */

let base: string;
let dir: string;
let outside: string;
beforeEach(() => {
  base = mkdtempSync(path.join(os.tmpdir(), 'runtools-sdk-files-'));
  dir = path.join(base, 'results');
  outside = path.join(base, 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'keep.txt'), 'original');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const text = (p: string, content: string): OutputFile => ({ path: p, size: Buffer.byteLength(content), encoding: 'utf8', content });

describe('writeOutputFiles', () => {
  it('writes text and decoded base64 beneath the folder, creating folders; files without content are skipped', async () => {
    const bin = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 255]);
    const written = await writeOutputFiles(
      {
        files: [
          text('out/a.txt', 'alpha\n'),
          { path: 'out/sub/b.png', size: bin.length, encoding: 'base64', content: bin.toString('base64') },
          { path: 'huge.bin', size: 1 << 30, encoding: 'base64', truncated: true },
        ],
      },
      dir,
    );
    expect(written).toEqual([path.join(dir, 'out/a.txt'), path.join(dir, 'out/sub/b.png')]);
    expect(readFileSync(path.join(dir, 'out/a.txt'), 'utf8')).toBe('alpha\n');
    expect(readFileSync(path.join(dir, 'out/sub/b.png'))).toEqual(bin);
    expect(existsSync(path.join(dir, 'huge.bin'))).toBe(false);
    expect(await writeOutputFiles({}, dir)).toEqual([]);
  });

  it.each([
    ['/etc/evil', /absolute/],
    ['../outside/keep.txt', /'\.\.'/],
    ['out/../../outside/x.txt', /'\.\.'/],
    ['a\\..\\..\\x', /'\.\.'/],
    ['C:\\\\windows', /absolute/],
    ['', /not a file name/],
    ['a//b', /not a plain relative path/],
  ])('refuses %j before writing anything', async (bad, message) => {
    await expect(writeOutputFiles({ files: [text('first.txt', 'x'), text(bad, 'evil')] }, dir)).rejects.toThrow(message);
    expect(existsSync(dir)).toBe(false);
    expect(readFileSync(path.join(outside, 'keep.txt'), 'utf8')).toBe('original');
  });

  it('never writes through a symbolic link already at the destination', async () => {
    mkdirSync(dir);
    symlinkSync(path.join(outside, 'keep.txt'), path.join(dir, 'report.txt'));
    await expect(writeOutputFiles({ files: [text('report.txt', 'evil')] }, dir)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(path.join(outside, 'keep.txt'), 'utf8')).toBe('original');
    expect(lstatSync(path.join(dir, 'report.txt')).isSymbolicLink()).toBe(true);
  });

  it('never follows a folder on the way that is a symbolic link', async () => {
    mkdirSync(dir);
    symlinkSync(outside, path.join(dir, 'out'));
    await expect(writeOutputFiles({ files: [text('out/new.txt', 'evil')] }, dir)).rejects.toThrow(/symbolic link/);
    expect(readdirSync(outside)).toEqual(['keep.txt']);
  });

  it('does not overwrite a file already there', async () => {
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'a.txt'), 'mine');
    await expect(writeOutputFiles({ files: [text('a.txt', 'theirs')] }, dir)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('mine');
  });
});
