import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteResult } from '../../functions/contract.js';
import { collectOutputs } from '../../functions/runner/outputs.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

/*
 * Files out (API.md "Files out"): after the run, the regular files of the work directory that
 * match the request's `outputs` come back in the result, read as hostile data: links, FIFOs,
 * sockets and devices are skipped unopened, folders behind links are never entered, nothing
 * blocks, and every read is bounded.
 */

const GiB = 1024 ** 3;
const SECRET = 'TOP-SECRET-host-file-7f3a';
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** A program that writes the usual layout: out/a.txt, out/sub/b.bin (binary), .hidden, x.log. */
const LAYOUT = `import os
os.makedirs("out/sub")
open("out/a.txt", "w").write("alpha\\n")
open("out/sub/b.bin", "wb").write(bytes([0, 1, 2, 255, 254]))
open(".hidden", "w").write("dot\\n")
open("x.log", "w").write("log line\\n")
`;

const paths = (r: ExecuteResult) => r.files?.map((f) => f.path);

describe.each(['bwrap', 'process'] as const)('outputs (%s)', (sandbox) => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner({ sandbox });
  });
  afterAll(() => t.dispose());

  it('returns the matching regular files in path order: text as utf8, binary as base64, with their sizes', async () => {
    const r = await t.run({ runtime: 'python', code: LAYOUT, outputs: ['out/**', '*.log'] });
    expect(r.status).toBe('ok');
    expect(r.files).toEqual([
      { path: 'out/a.txt', size: 6, encoding: 'utf8', content: 'alpha\n' },
      { path: 'out/sub/b.bin', size: 5, encoding: 'base64', content: Buffer.from([0, 1, 2, 255, 254]).toString('base64') },
      { path: 'x.log', size: 9, encoding: 'utf8', content: 'log line\n' },
    ]);
    expect(r.filesTruncated).toBe(false);
    expect(await t.leftovers()).toEqual([]);
  });

  it('matches a dotfile only when the pattern names its leading dot', async () => {
    const star = await t.run({ runtime: 'python', code: LAYOUT, outputs: ['*'] });
    expect(paths(star)).toEqual(['main.py', 'x.log']);
    const named = await t.run({ runtime: 'python', code: LAYOUT, outputs: ['.hidden'] });
    expect(named.files).toEqual([{ path: '.hidden', size: 4, encoding: 'utf8', content: 'dot\n' }]);
  });

  it('answers an empty list when nothing matches, and leaves files out of results that did not ask', async () => {
    const none = await t.run({ runtime: 'python', code: LAYOUT, outputs: ['*.png'] });
    expect(none).toMatchObject({ files: [], filesTruncated: false });
    const plain = await t.run({ runtime: 'python', code: LAYOUT });
    expect(plain).not.toHaveProperty('files');
    expect(plain).not.toHaveProperty('filesTruncated');
  });
});

describe('outputs: what comes back after a run that did not end well, or never ran', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('a failing or timed-out program still returns what it wrote', async () => {
    const failed = await t.run({ runtime: 'python', code: 'open("partial.csv", "w").write("a,b\\n")\nraise SystemExit(3)', outputs: ['*.csv'] });
    expect(failed).toMatchObject({ exitCode: 3, files: [{ path: 'partial.csv', content: 'a,b\n' }] });
    const slow = await t.run({ runtime: 'python', code: 'import time\nopen("progress.txt", "w").write("half")\ntime.sleep(30)', timeout: 1000, outputs: ['*.txt'] });
    expect(slow).toMatchObject({ status: 'timeout', files: [{ path: 'progress.txt', content: 'half' }] });
  });

  it('a compile error has no files: the program did not run', async () => {
    const r = await t.run({ runtime: 'c', code: 'int main( {', outputs: ['**'] });
    expect(r.status).toBe('compile_error');
    expect(r).not.toHaveProperty('files');
  });
});

describe('outputs: bounds (server-configurable)', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner({ outputBounds: { maxFiles: 3, maxFileBytes: 1000, maxTotalBytes: 2500 } });
  });
  afterAll(() => t.dispose());

  it('a file over the per-file bound is listed with its real size, truncated and without content', async () => {
    const r = await t.run({ runtime: 'python', code: 'open("big.txt", "w").write("x" * 1001)\nopen("ok.txt", "w").write("y" * 1000)', outputs: ['*.txt'] });
    expect(r.files).toEqual([
      { path: 'big.txt', size: 1001, encoding: 'base64', truncated: true },
      { path: 'ok.txt', size: 1000, encoding: 'utf8', content: 'y'.repeat(1000) },
    ]);
    expect(r.filesTruncated).toBe(false);
  });

  it('more matches than the count bound: the first ones in path order, and filesTruncated', async () => {
    const r = await t.run({ runtime: 'python', code: 'for i in [5, 3, 1, 4, 2]:\n    open(f"n{i}.txt", "w").write(str(i))', outputs: ['*.txt'] });
    expect(paths(r)).toEqual(['n1.txt', 'n2.txt', 'n3.txt']);
    expect(r.files!.every((f) => f.content !== undefined)).toBe(true);
    expect(r.filesTruncated).toBe(true);
  });

  it('the total bound: content stops at the first file that does not fit, the rest listed without it', async () => {
    const r = await t.run({ runtime: 'python', code: 'for n in ["t1", "t2", "t3"]:\n    open(n + ".txt", "w").write("z" * 1000)', outputs: ['*.txt'] });
    expect(r.files).toEqual([
      { path: 't1.txt', size: 1000, encoding: 'utf8', content: 'z'.repeat(1000) },
      { path: 't2.txt', size: 1000, encoding: 'utf8', content: 'z'.repeat(1000) },
      { path: 't3.txt', size: 1000, encoding: 'base64', truncated: true },
    ]);
    expect(r.filesTruncated).toBe(true);
  });
});

describe('outputs: what a hostile program plants is skipped, never followed, never blocks', () => {
  let t: TestRunner;
  let host: string;
  beforeAll(async () => {
    host = mkdtempSync(path.join(os.tmpdir(), 'runtools-outputs-host-'));
    writeFileSync(path.join(host, 'secret.txt'), `${SECRET}\n`);
    mkdirSync(path.join(host, 'dir'));
    writeFileSync(path.join(host, 'dir', 'secret.txt'), `${SECRET}\n`);
    // Room for a 1 GiB sparse file (the run phase's default file size limit is 128 MiB).
    t = await testRunner({ limits: { fileSizeBytes: 2 * GiB } });
  });
  afterAll(() => {
    t.dispose();
    rmSync(host, { recursive: true, force: true });
  });

  it('links to host files and folders, links inside the work directory, a FIFO and a 1 GiB sparse file', { timeout: 30_000 }, async () => {
    const code = `import os
os.symlink(${JSON.stringify(path.join(host, 'secret.txt'))}, "leak.txt")
os.symlink(${JSON.stringify(path.join(host, 'dir'))}, "linked")
open("real.txt", "w").write("real")
os.symlink("real.txt", "inner.txt")
os.mkfifo("pipe.txt")
with open("big.txt", "wb") as f:
    f.truncate(1 << 30)
print("planted")
`;
    const started = Date.now();
    const r = await t.run({ runtime: 'python', code, outputs: ['*.txt', 'linked/**', '**/secret.txt'] });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(r).toMatchObject({ stdout: 'planted\n', status: 'ok' });
    expect(r.files).toEqual([
      { path: 'big.txt', size: GiB, encoding: 'base64', truncated: true },
      { path: 'real.txt', size: 4, encoding: 'utf8', content: 'real' },
    ]);
    expect(r.filesTruncated).toBe(false);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(JSON.stringify(r)).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 16));
  });
});

describe('outputs: matplotlib and pandas (python notebook defaults)', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('a plot saved with savefig comes back as a PNG, base64; pandas imports', async () => {
    const code = `import matplotlib.pyplot as plt
import pandas as pd
df = pd.DataFrame({"x": [1, 2, 3], "y": [1, 4, 9]})
df.plot(x="x", y="y")
plt.savefig("plot.png")
print(len(df))
`;
    const r = await t.run({ runtime: 'python', code, outputs: ['*.png'] });
    expect(r).toMatchObject({ stdout: '3\n', stderr: '', exitCode: 0 });
    expect(r.files).toHaveLength(1);
    const [png] = r.files!;
    expect(png).toMatchObject({ path: 'plot.png', encoding: 'base64' });
    const bytes = Buffer.from(png!.content!, 'base64');
    expect([...bytes.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(bytes.length).toBe(png!.size);
  });

  it('MPLBACKEND is Agg by default, and a request env wins', async () => {
    const code = 'import os\nprint(os.environ.get("MPLBACKEND"))';
    expect((await t.run({ runtime: 'python', code })).stdout).toBe('Agg\n');
    expect((await t.run({ runtime: 'python', code, env: { MPLBACKEND: 'svg' } })).stdout).toBe('svg\n');
  });

  it('also in an interpreter started ahead of the request', async () => {
    const ahead = await testRunner({ poolSize: 1 });
    try {
      const r = await ahead.run({ runtime: 'python', code: 'import os\nprint(os.environ.get("MPLBACKEND"))' });
      expect(r.stdout).toBe('Agg\n');
    } finally {
      await ahead.runner.close();
      ahead.dispose();
    }
  });
});

describe('collectOutputs on a directory the host planted', () => {
  let dir: string;
  let host: string;
  let socket: Server;
  beforeAll(async () => {
    host = mkdtempSync(path.join(os.tmpdir(), 'runtools-outputs-secret-'));
    writeFileSync(path.join(host, 'secret.txt'), `${SECRET}\n`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-outputs-work-'));
    writeFileSync(path.join(dir, 'a.txt'), 'a');
    writeFileSync(path.join(dir, 'empty.txt'), '');
    writeFileSync(path.join(dir, 'bom.txt'), '\uFEFFbom');
    writeFileSync(path.join(dir, 'nul.txt'), 'a\0b');
    writeFileSync(path.join(dir, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    symlinkSync(path.join(host, 'secret.txt'), path.join(dir, 'leak.txt'));
    symlinkSync(host, path.join(dir, 'hostdir'));
    execFileSync('mkfifo', [path.join(dir, 'pipe.txt')]);
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(path.join(dir, 'sock.txt'), resolve));
    writeFileSync(path.join(dir, 'sparse.txt'), '');
    truncateSync(path.join(dir, 'sparse.txt'), 10 * GiB);
    mkdirSync(path.join(dir, 'deep/1/2/3/4'), { recursive: true });
    writeFileSync(path.join(dir, 'deep/1/2/3/4/x.txt'), 'deep');
    mkdirSync(path.join(dir, 'wide'));
    for (let i = 0; i < 50; i++) writeFileSync(path.join(dir, 'wide', `f${String(i).padStart(2, '0')}.txt`), String(i));
  });
  afterAll(() => {
    socket.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(host, { recursive: true, force: true });
  });

  it('skips links, the FIFO, the socket; lists a 10 GiB sparse file without reading it; encodes each file by its bytes', async () => {
    const started = Date.now();
    const { files, filesTruncated } = await collectOutputs(dir, ['*.txt', 'hostdir/**']);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(files).toEqual([
      { path: 'a.txt', size: 1, encoding: 'utf8', content: 'a' },
      { path: 'bom.txt', size: 6, encoding: 'utf8', content: '\uFEFFbom' },
      { path: 'empty.txt', size: 0, encoding: 'utf8', content: '' },
      { path: 'latin1.txt', size: 4, encoding: 'base64', content: Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('base64') },
      { path: 'nul.txt', size: 3, encoding: 'base64', content: Buffer.from('a\0b').toString('base64') },
      { path: 'sparse.txt', size: 10 * GiB, encoding: 'base64', truncated: true },
    ]);
    expect(filesTruncated).toBe(false);
    expect(JSON.stringify(files)).not.toContain(SECRET);
  });

  it('never opens a FIFO that matches: a writer waiting on it stays blocked', async () => {
    const marker = path.join(host, 'fifo-opened');
    const writer = spawn('sh', ['-c', `exec 3> '${path.join(dir, 'pipe.txt')}'; touch '${marker}'`], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      await collectOutputs(dir, ['pipe.txt', '**']);
      await new Promise((r) => setTimeout(r, 300));
      expect(existsSync(marker)).toBe(false);
    } finally {
      writer.kill('SIGKILL');
    }
  });

  it('entry and depth bounds cut the walk short and say so', async () => {
    const few = await collectOutputs(dir, ['wide/*'], { maxEntries: 30 });
    expect(few.filesTruncated).toBe(true);
    expect(few.files.length).toBeLessThan(30);
    const all = await collectOutputs(dir, ['wide/*']);
    expect(all.files).toHaveLength(50);
    expect(all.filesTruncated).toBe(false);
    expect(await collectOutputs(dir, ['deep/**'])).toMatchObject({ files: [{ path: 'deep/1/2/3/4/x.txt', content: 'deep' }], filesTruncated: false });
    expect(await collectOutputs(dir, ['deep/**'], { maxDepth: 3 })).toEqual({ files: [], filesTruncated: true });
    // A folder no pattern would enter is not cut short, however deep.
    expect((await collectOutputs(dir, ['a.txt'], { maxDepth: 1 })).filesTruncated).toBe(false);
  });

  it('with a per-file or total bound of 0, files are listed by size only', async () => {
    const { files, filesTruncated } = await collectOutputs(dir, ['a.txt', 'empty.txt'], { maxTotalBytes: 0 });
    expect(files).toEqual([
      { path: 'a.txt', size: 1, encoding: 'base64', truncated: true },
      { path: 'empty.txt', size: 0, encoding: 'base64', truncated: true },
    ]);
    expect(filesTruncated).toBe(true);
    const sized = await collectOutputs(dir, ['a.txt'], { maxFileBytes: 0 });
    expect(sized).toEqual({ files: [{ path: 'a.txt', size: 1, encoding: 'base64', truncated: true }], filesTruncated: false });
  });
});
