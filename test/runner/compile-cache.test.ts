import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CompileCache } from '../../functions/runner/compile-cache.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

const goProgram = (word: string) => `package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("${word}") }\n`;

describe('compile cache', () => {
  let t: TestRunner;
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'runtools-builds-'));
  beforeAll(async () => {
    t = await testRunner({ compileCacheDir: cacheDir, compileCacheBytes: 64 * 1024 * 1024 });
  });
  afterAll(() => {
    t.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('reuses the build of an identical program and keeps the compiler output', async () => {
    const code = 'fn main() { let unused = 1; println!("cached"); }\n';
    const first = await t.run({ runtime: 'rust', code });
    const second = await t.run({ runtime: 'rust', code, args: ['differs'] });
    expect(first.stdout).toBe('cached\n');
    expect(second.stdout).toBe('cached\n');
    expect(first.compile!.stderr).toContain('unused variable');
    expect(second.compile!.stderr).toBe(first.compile!.stderr);
    expect(second.compile!.executionTime).toBeLessThan(first.compile!.executionTime);
    expect(readdirSync(cacheDir).filter((n) => !n.startsWith('.'))).toHaveLength(1);
  });

  it('never serves one program the build of another', async () => {
    const a = await t.run({ runtime: 'go', code: goProgram('alpha') });
    const b = await t.run({ runtime: 'go', code: goProgram('beta') });
    const helperChanged = await t.run({
      runtime: 'go',
      files: { 'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(word()) }\n', 'w.go': 'package main\n\nfunc word() string { return "one" }\n' },
    });
    const helperChangedAgain = await t.run({
      runtime: 'go',
      files: { 'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(word()) }\n', 'w.go': 'package main\n\nfunc word() string { return "two" }\n' },
    });
    expect([a.stdout, b.stdout, helperChanged.stdout, helperChangedAgain.stdout]).toEqual(['alpha\n', 'beta\n', 'one\n', 'two\n']);
  });

  it('does not cache failed builds', async () => {
    const bad = 'package main\n\nfunc main() { nope() }\n';
    const first = await t.run({ runtime: 'go', code: bad });
    const second = await t.run({ runtime: 'go', code: bad });
    expect(first.exitCode).not.toBe(0);
    expect(second.stderr).toBe(first.stderr);
  });

  it('keeps a class directory (Java): a hit restores every class, packages included, and runs', async () => {
    const files = {
      'Main.java': 'import shapes.Square;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(new Square(3).area() + " " + Inner.NAME);\n    }\n\n    static class Inner {\n        static final String NAME = "inner";\n    }\n}\n',
      'shapes/Square.java': 'package shapes;\n\npublic record Square(int side) {\n    public int area() {\n        return side * side;\n    }\n}\n',
    };
    const first = await t.run({ runtime: 'java', files });
    const second = await t.run({ runtime: 'java', files, args: ['differs'] });
    expect(first).toMatchObject({ stdout: '9 inner\n', status: 'ok' });
    expect(first.compile?.cached).toBeUndefined();
    expect(second).toMatchObject({ stdout: '9 inner\n', status: 'ok', compile: { cached: true, cpuTime: 0 } });
  });

  it('a Java program cannot alter the cached classes another execution gets', async () => {
    const code = 'import java.nio.file.*;\n\npublic class Main {\n    public static void main(String[] args) throws Exception {\n        String result;\n        try {\n            Files.write(Path.of("/out/classes/Main.class"), new byte[] {1});\n            result = "altered";\n        } catch (java.io.IOException e) {\n            result = "read-only";\n        }\n        System.out.println(result);\n    }\n}\n';
    const first = await t.run({ runtime: 'java', code });
    const second = await t.run({ runtime: 'java', code });
    expect([first.stdout, second.stdout]).toEqual(['read-only\n', 'read-only\n']);
    expect(second.compile?.cached).toBe(true);
  });

  it('a program cannot alter the cached build another execution gets', async () => {
    const code = 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\texe, _ := os.Executable()\n\tos.Remove(exe)\n\terr := os.WriteFile(exe, []byte("#!/bin/sh\\necho pwned\\n"), 0o755)\n\tfmt.Println("original", err != nil)\n}\n';
    const first = await t.run({ runtime: 'go', code });
    const second = await t.run({ runtime: 'go', code });
    expect(first.stdout).toBe('original true\n');
    expect(second.stdout).toBe('original true\n');
  });
});

describe('compile cache: a directory binary', () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'runtools-tree-cache-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('is kept with its size, found again by a new cache over the same directory, and restored as hard links', async () => {
    const out = path.join(scratch, 'out');
    mkdirSync(path.join(out, 'classes/app'), { recursive: true });
    writeFileSync(path.join(out, 'classes/Main.class'), 'main\n');
    writeFileSync(path.join(out, 'classes/app/Helper.class'), 'helper\n');
    const dir = path.join(scratch, 'cache');
    const key = CompileCache.key('tree');
    const build = { binary: 'classes', directory: true, compile: { stdout: '', stderr: 'a warning\n' } };
    await new CompileCache(dir, 1024 * 1024).store(key, out, build);

    const again = new CompileCache(dir, 1024 * 1024);
    const target = path.join(scratch, 'restored');
    mkdirSync(target);
    expect(await again.restore(key, target)).toEqual(build);
    expect(again.size).toBe(5 + 7);
    expect(readFileSync(path.join(target, 'classes/app/Helper.class'), 'utf8')).toBe('helper\n');
    expect(statSync(path.join(target, 'classes/Main.class')).ino).toBe(statSync(path.join(dir, key, 'binary/Main.class')).ino);
  });
});
