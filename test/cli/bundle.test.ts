/**
 * The built CLI (bin/cli-bundle.mjs): dist/cli.mjs is what `runtools` runs while it is current,
 * it is rebuilt when a source changes, and the sources run through tsx where it cannot be built.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliBundle, currentBundle, readManifest } from '../../bin/cli-bundle.mjs';
import { runCli } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const temps: string[] = [];
const temp = (prefix: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

let entry: string;
beforeAll(async () => {
  entry = currentBundle() ?? (await buildCliBundle()).entry;
});

/** The bare specifiers a bundle file imports statically, following its chunks (./cli-*.mjs). */
function staticImports(file: string, seen = new Set<string>()): Set<string> {
  const packages = new Set<string>();
  if (seen.has(file)) return packages;
  seen.add(file);
  const code = readFileSync(file, 'utf8');
  for (const [, from] of code.matchAll(/^\s*(?:import|export)\s+(?:[^'"();]*?\s+from\s+)?"([^"]+)"/gm)) {
    if (from!.startsWith('./')) for (const p of staticImports(path.join(path.dirname(file), from!), seen)) packages.add(p);
    else packages.add(from!);
  }
  return packages;
}

describe('the built CLI', () => {
  it('starts without the runner, the API or any package but commander: they load when a command runs', () => {
    const packages = [...staticImports(entry)].filter((p) => !p.startsWith('node:'));
    expect(packages).toEqual(['commander']);
    // ...and they are in the bundle's chunks, imported dynamically.
    expect(readFileSync(entry, 'utf8')).toMatch(/import\("\.\/cli-backend-[A-Z0-9]+\.mjs"\)/);
  });

  // How fast it starts is the bench's row (`runtools --help`), not a timed test.
  it('behaves as the sources do (tsx): help, version, usage errors', async () => {
    const cases = [['--help'], ['exec', '--help'], ['--version'], ['run', 'x'], ['exec', '-r', 'python', '--timeout', 'soon', 'print(1)']];
    const runs = await Promise.all(cases.map(async (args) => [await runCli(args), await runCli(args, { env: { RUNTOOLS_CLI_BUNDLE: '0' } })] as const));
    for (const [bundled, sources] of runs) expect(bundled).toEqual(sources);
  });

  it('keeps each module its own import.meta.url (the runner finds its helpers beside its sources)', () => {
    // Every file of this build: the entry and the chunks it imports, statically or when a command runs.
    const files = new Set([entry]);
    for (const file of files) {
      for (const [, chunk] of readFileSync(file, 'utf8').matchAll(/["'](\.\/cli-[\w-]+\.mjs)["']/g)) files.add(path.join(path.dirname(file), chunk!));
    }
    const urls = [...files].flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/new URL\("([^"]+)", import\.meta\.url\)/g)].map((m) => new URL(m[1]!, pathToFileURL(file))));
    expect(urls.map((u) => path.relative(ROOT, u.pathname))).toEqual(expect.arrayContaining(['functions/runner/sandbox/launcher.ts', 'functions/runner/runtimes/python.ts']));
    for (const url of urls) expect(statSync(url).isFile(), url.href).toBe(true);
  });
});

describe('bin/runtools.mjs in a checkout', () => {
  /** A checkout with a one-file CLI, the real bin and the repository's packages. */
  function checkout(): { root: string; run(env?: Record<string, string>): { stdout: string; stderr: string; status: number | null } } {
    const root = temp('runtools-bin-');
    mkdirSync(path.join(root, 'bin'));
    mkdirSync(path.join(root, 'cli'));
    for (const f of ['runtools.mjs', 'cli-bundle.mjs']) copyFileSync(path.join(ROOT, 'bin', f), path.join(root, 'bin', f));
    copyFileSync(path.join(ROOT, 'tsconfig.json'), path.join(root, 'tsconfig.json'));
    writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'fake', private: true, type: 'module' }));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
    writeFileSync(path.join(root, 'cli', 'greeting.ts'), "export const greeting: string = 'hello';\n");
    writeFileSync(
      path.join(root, 'cli', 'index.ts'),
      "import { greeting } from './greeting.js';\nexport async function main(argv: string[]): Promise<void> {\n  console.log(`${greeting} ${argv.slice(2).join(' ')}`);\n  console.log(import.meta.url);\n}\n",
    );
    return {
      root,
      run: (env = {}) => {
        const r = spawnSync(process.execPath, [path.join(root, 'bin', 'runtools.mjs'), 'a', 'b'], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
        return { stdout: r.stdout, stderr: r.stderr, status: r.status };
      },
    };
  }

  it('builds the bundle on first use, reuses it, and rebuilds it after an edit', () => {
    const { root, run } = checkout();
    const source = pathToFileURL(path.join(root, 'cli', 'index.ts')).href;
    const bundle = path.join(root, 'dist', 'cli.mjs');

    expect(run()).toEqual({ stdout: `hello a b\n${source}\n`, stderr: '', status: 0 });
    const built = statSync(bundle).mtimeMs;
    expect(Object.keys(readManifest(root)!.inputs)).toEqual(expect.arrayContaining(['cli/index.ts', 'cli/greeting.ts']));
    expect(currentBundle(root)).toBe(bundle);

    expect(run().stdout).toBe(`hello a b\n${source}\n`);
    expect(statSync(bundle).mtimeMs).toBe(built);

    writeFileSync(path.join(root, 'cli', 'greeting.ts'), "export const greeting: string = 'bonjour';\n");
    expect(currentBundle(root)).toBeNull();
    expect(run().stdout).toBe(`bonjour a b\n${source}\n`);
    expect(statSync(bundle).mtimeMs).not.toBe(built);
    expect(currentBundle(root)).toBe(bundle);
  });

  it('runs the sources through tsx where the bundle cannot be built, or with RUNTOOLS_CLI_BUNDLE=0', () => {
    const { root, run } = checkout();
    const source = pathToFileURL(path.join(root, 'cli', 'index.ts')).href;
    // dist is a file: nothing can be written under it.
    writeFileSync(path.join(root, 'dist'), '');
    expect(run()).toEqual({ stdout: `hello a b\n${source}\n`, stderr: '', status: 0 });
    rmSync(path.join(root, 'dist'));
    expect(run({ RUNTOOLS_CLI_BUNDLE: '0' })).toEqual({ stdout: `hello a b\n${source}\n`, stderr: '', status: 0 });
    expect(currentBundle(root)).toBeNull();
  });

  it('a bundle is current only while every input keeps its size and mtime, both older than the build', () => {
    const root = temp('runtools-manifest-');
    mkdirSync(path.join(root, 'dist'));
    const input = path.join(root, 'a.ts');
    writeFileSync(input, 'one');
    const manifest = (builtAt: number, inputs: Record<string, [number, number]>) =>
      writeFileSync(path.join(root, 'dist', 'cli.mjs'), `// runtools-cli-bundle ${JSON.stringify({ builtAt, node: process.version, inputs })}\nexport {};\n`);
    const now = () => [statSync(input).mtimeMs, statSync(input).size] as [number, number];

    expect(currentBundle(root)).toBeNull();
    manifest(now()[0] + 1000, { 'a.ts': now() });
    expect(currentBundle(root)).toBe(path.join(root, 'dist', 'cli.mjs'));
    manifest(now()[0], { 'a.ts': now() });
    expect(currentBundle(root), 'saved while the build ran').toBeNull();
    manifest(now()[0] + 1000, { 'a.ts': [now()[0] - 1, now()[1]] });
    expect(currentBundle(root), 'another mtime').toBeNull();
    manifest(now()[0] + 1000, { 'a.ts': [now()[0], now()[1] + 1] });
    expect(currentBundle(root), 'another size').toBeNull();
    manifest(now()[0] + 1000, { 'a.ts': now(), 'gone.ts': now() });
    expect(currentBundle(root), 'an input removed').toBeNull();
    writeFileSync(path.join(root, 'dist', 'cli.mjs'), 'export {};\n');
    expect(currentBundle(root), 'no manifest').toBeNull();
  });
});
