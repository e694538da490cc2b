import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findToolchain, getRuntime } from '../../functions/runner/runtimes/index.js';
import java, { JAVAC_ARCHIVE, JAVAC_ARCHIVE_STAMP, javacArchive, jdkIdentity } from '../../functions/runner/runtimes/java.js';
import type { Toolchain } from '../../functions/runner/runtimes/types.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

/*
 * What is particular to Java beyond the registry's samples (test/runner/runtimes.test.ts): which
 * class runs, how javac is called, the heap, and javac's class-data archive.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const MiB = 1024 * 1024;

let t: TestRunner;
beforeAll(async () => {
  t = await testRunner();
});
afterAll(() => t.dispose());

describe('the class that runs', () => {
  it('a public class named otherwise in Main.java: compiled under its own name, and run', async () => {
    const code = 'import java.util.List;\n\npublic class Solution {\n    public static void main(String[] args) {\n        System.out.println("solution " + List.of(args.length));\n    }\n}\n';
    const r = await t.run({ runtime: 'java', code, args: ['x'] });
    expect(r).toMatchObject({ stdout: 'solution [1]\n', stderr: '', status: 'ok' });
  });

  it("its compile errors name the file its class needs, at the entry's own lines", async () => {
    const code = 'public class Solution {\n    public static void main(String[] args) {\n        int x = "no";\n    }\n}\n';
    const r = await t.run({ runtime: 'java', code });
    expect(r.status).toBe('compile_error');
    expect(r.compile?.stderr).toMatch(/^Solution\.java:3: error: incompatible types/m);
  });

  it('no public class: the class named like the file, else the first with a static main', async () => {
    const named = await t.run({ runtime: 'java', code: 'class Other {\n    public static void main(String[] a) { System.out.println("other"); }\n}\n\nclass Main {\n    public static void main(String[] a) { System.out.println("main"); }\n}\n' });
    const first = await t.run({ runtime: 'java', code: 'class Helper {}\n\nclass Prog {\n    public static void main(String[] a) { System.out.println("prog"); }\n}\n' });
    expect([named.stdout, first.stdout]).toEqual(['main\n', 'prog\n']);
  });

  it('an entry in a package directory runs as its qualified class', async () => {
    const r = await t.run({
      runtime: 'java',
      entrypoint: 'app/Main.java',
      files: {
        'app/Main.java': 'package app;\n\nimport app.util.Names;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(Names.of(Main.class));\n    }\n}\n',
        'app/util/Names.java': 'package app.util;\n\npublic class Names {\n    public static String of(Class<?> c) {\n        return c.getName();\n    }\n}\n',
      },
    });
    expect(r).toMatchObject({ stdout: 'app.Main\n', status: 'ok' });
  });

  it('a compile error is reported like Go and Rust: on the compile, with the file and line, and nothing runs', async () => {
    const r = await t.run({ runtime: 'java', code: 'public class Main {\n    public static void main(String[] args) {\n        undefined();\n    }\n}\n' });
    expect(r).toMatchObject({ status: 'compile_error', exitCode: 1, compile: { exitCode: 1 } });
    expect(r.compile?.stderr).toMatch(/^Main\.java:3: error: cannot find symbol/m);
    expect(r.stderr).toBe(r.compile?.stderr);
  });
});

describe('the commands', () => {
  it('request files named like options or argument files are compiled as files', async () => {
    const r = await t.run({
      runtime: 'java',
      files: {
        'Main.java': 'public class Main {\n    public static void main(String[] args) { System.out.println("compiled"); }\n}\n',
        '-version.java': '// a file, not an option\n',
        '@x.java': '// a file, not an argument file\n',
      },
    });
    expect(r).toMatchObject({ stdout: 'compiled\n', status: 'ok' });
  });

  it("the program's arguments reach it as they are, @-arguments included", async () => {
    const code = 'public class Main {\n    public static void main(String[] args) { System.out.println(String.join("|", args)); }\n}\n';
    const r = await t.run({ runtime: 'java', code, args: ['@/etc/passwd', '-version', '--'] });
    expect(r.stdout).toBe('@/etc/passwd|-version|--\n');
  });

  it('the heap follows the memory cap, below it', async () => {
    const code = 'public class Main {\n    public static void main(String[] args) { System.out.println(Runtime.getRuntime().maxMemory() / 1048576); }\n}\n';
    const r = await t.run({ runtime: 'java', code, memoryLimitMb: 256 });
    const heap = Number(r.stdout);
    expect(heap).toBeGreaterThan(128);
    expect(heap).toBeLessThanOrEqual(256 - 64);
  });

  it('JAVA_TOOL_OPTIONS in the request env is the program’s to set: its JVM picks it up, and says so', async () => {
    const code = 'public class Main {\n    public static void main(String[] args) { System.out.println(System.getProperty("greeting")); }\n}\n';
    const r = await t.run({ runtime: 'java', code, env: { JAVA_TOOL_OPTIONS: '-Dgreeting=picked' } });
    expect(r).toMatchObject({ stdout: 'picked\n', stderr: 'Picked up JAVA_TOOL_OPTIONS: -Dgreeting=picked\n', status: 'ok' });
  });
});

describe("javac's class-data archive", () => {
  let tool: Toolchain;
  let dir: string;
  const saved = process.env.RUNTOOLS_JAVAC_CDS;
  beforeAll(async () => {
    tool = (await findToolchain(getRuntime('java')))!;
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'runtools-javac-cds-')), 'javac-cds');
    process.env.RUNTOOLS_JAVAC_CDS = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.RUNTOOLS_JAVAC_CDS;
    else process.env.RUNTOOLS_JAVAC_CDS = saved;
    rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  const archiveOption = (readOnlyPaths: string[]) =>
    java.compile!({ workDir: '/work', outDir: '/out', tmpDir: '/tmp', entry: 'Main.java', files: ['Main.java'], args: [], tool, sources: { 'Main.java': '' }, memoryBytes: 2048 * MiB, readOnlyPaths }).argv.find((a) => a.includes('SharedArchiveFile'));

  it('none yet: javac starts without one', () => {
    expect(javacArchive(tool)).toBeNull();
    expect(java.compileReadOnlyPaths!(tool)).toEqual([]);
    expect(archiveOption([])).toBeUndefined();
  });

  it('the warm script makes one for this JDK: the compile phase binds it and javac maps it', () => {
    execFileSync(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/build-javac-cds.ts'], { cwd: ROOT, env: { ...process.env, RUNTOOLS_JAVAC_CDS: dir }, stdio: 'pipe' });
    const archive = path.join(dir, JAVAC_ARCHIVE);
    expect(readFileSync(path.join(dir, JAVAC_ARCHIVE_STAMP), 'utf8')).toBe(jdkIdentity(tool));
    expect(java.compileReadOnlyPaths!(tool)).toEqual([archive]);
    expect(archiveOption([archive])).toBe(`-J-XX:SharedArchiveFile=${archive}`);
  });

  it('an archive made for another JDK is never passed (newer JVMs complain of one on stderr)', () => {
    const other = `${dir}-other`;
    cpSync(dir, other, { recursive: true });
    rmSync(path.join(other, JAVAC_ARCHIVE_STAMP));
    writeFileSync(path.join(other, JAVAC_ARCHIVE_STAMP), JSON.stringify({ root: '/opt/other-jdk' }));
    process.env.RUNTOOLS_JAVAC_CDS = other;
    try {
      expect(javacArchive(tool)).toBeNull();
    } finally {
      process.env.RUNTOOLS_JAVAC_CDS = dir;
    }
  });

  it('compiles run with it; made again, it is another input of the build (no cache hit across it)', async () => {
    const code = 'public class Main {\n    public static void main(String[] args) { System.out.println("with the archive"); }\n}\n';
    const first = await t.run({ runtime: 'java', code });
    const hit = await t.run({ runtime: 'java', code });
    const archive = path.join(dir, JAVAC_ARCHIVE);
    // Made again: a new file at the same path.
    cpSync(archive, `${archive}.new`);
    rmSync(archive, { force: true });
    cpSync(`${archive}.new`, archive);
    const again = await t.run({ runtime: 'java', code });
    expect([first.stdout, hit.stdout, again.stdout]).toEqual(['with the archive\n', 'with the archive\n', 'with the archive\n']);
    expect([first.compile?.cached, hit.compile?.cached, again.compile?.cached]).toEqual([undefined, true, undefined]);
    expect(first.compile?.stderr).toBe('');
  });
});
