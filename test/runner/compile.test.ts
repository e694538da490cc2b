import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRunner, type TestRunner } from '../helpers/runner.js';

describe('compiled runtimes', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('go: a compile error is reported at the top level and nothing runs', async () => {
    const result = await t.run({ runtime: 'go', code: 'package main\n\nfunc main() { undefinedThing() }\n' });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('undefined: undefinedThing');
    expect(result.compile).toMatchObject({ exitCode: result.exitCode, timedOut: false });
    expect(result.compile?.stderr).toBe(result.stderr);
    expect(result.timedOut).toBe(false);
  });

  it('rust: a compile error is reported at the top level and nothing runs', async () => {
    const result = await t.run({ runtime: 'rust', code: 'fn main() { let x: i32 = "no"; }\n' });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('mismatched types');
    expect(result.compile?.exitCode).toBe(result.exitCode);
  });

  it('go: a multi-file package with a sub-package and a go.mod of its own', async () => {
    const result = await t.run({
      runtime: 'go',
      files: {
        'go.mod': 'module example.com/app\n\ngo 1.23\n',
        'main.go': 'package main\n\nimport (\n\t"fmt"\n\t"example.com/app/mathx"\n)\n\nfunc main() { fmt.Println(mathx.Double(21), triple(2)) }\n',
        'util.go': 'package main\n\nfunc triple(n int) int { return 3 * n }\n',
        'mathx/mathx.go': 'package mathx\n\n// Double doubles.\nfunc Double(n int) int { return 2 * n }\n',
      },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('42 6\n');
  });

  it('go: an entry in a subfolder builds that package', async () => {
    const result = await t.run({
      runtime: 'go',
      files: { 'cmd/tool/main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("tool") }\n' },
      entrypoint: 'cmd/tool/main.go',
    });
    expect(result.stdout).toBe('tool\n');
  });

  it('rust: nested mod files', async () => {
    const result = await t.run({
      runtime: 'rust',
      files: {
        'main.rs': 'mod shapes;\n\nfn main() { println!("{}", shapes::circle::area(1.0) > 3.14); }\n',
        'shapes/mod.rs': 'pub mod circle;\n',
        'shapes/circle.rs': 'pub fn area(r: f64) -> f64 { std::f64::consts::PI * r * r }\n',
      },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('true\n');
  });

  it('rust: a Cargo project without dependencies builds offline', async () => {
    const result = await t.run({
      runtime: 'rust',
      files: {
        'Cargo.toml': '[package]\nname = "hello-cargo"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n',
        'src/main.rs': 'mod util;\n\nfn main() { println!("cargo says {}", util::answer()); }\n',
        'src/util.rs': 'pub fn answer() -> u32 { 42 }\n',
      },
      args: ['x'],
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('cargo says 42\n');
    expect(result.compile?.exitCode).toBe(0);
  });

  it('rust: a Cargo project with a dependency fails clearly (offline)', async () => {
    const result = await t.run({
      runtime: 'rust',
      files: {
        'Cargo.toml': '[package]\nname = "with-deps"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nrand = "0.8"\n',
        'src/main.rs': 'fn main() {}\n',
      },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/offline|rand/);
  });

  it("rust: a failing Cargo build shows cargo's diagnostics on stderr and none of its JSON messages", async () => {
    const result = await t.run({
      runtime: 'rust',
      files: {
        'Cargo.toml': '[package]\nname = "broken"\nversion = "0.1.0"\nedition = "2021"\n',
        'src/main.rs': 'fn main() { let x: i32 = "no"; }\n',
      },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.compile?.stderr).toContain('mismatched types');
    expect(result.compile?.stdout).toBe('');
    expect(result.stdout).toBe('');
  });

  it("rust: a failing build script: its panic on stderr, none of cargo's JSON on stdout", async () => {
    const result = await t.run({
      runtime: 'rust',
      files: {
        'Cargo.toml': '[package]\nname = "main"\nversion = "0.1.0"\nedition = "2021"\nbuild = "build.rs"\n',
        'build.rs': 'fn main() { panic!("the build script says no"); }\n',
        'src/main.rs': 'fn main() { println!("ran"); }\n',
      },
    });
    expect(result.exitCode).not.toBe(0);
    expect(result.compile?.stderr).toContain('the build script says no');
    expect(result.compile?.stdout).toBe('');
    expect(result.stdout).toBe('');
  });

  it('the compiled program cannot change its own binary', async () => {
    const result = await t.run({
      runtime: 'go',
      code: 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\texe, _ := os.Executable()\n\terr := os.WriteFile(exe, []byte("x"), 0o755)\n\tfmt.Println(err != nil)\n}\n',
    });
    expect(result.stdout).toBe('true\n');
  });

  it('leaves no work directory behind', async () => {
    expect(await t.leftovers()).toEqual([]);
  });
});
