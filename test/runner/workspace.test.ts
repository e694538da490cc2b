import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unlockTree } from '../../functions/runner/workspace.js';

describe('unlockTree', () => {
  let root: string;
  let host: string;
  const mode = (p: string) => statSync(p).mode & 0o777;

  beforeAll(() => {
    host = mkdtempSync(path.join(os.tmpdir(), 'runtools-unlock-host-'));
    chmodSync(host, 0o751);
    writeFileSync(path.join(host, 'file'), 'host\n', { mode: 0o640 });
    root = mkdtempSync(path.join(os.tmpdir(), 'runtools-unlock-'));
    mkdirSync(path.join(root, 'locked/inner'), { recursive: true });
    symlinkSync(host, path.join(root, 'locked/inner/to-host-dir'));
    symlinkSync(path.join(host, 'file'), path.join(root, 'locked/to-host-file'));
    symlinkSync(host, path.join(root, 'to-host-dir'));
    chmodSync(path.join(root, 'locked/inner'), 0);
    chmodSync(path.join(root, 'locked'), 0);
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(host, { recursive: true, force: true });
  });

  it('never changes what a link points to, called on the link itself', async () => {
    await unlockTree(path.join(root, 'to-host-dir'));
    await unlockTree(path.join(root, 'locked/to-host-file'));
    expect(mode(host)).toBe(0o751);
    expect(mode(path.join(host, 'file'))).toBe(0o640);
  });

  it('reopens every real directory of a tree and leaves its links and their targets alone', async () => {
    await unlockTree(root);
    expect(mode(path.join(root, 'locked'))).toBe(0o700);
    expect(mode(path.join(root, 'locked/inner'))).toBe(0o700);
    expect(mode(host)).toBe(0o751);
    expect(mode(path.join(host, 'file'))).toBe(0o640);
  });
});
