import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeId } from '../../functions/contract.js';
import { testRunner, type TestRunner } from '../helpers/runner.js';

/** Programs every runtime must handle, in that runtime's language. */
interface Programs {
  hello: string;
  /** Entry plus a helper module: prints "Hello, W!". */
  multi: Record<string, string>;
  /** Echoes stdin upper-cased. */
  stdin: string;
  /** Prints $GREETING. */
  env: string;
  /** Prints the arguments joined by "|". */
  args: string;
  /** Exits with status 3. */
  exit: string;
  /** Dies of an uncaught error whose message contains "boom". */
  error: { code: string; stderr: RegExp; exitCode: number };
  /** Starts `sleep 60` as a child, then sleeps itself. */
  sleeper: string;
}

const PROGRAMS: Record<RuntimeId, Programs> = {
  python: {
    hello: 'print("hello")',
    multi: {
      'main.py': 'from pkg import helper\nprint(helper.greet("W"))\n',
      'pkg/__init__.py': '',
      'pkg/helper.py': 'def greet(n):\n    return f"Hello, {n}!"\n',
    },
    stdin: 'import sys\nsys.stdout.write(sys.stdin.read().upper())',
    env: 'import os\nprint(os.environ["GREETING"])',
    args: 'import sys\nprint("|".join(sys.argv[1:]))',
    exit: 'import sys\nsys.exit(3)',
    error: { code: 'raise RuntimeError("boom")', stderr: /Traceback[\s\S]*RuntimeError: boom/, exitCode: 1 },
    sleeper: 'import subprocess, time\nsubprocess.Popen(["sleep", "60"])\ntime.sleep(60)',
  },
  node: {
    hello: 'console.log("hello")',
    multi: {
      'main.js': "const { greet } = require('./lib/helper.js');\nconsole.log(greet('W'));\n",
      'lib/helper.js': "exports.greet = (n) => `Hello, ${n}!`;\n",
    },
    stdin: "process.stdout.write(require('node:fs').readFileSync(0, 'utf8').toUpperCase())",
    env: 'console.log(process.env.GREETING)',
    args: "console.log(process.argv.slice(2).join('|'))",
    exit: 'process.exit(3)',
    error: { code: "throw new Error('boom')", stderr: /Error: boom/, exitCode: 1 },
    sleeper: "require('node:child_process').spawn('sleep', ['60'], { stdio: 'inherit' });\nsetTimeout(() => {}, 60000);",
  },
  bun: {
    hello: 'const greeting: string = "hello";\nconsole.log(greeting);',
    multi: {
      'main.ts': "import { greet } from './lib/helper.ts';\nconsole.log(greet('W'));\n",
      'lib/helper.ts': 'export const greet = (n: string): string => `Hello, ${n}!`;\n',
    },
    stdin: 'const text: string = await Bun.stdin.text();\nprocess.stdout.write(text.toUpperCase());',
    env: 'console.log(process.env.GREETING)',
    args: "console.log(process.argv.slice(2).join('|'))",
    exit: 'process.exit(3)',
    error: { code: "throw new Error('boom')", stderr: /boom/, exitCode: 1 },
    sleeper: "Bun.spawn(['sleep', '60'], { stdout: 'inherit' });\nawait Bun.sleep(60000);",
  },
  deno: {
    hello: 'const greeting: string = "hello";\nconsole.log(greeting);',
    multi: {
      'main.ts': "import { greet } from './lib/helper.ts';\nconsole.log(greet('W'));\n",
      'lib/helper.ts': 'export const greet = (n: string): string => `Hello, ${n}!`;\n',
    },
    stdin: 'const text: string = await new Response(Deno.stdin.readable).text();\nawait Deno.stdout.write(new TextEncoder().encode(text.toUpperCase()));',
    env: "console.log(Deno.env.get('GREETING'))",
    args: "console.log(Deno.args.join('|'))",
    exit: 'Deno.exit(3)',
    error: { code: "throw new Error('boom')", stderr: /Uncaught.*Error: boom/, exitCode: 1 },
    sleeper: "new Deno.Command('sleep', { args: ['60'] }).spawn();\nawait new Promise((r) => setTimeout(r, 60000));",
  },
  go: {
    hello: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
    multi: {
      'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(greet("W")) }\n',
      'helper.go': 'package main\n\nfunc greet(n string) string { return "Hello, " + n + "!" }\n',
    },
    stdin: 'package main\n\nimport (\n\t"io"\n\t"os"\n\t"strings"\n)\n\nfunc main() {\n\tb, _ := io.ReadAll(os.Stdin)\n\tos.Stdout.WriteString(strings.ToUpper(string(b)))\n}\n',
    env: 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() { fmt.Println(os.Getenv("GREETING")) }\n',
    args: 'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\nfunc main() { fmt.Println(strings.Join(os.Args[1:], "|")) }\n',
    exit: 'package main\n\nimport "os"\n\nfunc main() { os.Exit(3) }\n',
    error: { code: 'package main\n\nfunc main() { panic("boom") }\n', stderr: /panic: boom[\s\S]*goroutine/, exitCode: 2 },
    sleeper: 'package main\n\nimport (\n\t"os/exec"\n\t"time"\n)\n\nfunc main() {\n\texec.Command("sleep", "60").Start()\n\ttime.Sleep(60 * time.Second)\n}\n',
  },
  rust: {
    hello: 'fn main() { println!("hello"); }\n',
    multi: {
      'main.rs': 'mod helper;\n\nfn main() { println!("{}", helper::greet("W")); }\n',
      'helper.rs': 'pub fn greet(n: &str) -> String { format!("Hello, {}!", n) }\n',
    },
    stdin: 'use std::io::Read;\n\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n    print!("{}", s.to_uppercase());\n}\n',
    env: 'fn main() { println!("{}", std::env::var("GREETING").unwrap()); }\n',
    args: 'fn main() { println!("{}", std::env::args().skip(1).collect::<Vec<_>>().join("|")); }\n',
    exit: 'fn main() { std::process::exit(3); }\n',
    error: { code: 'fn main() { panic!("boom"); }\n', stderr: /panicked[\s\S]*boom/, exitCode: 101 },
    sleeper: 'fn main() {\n    let _child = std::process::Command::new("sleep").arg("60").spawn().unwrap();\n    std::thread::sleep(std::time::Duration::from_secs(60));\n}\n',
  },
};

describe.each(Object.entries(PROGRAMS) as Array<[RuntimeId, Programs]>)('%s', (runtime, p) => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('runs hello world and reports its real version', async () => {
    const result = await t.run({ runtime, code: p.hello });
    expect(result).toMatchObject({ stdout: 'hello\n', exitCode: 0, timedOut: false, signal: null, truncated: false, runtime });
    expect(result.version).toMatch(/^\d+\.\d+/);
  });

  it('imports a helper module from another file', async () => {
    const result = await t.run({ runtime, files: p.multi });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('Hello, W!\n');
  });

  it('reads stdin', async () => {
    const result = await t.run({ runtime, code: p.stdin, stdin: 'line one\nline two\n' });
    expect(result.stdout).toBe('LINE ONE\nLINE TWO\n');
  });

  it('sees the request env', async () => {
    const result = await t.run({ runtime, code: p.env, env: { GREETING: 'hi from env' } });
    expect(result.stdout).toBe('hi from env\n');
  });

  it('receives args', async () => {
    const result = await t.run({ runtime, code: p.args, args: ['a', 'b c', '--flag'] });
    expect(result.stdout).toBe('a|b c|--flag\n');
  });

  it('reports a non-zero exit', async () => {
    const result = await t.run({ runtime, code: p.exit });
    expect(result).toMatchObject({ exitCode: 3, timedOut: false });
  });

  it('reports an uncaught error on stderr', async () => {
    const result = await t.run({ runtime, code: p.error.code });
    expect(result.exitCode).toBe(p.error.exitCode);
    expect(result.stderr).toMatch(p.error.stderr);
  });

  it('kills the program and its sleeping child at the timeout', async () => {
    const result = await t.run({ runtime, code: p.sleeper, timeout: 1500 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: 137 });
    expect(result.executionTime).toBeLessThan(30_000);
  });

  it('removes every work directory', async () => {
    expect(await t.leftovers()).toEqual([]);
  });
});
