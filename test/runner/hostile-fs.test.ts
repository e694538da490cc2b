import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBeneath, checkTreeBeneath, copyOutOf, copyTreeOutOf, openBeneath, relativeBeneath, UnsafeFileError } from '../../functions/runner/hostile-fs.js';

const GiB = 1024 * 1024 * 1024;

let root: string;
let host: string;
let socket: Server;

beforeAll(async () => {
  host = mkdtempSync(path.join(os.tmpdir(), 'runtools-hostile-host-'));
  writeFileSync(path.join(host, 'secret'), 'host secret\n', { mode: 0o600 });
  writeFileSync(path.join(host, 'main'), 'host main\n', { mode: 0o600 });
  root = mkdtempSync(path.join(os.tmpdir(), 'runtools-hostile-'));
  mkdirSync(path.join(root, 'target/debug'), { recursive: true });
  writeFileSync(path.join(root, 'target/debug/main'), 'binary\n');
  symlinkSync(path.join(host, 'secret'), path.join(root, 'to-file'));
  symlinkSync(host, path.join(root, 'to-dir'));
  symlinkSync('target', path.join(root, 'relative-link'));
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  socket = createServer();
  await new Promise<void>((resolve) => socket.listen(path.join(root, 'socket'), resolve));
  writeFileSync(path.join(root, 'huge'), '');
  truncateSync(path.join(root, 'huge'), 10 * GiB);
});

afterAll(() => {
  socket.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(host, { recursive: true, force: true });
});

/** The refusal `promise` rejects with. */
async function refusal(promise: Promise<unknown>): Promise<{ reason: string; detail: string }> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UnsafeFileError);
  const { reason, detail } = err as UnsafeFileError;
  return { reason, detail };
}

describe('openBeneath', () => {
  it('opens a regular file beneath the root and reads it from the descriptor', async () => {
    const { handle, size } = await openBeneath(root, 'target/debug/main', 1024);
    try {
      expect(size).toBe(7);
      expect(await handle.readFile('utf8')).toBe('binary\n');
    } finally {
      await handle.close();
    }
  });

  it('refuses a symlink to a host file, to a host directory, and a relative one inside the root', async () => {
    expect(await refusal(openBeneath(root, 'to-file', 1024))).toEqual({ reason: 'symlink', detail: 'a symbolic link' });
    expect(await refusal(openBeneath(root, 'to-dir', 1024))).toEqual({ reason: 'symlink', detail: 'a symbolic link' });
    expect(await refusal(openBeneath(root, 'relative-link/debug/main', 1024))).toEqual({ reason: 'symlink', detail: 'relative-link is a symbolic link' });
  });

  it('refuses a symlinked intermediate directory, though the file at its end is regular', async () => {
    expect(await refusal(openBeneath(root, 'to-dir/main', 1024))).toEqual({ reason: 'symlink', detail: 'to-dir is a symbolic link' });
  });

  it('does not block on a FIFO', async () => {
    const started = Date.now();
    expect(await refusal(openBeneath(root, 'fifo', 1024))).toEqual({ reason: 'fifo', detail: 'a FIFO' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a socket, a directory, a file where a directory should be, and nothing at all', async () => {
    expect(await refusal(openBeneath(root, 'socket', 1024))).toMatchObject({ reason: 'socket' });
    expect(await refusal(openBeneath(root, 'target/debug', 1024))).toMatchObject({ reason: 'directory' });
    expect(await refusal(openBeneath(root, 'target/debug/main/x', 1024))).toEqual({ reason: 'not-a-directory', detail: 'target/debug/main is not a directory' });
    expect(await refusal(openBeneath(root, 'target/release/main', 1024))).toEqual({ reason: 'missing', detail: 'target/release is nothing there' });
    expect(await refusal(openBeneath(root, 'absent', 1024))).toEqual({ reason: 'missing', detail: 'nothing there' });
  });

  it('refuses a file over the bound by its size, without reading it (a 10 GB sparse file)', async () => {
    const started = Date.now();
    const { reason, detail } = await refusal(openBeneath(root, 'huge', 512 * 1024 * 1024));
    expect(reason).toBe('too-large');
    expect(detail).toBe(`too large: ${10 * GiB} bytes, limit ${512 * 1024 * 1024}`);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it.each(['../out/target/debug/main', 'target/../target/debug/main', './target/debug/main', 'target//debug/main', '/etc/passwd', '', 'target/debug/main/', 'a\0b'])(
    'refuses the path %j without touching the filesystem',
    async (rel) => {
      expect(await refusal(openBeneath(root, rel, 1024))).toMatchObject({ reason: 'bad-path' });
    },
  );
});

describe('copyOutOf', () => {
  it('copies a regular file into a new 0755 file', async () => {
    const dest = path.join(mkdtempSync(path.join(os.tmpdir(), 'runtools-hostile-dest-')), 'binary');
    expect(await copyOutOf(root, 'target/debug/main', dest, 1024)).toBe(7);
    expect(readFileSync(dest, 'utf8')).toBe('binary\n');
    expect(statSync(dest).mode & 0o777).toBe(0o755);
    rmSync(path.dirname(dest), { recursive: true });
  });

  it('never writes through something already at the destination, a link to a host file included', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-hostile-dest-'));
    const dest = path.join(dir, 'binary');
    symlinkSync(path.join(host, 'main'), dest);
    await expect(copyOutOf(root, 'target/debug/main', dest, 1024)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(path.join(host, 'main'), 'utf8')).toBe('host main\n');
    expect(lstatSync(dest).isSymbolicLink()).toBe(true);
    rmSync(dir, { recursive: true });
  });

  it('creates nothing when the source is refused', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-hostile-dest-'));
    for (const rel of ['to-file', 'fifo', 'socket', 'huge', 'to-dir/secret']) {
      await expect(copyOutOf(root, rel, path.join(dir, 'binary'), 1024 * 1024)).rejects.toBeInstanceOf(UnsafeFileError);
    }
    expect(() => lstatSync(path.join(dir, 'binary'))).toThrow();
    rmSync(dir, { recursive: true });
  });
});

describe('checkBeneath and relativeBeneath', () => {
  it('checkBeneath returns the size of a regular file', async () => {
    expect(await checkBeneath(root, 'target/debug/main', 7)).toBe(7);
    expect(await refusal(checkBeneath(root, 'target/debug/main', 6))).toMatchObject({ reason: 'too-large' });
  });

  it('relativeBeneath accepts only names strictly beneath the root', () => {
    expect(relativeBeneath('/out', '/out/target/debug/main')).toBe('target/debug/main');
    expect(relativeBeneath('/out', '/out/./target//debug/main')).toBe('target/debug/main');
    expect(relativeBeneath('/out', 'target/debug/main')).toBe('target/debug/main');
    expect(relativeBeneath('/out', '/out')).toBeNull();
    expect(relativeBeneath('/out', '/out/../etc/passwd')).toBeNull();
    expect(relativeBeneath('/out', '/etc/passwd')).toBeNull();
    expect(relativeBeneath('/out', '/outside')).toBeNull();
  });
});

describe('checkTreeBeneath and copyTreeOutOf (a directory binary: Java classes)', () => {
  const limits = { maxEntries: 100, maxBytes: 1024 * 1024 };
  let out: string;
  let dests: string;
  let fifoServer: Server;

  /** A class directory `name` beneath `out` with a package and a few classes, plus `plant(dir)` inside it. */
  function classes(name: string, plant?: (dir: string) => void): string {
    const dir = path.join(out, name);
    mkdirSync(path.join(dir, 'app/util'), { recursive: true });
    writeFileSync(path.join(dir, 'Main.class'), 'main class\n');
    writeFileSync(path.join(dir, 'app/Helper.class'), 'helper\n');
    writeFileSync(path.join(dir, 'app/util/Deep.class'), 'deep\n');
    plant?.(dir);
    return name;
  }

  beforeAll(async () => {
    out = mkdtempSync(path.join(os.tmpdir(), 'runtools-hostile-tree-'));
    dests = mkdtempSync(path.join(os.tmpdir(), 'runtools-hostile-tree-dest-'));
    classes('clean');
    classes('link-file', (d) => symlinkSync(path.join(host, 'secret'), path.join(d, 'app/Leak.class')));
    classes('link-dir', (d) => symlinkSync(host, path.join(d, 'app/util/host')));
    classes('fifo', (d) => execFileSync('mkfifo', [path.join(d, 'app/Pipe.class')]));
    classes('socket');
    fifoServer = createServer();
    await new Promise<void>((resolve) => fifoServer.listen(path.join(out, 'socket/app/Sock.class'), resolve));
    classes('huge', (d) => {
      writeFileSync(path.join(d, 'app/Huge.class'), '');
      truncateSync(path.join(d, 'app/Huge.class'), 10 * GiB);
    });
    classes('many', (d) => {
      for (let i = 0; i < 150; i++) writeFileSync(path.join(d, `C${i}.class`), '');
    });
    classes('deep', (d) => mkdirSync(path.join(d, 'a/b/c/d/e/f'), { recursive: true }));
    symlinkSync(path.join(out, 'clean'), path.join(out, 'root-link'));
  });

  afterAll(() => {
    fifoServer.close();
    rmSync(out, { recursive: true, force: true });
    rmSync(dests, { recursive: true, force: true });
  });

  it('copies a tree of regular files: the same names and contents, files 0644, directories 0755', async () => {
    const dest = path.join(dests, 'clean');
    expect(await copyTreeOutOf(out, 'clean', dest, limits)).toEqual({ files: 3, directories: 3, bytes: 11 + 7 + 5 });
    expect(readFileSync(path.join(dest, 'Main.class'), 'utf8')).toBe('main class\n');
    expect(readFileSync(path.join(dest, 'app/util/Deep.class'), 'utf8')).toBe('deep\n');
    expect(statSync(path.join(dest, 'app/Helper.class')).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(dest, 'app/util')).mode & 0o777).toBe(0o755);
    expect(await checkTreeBeneath(out, 'clean', limits)).toEqual({ files: 3, directories: 3, bytes: 23 });
  });

  it.each([
    ['link-file', 'symlink', 'link-file/app/Leak.class is a symbolic link'],
    ['link-dir', 'symlink', 'link-dir/app/util/host is a symbolic link'],
    ['fifo', 'fifo', 'fifo/app/Pipe.class is a FIFO'],
    ['socket', 'socket', 'socket/app/Sock.class is a socket'],
    ['huge', 'too-large', `huge holds more than ${1024 * 1024} bytes (huge/app/Huge.class: ${10 * GiB})`],
    ['many', 'too-many', 'many holds more than 100 entries'],
    ['root-link', 'symlink', 'a symbolic link'],
  ])('refuses the whole tree %s (%s), creating nothing and reading nothing of the host', async (name, reason, detail) => {
    const dest = path.join(dests, name);
    const started = Date.now();
    expect(await refusal(checkTreeBeneath(out, name, limits))).toEqual({ reason, detail });
    expect(await refusal(copyTreeOutOf(out, name, dest, limits))).toEqual({ reason, detail });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses a tree nested deeper than its bound', async () => {
    expect(await refusal(checkTreeBeneath(out, 'deep', { ...limits, maxDepth: 4 }))).toEqual({ reason: 'too-deep', detail: 'deep/a/b/c/d/e is nested more than 4 levels deep' });
    expect(await checkTreeBeneath(out, 'deep', limits)).toMatchObject({ files: 3 });
  });

  it('never opens a FIFO in the tree: a writer waiting on it stays blocked', async () => {
    const fifo = path.join(out, 'fifo/app/Pipe.class');
    const marker = path.join(dests, 'fifo-opened');
    // Its open returns once a reader opens the FIFO, whatever happens next.
    const writer = spawn('sh', ['-c', `exec 3> '${fifo}'; touch '${marker}'`], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      await refusal(copyTreeOutOf(out, 'fifo', path.join(dests, 'fifo-2'), limits));
      await new Promise((r) => setTimeout(r, 300));
      expect(existsSync(marker)).toBe(false);
    } finally {
      writer.kill('SIGKILL');
    }
  });

  it('never writes through something already at the destination', async () => {
    const dest = path.join(dests, 'taken');
    symlinkSync(host, dest);
    await expect(copyTreeOutOf(out, 'clean', dest, limits)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readdirSync(host).sort()).toEqual(['main', 'secret']);
  });

  it('refuses a path that is not plain, or not a directory', async () => {
    expect(await refusal(checkTreeBeneath(out, '../clean', limits))).toMatchObject({ reason: 'bad-path' });
    expect(await refusal(checkTreeBeneath(out, 'clean/Main.class', limits))).toMatchObject({ reason: 'not-a-directory' });
    expect(await refusal(checkTreeBeneath(out, 'absent', limits))).toMatchObject({ reason: 'missing' });
  });
});
