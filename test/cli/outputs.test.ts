import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteResult } from '../../functions/contract.js';
import type { RunningServer } from '../../functions/api/server.js';
import { startTestServer } from '../api/helpers.js';
import { runCli } from './helpers.js';

/* runtools exec --outputs / --out-dir: files the program wrote, brought back and written locally. */

const PROGRAM = 'import os\nos.makedirs("out/sub")\nopen("out/a.txt", "w").write("alpha")\nopen("out/sub/b.bin", "wb").write(bytes([0, 255, 1]))\nprint("made")\nraise SystemExit(3)';

let server: RunningServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ apiKeys: ['cli-key'] });
  dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-cli-outputs-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await server.close();
});

const modes = [
  ['locally', () => ({})],
  ['through RUNTOOLS_API_URL', () => ({ RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: 'cli-key' })],
] as const;

describe.each(modes)('runtools exec --outputs %s', (mode, env) => {
  it('--out-dir writes the files, one line each on stderr; the exit code stays the program\'s', async () => {
    const outDir = path.join(dir, mode === 'locally' ? 'local' : 'remote');
    const run = await runCli(['exec', '-r', 'python', '--outputs', 'out/**', '--outputs', '*.none', '--out-dir', outDir, PROGRAM], { env: env() });
    expect(run.stdout).toBe('made\n');
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(`wrote ${path.join(outDir, 'out/a.txt')} (5 bytes)\nwrote ${path.join(outDir, 'out/sub/b.bin')} (3 bytes)\n`);
    expect(readFileSync(path.join(outDir, 'out/a.txt'), 'utf8')).toBe('alpha');
    expect([...readFileSync(path.join(outDir, 'out/sub/b.bin'))]).toEqual([0, 255, 1]);
  });

  it('without --out-dir: a note lists the files on stderr, or --json shows them', async () => {
    const noted = await runCli(['exec', '-r', 'python', '--outputs', 'out/**', PROGRAM], { env: env() });
    expect(noted.code).toBe(3);
    expect(noted.stdout).toBe('made\n');
    expect(noted.stderr).toContain('2 files returned');
    expect(noted.stderr).toContain('out/a.txt (5 bytes)');
    expect(noted.stderr).toContain('out/sub/b.bin (3 bytes)');

    const json = await runCli(['exec', '-r', 'python', '--json', '--outputs', 'out/*.txt', PROGRAM], { env: env() });
    expect(json.code).toBe(3);
    const result = JSON.parse(json.stdout) as ExecuteResult;
    expect(result.files).toEqual([{ path: 'out/a.txt', size: 5, encoding: 'utf8', content: 'alpha' }]);
    expect(result.filesTruncated).toBe(false);
  });
});

describe('runtools exec --out-dir refusals', () => {
  it('--out-dir without --outputs is bad usage (exit 2)', async () => {
    const run = await runCli(['exec', '-r', 'python', '--out-dir', dir, 'print(1)']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--out-dir .* --outputs/);
  });

  it('a symbolic link in the out dir is never written through (exit 125)', async () => {
    const outDir = path.join(dir, 'linked');
    const target = path.join(dir, 'target.txt');
    writeFileSync(target, 'untouched');
    mkdirSync(path.join(outDir, 'out'), { recursive: true });
    symlinkSync(target, path.join(outDir, 'out/a.txt'));
    const run = await runCli(['exec', '-r', 'python', '--outputs', 'out/a.txt', '--out-dir', outDir, PROGRAM]);
    expect(run.code).toBe(125);
    expect(run.stderr).toMatch(/could not write the returned files/);
    expect(readFileSync(target, 'utf8')).toBe('untouched');
  });
});
