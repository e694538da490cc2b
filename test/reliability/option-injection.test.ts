import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteRequest } from '../../functions/contract.js';
import { argvPath, RUNTIMES, runtimeFacts, type RuntimeId } from '../../functions/runtimes.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

/*
 * API.md: "A file name is always a path to the toolchain (an entry called `-x` runs the file
 * `-x`)". Every name a toolchain receives (the entry of an interpreter, the sources of a compiler)
 * is a file, whatever it looks like: an option (`-mhttp.server`, `--version`, `-o.c`), an argument
 * file (`@f.c`), a subcommand (`node inspect`, `bun build`), a specifier (`npm:x.ts`) or stdin
 * (`-`). And the program's args stay the program's: `main.py -c x` gives the program `-c`.
 */

let t: TestRunner;
/** The runtimes whose toolchain is installed here: the others' cases are skipped. */
const installed = new Set<RuntimeId>();

beforeAll(async () => {
  t = await testRunner();
  for (const rt of RUNTIMES) if (await t.runner.locate(rt.id)) installed.add(rt.id);
});
afterAll(() => t.dispose());

/** Args that are options to every toolchain: the program must get them, and print them (samples.args). */
const ARGS = ['-c', 'x', '--version'];
const PRINTED = `${ARGS.join('|')}\n`;

/** Entry names an interpreter would read as something other than its file, per runtime. */
const INTERPRETED: Partial<Record<RuntimeId, string[]>> = {
  python: ['-mhttp.server', '--version', '-x', '-'],
  node: ['--version', '-', 'inspect', '-e.js'],
  bun: ['--version.ts', '-e.ts', 'build', 'test'],
  deno: ['--version.ts', '-A.js', 'npm:x.ts'],
  ruby: ['--version', '-e.rb'],
  php: ['--version', '-i'],
  bash: ['--version', '+O.sh', '-x.sh'],
};

describe.each(RUNTIMES.filter((r) => !r.compiled).map((r) => [r.id, r] as const))('%s: the entry is a file', (runtime, facts) => {
  // The default entry too: `main.py -c x` gives the program `-c`.
  const names = [facts.entrypoint, ...(INTERPRETED[runtime] ?? ['--version']), `-d/--version${facts.extensions[0]}`];
  it.for(names)('%s', async (name, ctx) => {
    if (!installed.has(runtime)) return ctx.skip();
    const r = await t.run({ runtime, files: { [name]: facts.samples.args }, entrypoint: name, args: ARGS, timeout: 10_000 });
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 'ok', stdout: PRINTED });
  });
});

/** Programs of the compiled runtimes whose sources have names a compiler would take as options. */
const COMPILED: { name: string; runtime: RuntimeId; request: ExecuteRequest }[] = [
  {
    name: 'every .c file is a source, none an option (-o.c, -fplugin=p.c, -d/-E.c)',
    runtime: 'c',
    request: {
      runtime: 'c',
      entrypoint: '-x.c',
      files: {
        '-x.c': '#include <stdio.h>\nconst char *h(void);\nconst char *p(void);\nconst char *f(void);\n\nint main(int argc, char **argv) {\n    printf("%s%s%s", h(), p(), f());\n    for (int i = 1; i < argc; i++) printf(i > 1 ? "|%s" : "%s", argv[i]);\n    putchar(\'\\n\');\n    return 0;\n}\n',
        '-o.c': 'const char *h(void) { return "h"; }\n',
        '-fplugin=p.c': 'const char *p(void) { return "p"; }\n',
        '-d/-E.c': 'const char *f(void) { return "f:"; }\n',
      },
    },
  },
  {
    name: 'every C++ source is a source, none an option (-o.cpp, -fplugin=p.cc, -d/-E.cxx)',
    runtime: 'cpp',
    request: {
      runtime: 'cpp',
      entrypoint: '-x.cpp',
      files: {
        '-x.cpp': '#include <iostream>\nconst char *h();\nconst char *p();\nconst char *f();\n\nint main(int argc, char **argv) {\n    std::cout << h() << p() << f();\n    for (int i = 1; i < argc; i++) std::cout << (i > 1 ? "|" : "") << argv[i];\n    std::cout << \'\\n\';\n}\n',
        '-o.cpp': 'const char *h() { return "h"; }\n',
        '-fplugin=p.cc': 'const char *p() { return "p"; }\n',
        '-d/-E.cxx': 'const char *f() { return "f:"; }\n',
      },
    },
  },
  {
    name: 'the entry is the crate root, not an option (-o.rs)',
    runtime: 'rust',
    request: {
      runtime: 'rust',
      entrypoint: '-o.rs',
      files: {
        '-o.rs': 'mod helper;\n\nfn main() {\n    let args: Vec<String> = std::env::args().skip(1).collect();\n    println!("{}{}", helper::prefix(), args.join("|"));\n}\n',
        'helper.rs': 'pub fn prefix() -> &\'static str { "hpf:" }\n',
      },
    },
  },
  {
    name: 'every .java file is a source, none an option (-x.java, -d.java, @f.java)',
    runtime: 'java',
    request: {
      runtime: 'java',
      entrypoint: '-x.java',
      files: {
        '-x.java': 'class Main {\n    public static void main(String[] args) {\n        System.out.println(H.h() + P.p() + F.f() + String.join("|", args));\n    }\n}\n',
        '-d.java': 'class H {\n    static String h() { return "h"; }\n}\n',
        '-sourcepath.java': 'class P {\n    static String p() { return "p"; }\n}\n',
        '@f.java': 'class F {\n    static String f() { return "f:"; }\n}\n',
      },
    },
  },
];

describe('compiled runtimes: source files are files', () => {
  it.for(COMPILED)('$runtime: $name', async ({ runtime, request }, ctx) => {
    if (!installed.has(runtime)) return ctx.skip();
    const r = await t.run({ ...request, args: ARGS });
    expect({ status: r.status, stdout: r.stdout, compile: r.compile?.stderr }).toEqual({ status: 'ok', stdout: `hpf:${PRINTED}`, compile: '' });
  });

  // GCC's compiler proper gets each source's base name again (`-dumpbase @f.c`) and reads it as a
  // file of options, whatever path the driver got: such a source is refused, and no compiler runs.
  it.for([
    ['c', 'main.c', 'lib/@f.c', 'f.c'],
    ['cpp', 'main.cpp', '@f.cc', 'f.cc'],
  ] as const)('%s: a source named @… is refused with a compile error, never read as options', async ([runtime, entry, argFile, target], ctx) => {
    if (!installed.has(runtime)) return ctx.skip();
    const facts = runtimeFacts(runtime);
    // What GCC would read as options were `@f.c` an argument file (`int` would be an input file).
    const r = await t.run({ runtime, files: { [entry]: facts.hello, [argFile]: 'int f_also;\n', [target]: 'int f_too;\n' }, entrypoint: entry });
    expect(r.status).toBe('compile_error');
    expect(r.compile?.stderr).toBe(`runtools: ${JSON.stringify(argFile)}: GCC reads a source file whose name starts with @ as a file of options; rename it\n`);
  });

  it('go: a file Go will not build (-o.go) is its own compile error, not an option', async (ctx) => {
    if (!installed.has('go')) return ctx.skip();
    const facts = runtimeFacts('go');
    const r = await t.run({ runtime: 'go', files: { 'main.go': facts.samples.args, '-o.go': 'package main\n' }, args: ARGS });
    expect(r.status).toBe('compile_error');
    expect(r.compile?.stderr).toMatch(/invalid input file name "-o\.go"/);
  });

  it('go: an entry in a folder named like an option is a compile error too', async (ctx) => {
    if (!installed.has('go')) return ctx.skip();
    const facts = runtimeFacts('go');
    const r = await t.run({ runtime: 'go', files: { '-x/main.go': facts.samples.args }, entrypoint: '-x/main.go', args: ARGS });
    expect(r.status).toBe('compile_error');
    expect(r.compile?.stderr).toMatch(/invalid input directory name "-x"/);
  });

  it('java: an entry whose name is no class name, declaring no class to run, is a compile error naming the file', async (ctx) => {
    if (!installed.has('java')) return ctx.skip();
    const r = await t.run({ runtime: 'java', files: { '--version.java': '// no class here\n' }, entrypoint: '--version.java' });
    expect(r.status).toBe('compile_error');
    expect(r.compile?.stderr).toContain('--version.java');
    expect(r.compile?.stderr).toMatch(/not a Java class name/);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/openjdk|version "/i);
  });
});

describe('argvPath', () => {
  it('keeps a name every toolchain reads as a path, and gives any other name ./', () => {
    const plain = ['main.py', 'lib/helper.js', 'src/main.rs', 'Main.java', 'a-b_c.1.ts', '1.c'];
    expect(plain.map(argvPath)).toEqual(plain);
    const other = ['-x', '--version.js', '-', 'inspect', 'build', 'npm:x.ts', '+O.sh', '@f.c', 'lib/-o.c', 'lib/@f.c', '.hidden.py', 'héllo.py', 'a b.py', 'main.'];
    expect(other.map(argvPath)).toEqual(other.map((n) => `./${n}`));
  });
});
