/**
 * The registry of runtimes: every fact about a runtime that does not depend on the machine it runs
 * on, and the only list of runtimes in the codebase. The contract, the API, the dispatch policy,
 * the CDK stack, the bench, the emulators, the CLI and the docs derive from it; how to find a
 * toolchain on a host and sandbox it lives in the runner (functions/runner/runtimes/<id>.ts,
 * loaded by id). No imports: the API's Lambda bundle carries this and nothing of the runner.
 *
 * Commands are data where data can say them: argv templates whose placeholders the runner fills.
 *   {tool}     the toolchain's binary          {toolRoot} its root directory
 *   {entry}    the entry file (relative)       {sources}  every request file with `extensions` (several arguments)
 *   {out}      the build output directory      {tmp}      the phase's private scratch directory
 *   {binary}   the built program (run phase)   {args}     the program's arguments (several)
 *   {memoryMiB} the phase's memory cap, MiB (for runtimes that cannot see their cgroup, e.g. the JVM)
 * {entry} and {sources} are paths no toolchain reads as anything else, such as an option (argvPath).
 * A runtime whose commands depend on its files (Go packages, Cargo projects) builds them in its
 * runner file instead.
 */

/** An argv and environment with placeholders (see above). */
export interface CommandTemplate {
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** A compile command, and the program it builds (the run command's `{binary}`, what the build cache keeps). */
export interface CompileTemplate extends CommandTemplate {
  readonly artifact: string;
}

/** Programs every runtime must handle, each doing the same thing in its own language. */
export interface Samples {
  /** Entry plus a helper in another file (a subfolder where the language has them): prints `Hello, W!`. */
  readonly multi: Readonly<Record<string, string>>;
  /** Echoes stdin upper-cased. */
  readonly stdin: string;
  /** Prints $GREETING. */
  readonly env: string;
  /** Prints its arguments joined by `|`. */
  readonly args: string;
  /** Exits with status 3. */
  readonly exit: string;
  /** Dies of an uncaught error whose message is `boom`: its exit code, and a pattern of its stderr. */
  readonly error: { readonly code: string; readonly exitCode: number; readonly stderr: string };
  /** Starts `sleep 60` as a child, then sleeps itself. */
  readonly sleeper: string;
  /** Starts processes without end. */
  readonly forkBomb: string;
  /** Allocates and touches memory without end. */
  readonly memoryBomb: string;
  /** Writes to stdout without end. */
  readonly flood: string;
  /** Connects to TCP port argv[1] on 127.0.0.1: prints `CONNECTED`, or `blocked` when it cannot. */
  readonly connect: string;
}

export interface RuntimeFacts {
  /** Canonical id: requests, the API, the images and the stack name the runtime by it. */
  readonly id: string;
  /** What people call it. */
  readonly name: string;
  /** Other names accepted in requests (lowercase). */
  readonly aliases: readonly string[];
  /** Default entry file (API.md). */
  readonly entrypoint: string;
  /** Other entry names tried, in order, after `entrypoint` when only files are given. */
  readonly altEntrypoints?: readonly string[];
  /** Compiled before it runs: a compile phase, a `compile` object in results, the build cache. */
  readonly compiled: boolean;
  /** Source file extensions (`{sources}`), the first one the usual one. */
  readonly extensions: readonly string[];
  /** How a line comment starts (the bench varies programs with one). */
  readonly lineComment: string;
  /** A program printing `hello` and a newline. */
  readonly hello: string;
  /** Programs in the runtime's language: the tests run every runtime through them, the docs show them. */
  readonly samples: Samples;
  /** The AWS image's toolchain: the exact version it pins (its Dockerfile's ARG RUNTIME_VERSION) and the version promised. */
  readonly image: { readonly version: string; readonly promised: string };
  /** Where this machine (Debian 12) gets the toolchain, for the docs. */
  readonly here: string;
  /** How an execution runs, for the docs. */
  readonly how: string;
  /** The variable that names the toolchain's binary (the images set it; it overrides the search). */
  readonly toolVariable: string;
  /** Commands as data; a runtime without them builds its commands in its runner file. */
  readonly compile?: CompileTemplate;
  readonly run?: CommandTemplate;
  /**
   * How a program that outgrows the run phase's memory cap ends when the runtime holds it to a limit
   * of its own below the cap (the JVM cannot see its cgroup: its heap is sized from {memoryMiB}):
   * the runtime's out-of-memory error, status runtime_error, with this exit code and a pattern of
   * its stderr. Without it, the cgroup's kill ends it: status memory_limit.
   */
  readonly outOfMemory?: { readonly exitCode: number; readonly stderr: string };
  /**
   * What the toolchain reads outside its own directory: host paths bound read-only in its
   * sandboxes where they exist (e.g. Debian's /etc/java-17-openjdk). Never widens another runtime's.
   */
  readonly sandbox?: { readonly binds?: readonly string[] };
  /** Runner function defaults on AWS. @default 1024 MiB memory and /tmp; 2048 for compiled runtimes */
  readonly function?: { readonly memoryMiB?: number; readonly ephemeralStorageMiB?: number };
}

/** Every runtime runtools supports, in the order users see them. */
export const RUNTIMES = [
  {
    id: 'python',
    name: 'Python',
    aliases: ['py', 'python3'],
    entrypoint: 'main.py',
    compiled: false,
    extensions: ['.py'],
    lineComment: '#',
    hello: 'print("hello")\n',
    samples: {
      multi: {
        'main.py': 'from pkg import helper\nprint(helper.greet("W"))\n',
        'pkg/__init__.py': '',
        'pkg/helper.py': 'def greet(n):\n    return f"Hello, {n}!"\n',
      },
      stdin: 'import sys\nsys.stdout.write(sys.stdin.read().upper())\n',
      env: 'import os\nprint(os.environ["GREETING"])\n',
      args: 'import sys\nprint("|".join(sys.argv[1:]))\n',
      exit: 'import sys\nsys.exit(3)\n',
      error: { code: 'raise RuntimeError("boom")\n', exitCode: 1, stderr: 'Traceback[\\s\\S]*RuntimeError: boom' },
      sleeper: 'import subprocess, time\nsubprocess.Popen(["sleep", "60"])\ntime.sleep(60)\n',
      forkBomb: 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n',
      memoryBomb: 'hog = []\nwhile True:\n    hog.append(bytearray(16 * 1024 * 1024))\n',
      flood: 'import sys\nwhile True:\n    sys.stdout.write("x" * 65536)\n',
      connect: 'import socket, sys\ntry:\n    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)\n    print("CONNECTED")\nexcept OSError:\n    print("blocked")\n',
    },
    image: { version: '3.12.12', promised: '3.12' },
    here: "Debian's CPython 3.11 + numpy",
    how: '`python3 -u`',
    toolVariable: 'RUNTOOLS_PYTHON',
    run: {
      argv: ['{tool}', '-u', '{entry}', '{args}'],
      // MPLBACKEND: matplotlib draws to files (savefig), there being no display; a request's env wins.
      env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8', MPLBACKEND: 'Agg' },
    },
    // Debian's matplotlib reads its defaults from /etc (the image's pip install keeps them in
    // site-packages), and its font search runs fc-list, which reads fontconfig's setup and cache.
    sandbox: { binds: ['/etc/matplotlibrc', '/etc/fonts', '/var/cache/fontconfig'] },
  },
  {
    id: 'node',
    name: 'Node.js',
    aliases: ['js', 'javascript', 'nodejs'],
    entrypoint: 'main.js',
    compiled: false,
    extensions: ['.js', '.mjs', '.cjs'],
    lineComment: '//',
    hello: 'console.log("hello");\n',
    samples: {
      multi: {
        'main.js': "const { greet } = require('./lib/helper.js');\nconsole.log(greet('W'));\n",
        'lib/helper.js': 'exports.greet = (n) => `Hello, ${n}!`;\n',
      },
      stdin: "process.stdout.write(require('node:fs').readFileSync(0, 'utf8').toUpperCase());\n",
      env: 'console.log(process.env.GREETING);\n',
      args: "console.log(process.argv.slice(2).join('|'));\n",
      exit: 'process.exit(3);\n',
      error: { code: "throw new Error('boom');\n", exitCode: 1, stderr: 'Error: boom' },
      sleeper: "require('node:child_process').spawn('sleep', ['60'], { stdio: 'inherit' });\nsetTimeout(() => {}, 60000);\n",
      forkBomb: "const { spawn } = require('node:child_process');\nfunction bomb() {\n  for (let i = 0; i < 50; i++) {\n    try { spawn('sleep', ['60'], { stdio: 'ignore' }).on('error', () => {}); } catch {}\n  }\n  setImmediate(bomb);\n}\nbomb();\n",
      memoryBomb: 'const hog = [];\nfor (;;) hog.push(Buffer.alloc(16 * 1024 * 1024, 1));\n',
      flood: "const s = 'x'.repeat(65536);\nfor (;;) process.stdout.write(s);\n",
      connect: "const s = require('node:net').connect({ host: '127.0.0.1', port: Number(process.argv[2]) });\ns.on('connect', () => { console.log('CONNECTED'); s.destroy(); });\ns.on('error', () => console.log('blocked'));\n",
    },
    image: { version: '22.21.1', promised: '22' },
    here: 'Node.js 20 (CommonJS or ESM, detected)',
    how: '`node`',
    toolVariable: 'RUNTOOLS_NODE',
  },
  {
    id: 'bun',
    name: 'Bun',
    aliases: [],
    entrypoint: 'main.ts',
    compiled: false,
    extensions: ['.ts', '.js', '.tsx', '.jsx'],
    lineComment: '//',
    hello: 'const s: string = "hello";\nconsole.log(s);\n',
    samples: {
      multi: {
        'main.ts': "import { greet } from './lib/helper.ts';\nconsole.log(greet('W'));\n",
        'lib/helper.ts': 'export const greet = (n: string): string => `Hello, ${n}!`;\n',
      },
      stdin: 'const text: string = await Bun.stdin.text();\nprocess.stdout.write(text.toUpperCase());\n',
      env: 'console.log(process.env.GREETING);\n',
      args: "console.log(process.argv.slice(2).join('|'));\n",
      exit: 'process.exit(3);\n',
      error: { code: "throw new Error('boom');\n", exitCode: 1, stderr: 'boom' },
      sleeper: "Bun.spawn(['sleep', '60'], { stdout: 'inherit' });\nawait Bun.sleep(60000);\n",
      forkBomb: "for (;;) {\n  try { Bun.spawn(['sleep', '60']); } catch {}\n  await Bun.sleep(0);\n}\n",
      memoryBomb: 'const hog: Uint8Array[] = [];\nfor (;;) hog.push(new Uint8Array(16 * 1024 * 1024).fill(1));\n',
      flood: "const s: string = 'x'.repeat(65536);\nfor (;;) process.stdout.write(s);\n",
      connect: "try {\n  const s = await Bun.connect({ hostname: '127.0.0.1', port: Number(process.argv[2]), socket: { data() {} } });\n  console.log('CONNECTED');\n  s.end();\n} catch {\n  console.log('blocked');\n}\n",
    },
    image: { version: '1.4.5', promised: 'latest' },
    here: 'Bun (npm package `bun`, pinned)',
    how: '`bun --no-install`',
    toolVariable: 'RUNTOOLS_BUN',
    run: {
      argv: ['{tool}', '--no-install', '{entry}', '{args}'],
      env: { BUN_INSTALL_CACHE_DIR: '{tmp}/.bun-cache', BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0', DO_NOT_TRACK: '1' },
    },
  },
  {
    id: 'deno',
    name: 'Deno',
    aliases: [],
    entrypoint: 'main.ts',
    compiled: false,
    extensions: ['.ts', '.js', '.tsx', '.jsx'],
    lineComment: '//',
    hello: 'const s: string = "hello";\nconsole.log(s);\n',
    samples: {
      multi: {
        'main.ts': "import { greet } from './lib/helper.ts';\nconsole.log(greet('W'));\n",
        'lib/helper.ts': 'export const greet = (n: string): string => `Hello, ${n}!`;\n',
      },
      stdin: 'const text: string = await new Response(Deno.stdin.readable).text();\nawait Deno.stdout.write(new TextEncoder().encode(text.toUpperCase()));\n',
      env: "console.log(Deno.env.get('GREETING'));\n",
      args: "console.log(Deno.args.join('|'));\n",
      exit: 'Deno.exit(3);\n',
      error: { code: "throw new Error('boom');\n", exitCode: 1, stderr: 'Uncaught.*Error: boom' },
      sleeper: "new Deno.Command('sleep', { args: ['60'] }).spawn();\nawait new Promise((r) => setTimeout(r, 60000));\n",
      forkBomb: "for (;;) {\n  try { new Deno.Command('sleep', { args: ['60'] }).spawn(); } catch { /* at the limit */ }\n  await new Promise((r) => setTimeout(r, 0));\n}\n",
      memoryBomb: 'const hog: Uint8Array[] = [];\nfor (;;) hog.push(new Uint8Array(16 * 1024 * 1024).fill(1));\n',
      flood: "const chunk = new TextEncoder().encode('x'.repeat(65536));\nfor (;;) Deno.stdout.writeSync(chunk);\n",
      connect: "try {\n  const c = await Deno.connect({ hostname: '127.0.0.1', port: Number(Deno.args[0]) });\n  console.log('CONNECTED');\n  c.close();\n} catch {\n  console.log('blocked');\n}\n",
    },
    image: { version: '2.9.6', promised: 'latest' },
    here: 'Deno (npm package `deno`, pinned)',
    how: '`deno run -A --no-prompt --no-remote` (the sandbox is the boundary)',
    toolVariable: 'RUNTOOLS_DENO',
    // The sandbox is the security boundary: Deno gets every permission it can use there, never prompts.
    run: {
      argv: ['{tool}', 'run', '-A', '--no-prompt', '--no-check', '--no-remote', '{entry}', '{args}'],
      env: { DENO_DIR: '{tmp}/.deno', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_COLOR: '1' },
    },
  },
  {
    id: 'go',
    name: 'Go',
    aliases: ['golang'],
    entrypoint: 'main.go',
    compiled: true,
    extensions: ['.go'],
    lineComment: '//',
    hello: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
    samples: {
      multi: {
        'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(greet("W")) }\n',
        'helper.go': 'package main\n\nfunc greet(n string) string { return "Hello, " + n + "!" }\n',
      },
      stdin: 'package main\n\nimport (\n\t"io"\n\t"os"\n\t"strings"\n)\n\nfunc main() {\n\tb, _ := io.ReadAll(os.Stdin)\n\tos.Stdout.WriteString(strings.ToUpper(string(b)))\n}\n',
      env: 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() { fmt.Println(os.Getenv("GREETING")) }\n',
      args: 'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"strings"\n)\n\nfunc main() { fmt.Println(strings.Join(os.Args[1:], "|")) }\n',
      exit: 'package main\n\nimport "os"\n\nfunc main() { os.Exit(3) }\n',
      error: { code: 'package main\n\nfunc main() { panic("boom") }\n', exitCode: 2, stderr: 'panic: boom[\\s\\S]*goroutine' },
      sleeper: 'package main\n\nimport (\n\t"os/exec"\n\t"time"\n)\n\nfunc main() {\n\texec.Command("sleep", "60").Start()\n\ttime.Sleep(60 * time.Second)\n}\n',
      forkBomb: 'package main\n\nimport "os/exec"\n\nfunc main() {\n\tfor {\n\t\texec.Command("sleep", "60").Start()\n\t}\n}\n',
      memoryBomb: 'package main\n\nfunc main() {\n\tvar hog [][]byte\n\tfor {\n\t\tb := make([]byte, 16<<20)\n\t\tfor i := range b {\n\t\t\tb[i] = 1\n\t\t}\n\t\thog = append(hog, b)\n\t}\n}\n',
      flood: 'package main\n\nimport (\n\t"os"\n\t"strings"\n)\n\nfunc main() {\n\ts := []byte(strings.Repeat("x", 65536))\n\tfor {\n\t\tos.Stdout.Write(s)\n\t}\n}\n',
      connect: 'package main\n\nimport (\n\t"fmt"\n\t"net"\n\t"os"\n\t"time"\n)\n\nfunc main() {\n\tc, err := net.DialTimeout("tcp", "127.0.0.1:"+os.Args[1], 2*time.Second)\n\tif err != nil {\n\t\tfmt.Println("blocked")\n\t\treturn\n\t}\n\tc.Close()\n\tfmt.Println("CONNECTED")\n}\n',
    },
    image: { version: '1.23.12', promised: '1.23' },
    here: 'Go 1.23 (`golang-1.23-go`)',
    how: '`go build` (offline, `CGO_ENABLED=0`, prebuilt standard library cache), then the binary',
    toolVariable: 'RUNTOOLS_GO',
  },
  {
    id: 'rust',
    name: 'Rust',
    aliases: ['rs'],
    entrypoint: 'main.rs',
    altEntrypoints: ['src/main.rs'],
    compiled: true,
    extensions: ['.rs'],
    lineComment: '//',
    hello: 'fn main() { println!("hello"); }\n',
    samples: {
      multi: {
        'main.rs': 'mod helper;\n\nfn main() { println!("{}", helper::greet("W")); }\n',
        'helper.rs': 'pub fn greet(n: &str) -> String { format!("Hello, {}!", n) }\n',
      },
      stdin: 'use std::io::Read;\n\nfn main() {\n    let mut s = String::new();\n    std::io::stdin().read_to_string(&mut s).unwrap();\n    print!("{}", s.to_uppercase());\n}\n',
      env: 'fn main() { println!("{}", std::env::var("GREETING").unwrap()); }\n',
      args: 'fn main() { println!("{}", std::env::args().skip(1).collect::<Vec<_>>().join("|")); }\n',
      exit: 'fn main() { std::process::exit(3); }\n',
      error: { code: 'fn main() { panic!("boom"); }\n', exitCode: 101, stderr: 'panicked[\\s\\S]*boom' },
      sleeper: 'fn main() {\n    let _child = std::process::Command::new("sleep").arg("60").spawn().unwrap();\n    std::thread::sleep(std::time::Duration::from_secs(60));\n}\n',
      forkBomb: 'fn main() {\n    loop {\n        let _ = std::process::Command::new("sleep").arg("60").spawn();\n    }\n}\n',
      memoryBomb: 'fn main() {\n    let mut hog: Vec<Vec<u8>> = Vec::new();\n    loop {\n        hog.push(vec![1u8; 16 << 20]);\n    }\n}\n',
      flood: 'use std::io::Write;\n\nfn main() {\n    let s = [b\'x\'; 65536];\n    let mut out = std::io::stdout();\n    loop {\n        let _ = out.write_all(&s);\n    }\n}\n',
      connect: 'use std::net::TcpStream;\n\nfn main() {\n    let port = std::env::args().nth(1).unwrap();\n    match TcpStream::connect(format!("127.0.0.1:{}", port)) {\n        Ok(_) => println!("CONNECTED"),\n        Err(_) => println!("blocked"),\n    }\n}\n',
    },
    image: { version: '1.80.1', promised: '1.80' },
    here: 'rustc/cargo from rustup',
    how: '`rustc --edition 2021`, or offline `cargo build` when a `Cargo.toml` is sent',
    toolVariable: 'RUNTOOLS_RUSTC',
  },
  {
    id: 'c',
    name: 'C',
    aliases: [],
    entrypoint: 'main.c',
    compiled: true,
    extensions: ['.c'],
    lineComment: '//',
    hello: '#include <stdio.h>\n\nint main(void) {\n    puts("hello");\n    return 0;\n}\n',
    samples: {
      multi: {
        'main.c': '#include <stdio.h>\n#include "lib/greet.h"\n\nint main(void) {\n    char line[64];\n    greet(line, sizeof line, "W");\n    puts(line);\n    return 0;\n}\n',
        'lib/greet.h': '#ifndef GREET_H\n#define GREET_H\n#include <stddef.h>\n\nvoid greet(char *out, size_t size, const char *name);\n\n#endif\n',
        'lib/greet.c': '#include <stdio.h>\n#include "greet.h"\n\nvoid greet(char *out, size_t size, const char *name) { snprintf(out, size, "Hello, %s!", name); }\n',
      },
      stdin: '#include <ctype.h>\n#include <stdio.h>\n\nint main(void) {\n    int c;\n    while ((c = getchar()) != EOF) putchar(toupper(c));\n    return 0;\n}\n',
      env: '#include <stdio.h>\n#include <stdlib.h>\n\nint main(void) {\n    const char *greeting = getenv("GREETING");\n    puts(greeting ? greeting : "");\n    return 0;\n}\n',
      args: '#include <stdio.h>\n\nint main(int argc, char **argv) {\n    for (int i = 1; i < argc; i++) printf(i > 1 ? "|%s" : "%s", argv[i]);\n    putchar(\'\\n\');\n    return 0;\n}\n',
      exit: '#include <stdlib.h>\n\nint main(void) { exit(3); }\n',
      error: { code: '#include <assert.h>\n\nint main(void) {\n    assert(!"boom");\n    return 0;\n}\n', exitCode: 134, stderr: 'Assertion .*boom.* failed' },
      sleeper: '#include <unistd.h>\n\nint main(void) {\n    if (fork() == 0) {\n        execlp("sleep", "sleep", "60", (char *)NULL);\n        _exit(127);\n    }\n    sleep(60);\n    return 0;\n}\n',
      forkBomb: '#include <unistd.h>\n\nint main(void) {\n    for (;;) fork();\n}\n',
      memoryBomb: '#include <stdlib.h>\n#include <string.h>\n\nint main(void) {\n    void *volatile last = NULL;\n    for (;;) {\n        char *chunk = malloc(16 << 20);\n        if (!chunk) continue;\n        memset(chunk, 1, 16 << 20);\n        *(void **)chunk = last;\n        last = chunk;\n    }\n}\n',
      flood: '#include <stdio.h>\n#include <string.h>\n\nint main(void) {\n    static char chunk[65536];\n    memset(chunk, \'x\', sizeof chunk);\n    for (;;) fwrite(chunk, 1, sizeof chunk, stdout);\n}\n',
      connect: '#include <arpa/inet.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <sys/socket.h>\n\nint main(int argc, char **argv) {\n    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};\n    int fd = socket(AF_INET, SOCK_STREAM, 0);\n    puts(fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 ? "CONNECTED" : "blocked");\n    return 0;\n}\n',
    },
    image: { version: '14.2.0', promised: '14' },
    here: 'GCC 12 (Debian\'s `gcc`)',
    how: '`gcc -O2 -std=gnu17 -lm` over every `.c` file (implicit declarations and int/pointer mix-ups are errors, as in GCC 14, the images\' compiler), then the binary',
    toolVariable: 'RUNTOOLS_CC',
    // gnu17, the compiler's own default: C17 with the POSIX and BSD names of the C library
    // (M_PI, strdup, getline), which strict c17 hides. The -Werror flags are GCC 14's defaults: a
    // program builds here exactly when it builds in the images.
    compile: {
      argv: [
        '{tool}', '-O2', '-std=gnu17',
        '-Werror=implicit-function-declaration', '-Werror=implicit-int', '-Werror=int-conversion', '-Werror=incompatible-pointer-types',
        '-o', '{out}/main', '{sources}', '-lm',
      ],
      artifact: '{out}/main',
    },
    run: { argv: ['{binary}', '{args}'] },
  },
  {
    id: 'cpp',
    name: 'C++',
    aliases: ['c++'],
    entrypoint: 'main.cpp',
    compiled: true,
    extensions: ['.cpp', '.cc', '.cxx'],
    lineComment: '//',
    hello: '#include <iostream>\n\nint main() {\n    std::cout << "hello\\n";\n}\n',
    samples: {
      multi: {
        'main.cpp': '#include <iostream>\n#include "lib/greet.hpp"\n\nint main() {\n    std::cout << greet("W") << \'\\n\';\n}\n',
        'lib/greet.hpp': '#pragma once\n#include <string>\n\nstd::string greet(const std::string &name);\n',
        'lib/greet.cpp': '#include "greet.hpp"\n\nstd::string greet(const std::string &name) { return "Hello, " + name + "!"; }\n',
      },
      stdin: '#include <algorithm>\n#include <cctype>\n#include <iostream>\n#include <iterator>\n#include <string>\n\nint main() {\n    std::string s(std::istreambuf_iterator<char>(std::cin), {});\n    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });\n    std::cout << s;\n}\n',
      env: '#include <cstdlib>\n#include <iostream>\n\nint main() {\n    const char *greeting = std::getenv("GREETING");\n    std::cout << (greeting ? greeting : "") << \'\\n\';\n}\n',
      args: '#include <iostream>\n\nint main(int argc, char **argv) {\n    for (int i = 1; i < argc; i++) std::cout << (i > 1 ? "|" : "") << argv[i];\n    std::cout << \'\\n\';\n}\n',
      exit: '#include <cstdlib>\n\nint main() { std::exit(3); }\n',
      error: {
        code: '#include <stdexcept>\n\nint main() { throw std::runtime_error("boom"); }\n',
        exitCode: 134,
        stderr: "terminate called after throwing an instance of 'std::runtime_error'\\s+what\\(\\):\\s+boom",
      },
      sleeper: '#include <chrono>\n#include <thread>\n#include <unistd.h>\n\nint main() {\n    if (fork() == 0) {\n        execlp("sleep", "sleep", "60", nullptr);\n        _exit(127);\n    }\n    std::this_thread::sleep_for(std::chrono::seconds(60));\n}\n',
      forkBomb: '#include <unistd.h>\n\nint main() {\n    for (;;) fork();\n}\n',
      memoryBomb: '#include <vector>\n\nint main() {\n    std::vector<std::vector<char>> hog;\n    for (;;) hog.emplace_back(16 << 20, 1);\n}\n',
      flood: '#include <iostream>\n#include <string>\n\nint main() {\n    const std::string chunk(65536, \'x\');\n    for (;;) std::cout << chunk;\n}\n',
      connect: '#include <arpa/inet.h>\n#include <cstdlib>\n#include <iostream>\n#include <sys/socket.h>\n\nint main(int argc, char **argv) {\n    sockaddr_in addr{};\n    addr.sin_family = AF_INET;\n    addr.sin_port = htons(std::atoi(argv[1]));\n    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);\n    int fd = socket(AF_INET, SOCK_STREAM, 0);\n    bool connected = fd >= 0 && connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;\n    std::cout << (connected ? "CONNECTED" : "blocked") << \'\\n\';\n}\n',
    },
    image: { version: '14.2.0', promised: '14' },
    here: 'GCC 12 (Debian\'s `g++`)',
    how: '`g++ -O2 -std=c++17` over every `.cpp`/`.cc`/`.cxx` file (`-std=c++20` from g++ 14 on, the images\' compiler; `bits/stdc++.h` precompiled), then the binary',
    toolVariable: 'RUNTOOLS_CXX',
    // The compile command depends on the compiler's version (its language standard): see functions/runner/runtimes/cpp.ts.
    run: { argv: ['{binary}', '{args}'] },
  },
  {
    id: 'java',
    name: 'Java',
    aliases: [],
    entrypoint: 'Main.java',
    compiled: true,
    extensions: ['.java'],
    lineComment: '//',
    hello: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println("hello");\n    }\n}\n',
    samples: {
      multi: {
        'Main.java': 'import greet.Helper;\n\npublic class Main {\n    public static void main(String[] args) {\n        System.out.println(Helper.greet("W"));\n    }\n}\n',
        'greet/Helper.java': 'package greet;\n\npublic class Helper {\n    public static String greet(String n) {\n        return "Hello, " + n + "!";\n    }\n}\n',
      },
      stdin: 'import java.io.IOException;\nimport java.nio.charset.StandardCharsets;\n\npublic class Main {\n    public static void main(String[] args) throws IOException {\n        String text = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);\n        System.out.print(text.toUpperCase());\n    }\n}\n',
      env: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println(System.getenv("GREETING"));\n    }\n}\n',
      args: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println(String.join("|", args));\n    }\n}\n',
      exit: 'public class Main {\n    public static void main(String[] args) {\n        System.exit(3);\n    }\n}\n',
      error: { code: 'public class Main {\n    public static void main(String[] args) {\n        throw new IllegalStateException("boom");\n    }\n}\n', exitCode: 1, stderr: 'Exception in thread "main" java\\.lang\\.IllegalStateException: boom\\n\\s+at Main\\.main\\(Main\\.java:3\\)' },
      sleeper: 'public class Main {\n    public static void main(String[] args) throws Exception {\n        new ProcessBuilder("sleep", "60").inheritIO().start();\n        Thread.sleep(60_000);\n    }\n}\n',
      forkBomb: 'public class Main {\n    public static void main(String[] args) {\n        for (;;) {\n            try {\n                new ProcessBuilder("sleep", "60").start();\n            } catch (Throwable atTheLimit) {\n                // no more processes or threads: try again\n            }\n        }\n    }\n}\n',
      memoryBomb: 'import java.util.ArrayList;\nimport java.util.Arrays;\nimport java.util.List;\n\npublic class Main {\n    public static void main(String[] args) {\n        List<byte[]> hog = new ArrayList<>();\n        for (;;) {\n            byte[] b = new byte[1 << 20];\n            Arrays.fill(b, (byte) 1);\n            hog.add(b);\n        }\n    }\n}\n',
      flood: 'public class Main {\n    public static void main(String[] args) {\n        byte[] s = "x".repeat(65536).getBytes();\n        for (;;) System.out.write(s, 0, s.length);\n    }\n}\n',
      connect: 'import java.io.IOException;\nimport java.net.InetSocketAddress;\nimport java.net.Socket;\n\npublic class Main {\n    public static void main(String[] args) {\n        try (Socket s = new Socket()) {\n            s.connect(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[0])), 2000);\n            System.out.println("CONNECTED");\n        } catch (IOException e) {\n            System.out.println("blocked");\n        }\n    }\n}\n',
    },
    image: { version: '21.0.12', promised: '21' },
    here: "Debian's OpenJDK 17 (`openjdk-17-jdk-headless`)",
    how: '`javac -proc:none` (every .java file, into a class directory the build cache keeps), then `java` running `Main` or the entry\'s public class, with a heap below the memory cap (outgrown: `OutOfMemoryError`, `runtime_error`)',
    toolVariable: 'RUNTOOLS_JAVA',
    // Debian's JDK links its conf/ and lib/ files (java.security, jvm.cfg) into /etc.
    sandbox: { binds: ['/etc/java-17-openjdk'] },
    outOfMemory: { exitCode: 1, stderr: 'java\\.lang\\.OutOfMemoryError: Java heap space' },
  },
  {
    id: 'ruby',
    name: 'Ruby',
    aliases: ['rb'],
    entrypoint: 'main.rb',
    compiled: false,
    extensions: ['.rb'],
    lineComment: '#',
    hello: 'puts "hello"\n',
    samples: {
      multi: {
        'main.rb': "require_relative 'lib/helper'\n\nputs Helper.greet('W')\n",
        'lib/helper.rb': 'module Helper\n  def self.greet(name)\n    "Hello, #{name}!"\n  end\nend\n',
      },
      stdin: '$stdout.write($stdin.read.upcase)\n',
      env: "puts ENV['GREETING']\n",
      args: "puts ARGV.join('|')\n",
      exit: 'exit 3\n',
      error: { code: "raise 'boom'\n", exitCode: 1, stderr: 'main\\.rb:1:in .<main>.: boom \\(RuntimeError\\)' },
      sleeper: "spawn('sleep', '60')\nsleep 60\n",
      forkBomb: 'loop do\n  begin\n    fork\n  rescue SystemCallError\n    # at the limit\n  end\nend\n',
      memoryBomb: "hog = []\nloop { hog << ('x' * (16 << 20)) }\n",
      flood: "s = 'x' * 65536\nloop { $stdout.write(s) }\n",
      connect: "require 'socket'\n\nbegin\n  TCPSocket.new('127.0.0.1', Integer(ARGV[0])).close\n  puts 'CONNECTED'\nrescue SystemCallError, SocketError\n  puts 'blocked'\nend\n",
    },
    image: { version: '3.3.10', promised: '3.3' },
    here: "Debian's Ruby 3.1 (`ruby`) with its default and bundled gems",
    how: '`ruby -E UTF-8` (stdout is buffered on a pipe, as Ruby does: `$stdout.sync = true` keeps what a timeout would cut)',
    toolVariable: 'RUNTOOLS_RUBY',
    // Request files and stdin are UTF-8 whatever the request's LANG says (LANG=C would make them US-ASCII).
    run: { argv: ['{tool}', '-E', 'UTF-8', '{entry}', '{args}'] },
  },
  {
    id: 'php',
    name: 'PHP',
    aliases: [],
    entrypoint: 'main.php',
    compiled: false,
    extensions: ['.php'],
    lineComment: '//',
    hello: '<?php\necho "hello\\n";\n',
    samples: {
      multi: {
        'main.php': "<?php\nrequire __DIR__ . '/lib/helper.php';\n\necho greet('W'), \"\\n\";\n",
        'lib/helper.php': '<?php\nfunction greet(string $name): string\n{\n    return "Hello, $name!";\n}\n',
      },
      stdin: '<?php\necho strtoupper(stream_get_contents(STDIN));\n',
      env: "<?php\necho getenv('GREETING'), \"\\n\";\n",
      args: "<?php\necho implode('|', array_slice($argv, 1)), \"\\n\";\n",
      exit: '<?php\nexit(3);\n',
      error: { code: "<?php\nthrow new RuntimeException('boom');\n", exitCode: 255, stderr: 'Fatal error: +Uncaught RuntimeException: boom in \\S*main\\.php:2' },
      sleeper: "<?php\n$child = proc_open(['sleep', '60'], [], $pipes);\nsleep(60);\n",
      forkBomb: "<?php\n$children = [];\nwhile (true) {\n    $child = @proc_open(['sleep', '60'], [], $pipes);\n    if ($child) $children[] = $child;\n}\n",
      memoryBomb: "<?php\n$hog = [];\nwhile (true) $hog[] = str_repeat('x', 16 << 20);\n",
      flood: "<?php\n$s = str_repeat('x', 65536);\nwhile (true) echo $s;\n",
      connect: "<?php\n$s = @fsockopen('127.0.0.1', (int) $argv[1], $errno, $error, 2);\necho $s ? \"CONNECTED\\n\" : \"blocked\\n\";\n",
    },
    image: { version: '8.3.33', promised: '8.3' },
    here: "Debian's PHP 8.2 CLI (`php-cli`, `php8.2-mbstring`)",
    how: '`php` with the same settings on every host: errors on stderr, `E_ALL`, no memory limit of its own (the sandbox\'s cap is the limit)',
    toolVariable: 'RUNTOOLS_PHP',
    // Debian's php.ini and the official image (no php.ini) differ; these settings make both behave
    // alike. memory_limit=-1: the sandbox's memory cap ends a program that needs more, as in every
    // runtime (status memory_limit), not PHP's own 128 MiB default.
    run: {
      argv: [
        '{tool}',
        '-d', 'display_errors=stderr',
        '-d', 'log_errors=0',
        '-d', 'error_reporting=-1',
        '-d', 'memory_limit=-1',
        '-d', 'short_open_tag=0',
        '-d', 'variables_order=EGPCS',
        '-d', 'zend.assertions=1',
        '-d', 'zend.exception_ignore_args=0',
        '-d', 'zend.exception_string_param_max_len=15',
        '{entry}',
        '{args}',
      ],
    },
    // Debian's php.ini and the ini files that load its shared extensions (ctype, iconv, mbstring, …).
    sandbox: { binds: ['/etc/php'] },
  },
  {
    id: 'bash',
    name: 'Bash',
    aliases: ['sh'],
    entrypoint: 'main.sh',
    compiled: false,
    extensions: ['.sh', '.bash'],
    lineComment: '#',
    hello: 'echo hello\n',
    samples: {
      multi: {
        'main.sh': 'source "$(dirname "${BASH_SOURCE[0]}")/lib/helper.sh"\n\ngreet W\n',
        'lib/helper.sh': 'greet() {\n  echo "Hello, $1!"\n}\n',
      },
      stdin: "tr '[:lower:]' '[:upper:]'\n",
      env: 'echo "$GREETING"\n',
      args: "IFS='|'\necho \"$*\"\n",
      exit: 'exit 3\n',
      error: { code: 'set -e\nboom\necho unreachable\n', exitCode: 127, stderr: 'main\\.sh: line 2: boom: command not found' },
      sleeper: 'sleep 60 &\nsleep 60\n',
      forkBomb: 'while :; do\n  sleep 60 &\ndone\n',
      memoryBomb: 'hog=x\nwhile :; do\n  hog+=$hog\ndone\n',
      flood: "printf -v s '%65536s' ''\nwhile :; do\n  printf '%s' \"$s\"\ndone\n",
      connect: 'if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then\n  echo CONNECTED\nelse\n  echo blocked\nfi\n',
    },
    image: { version: '5.2.15', promised: '5.2' },
    here: "Debian's bash 5.2 with coreutils, grep, sed, awk and bc",
    how: '`bash` (the alias `sh` runs bash too)',
    toolVariable: 'RUNTOOLS_BASH',
    run: { argv: ['{tool}', '{entry}', '{args}'] },
  },
] as const satisfies readonly RuntimeFacts[];

export type RuntimeId = (typeof RUNTIMES)[number]['id'];

export const RUNTIME_IDS = RUNTIMES.map((r) => r.id) as [RuntimeId, ...RuntimeId[]];

/** Maps every accepted name (id or alias) to its canonical runtime id. */
export const RUNTIME_NAMES: ReadonlyMap<string, RuntimeId> = new Map(
  RUNTIMES.flatMap((r) => [[r.id, r.id] as const, ...r.aliases.map((a) => [a, r.id] as const)]),
);

/** The request's files a runtime compiles or runs as sources: those with one of its extensions (`{sources}`). */
export function sourceFiles(facts: Pick<RuntimeFacts, 'extensions'>, files: readonly string[]): string[] {
  return files.filter((f) => facts.extensions.some((ext) => f.endsWith(ext)));
}

/**
 * A request file's name (relative to the work dir) as a toolchain's argument: always a path to
 * that file (API.md: "an entry called `-x` runs the file `-x`"). Toolchains read much besides
 * paths where a file name goes: options (`python3 -mhttp.server`, `gcc -o.c`, `bash +O.sh`),
 * argument files (gcc, g++, rustc and javac read `@f.c` as options), stdin (`-`), subcommands
 * (`node inspect`, `bun build`) and module specifiers (`deno run npm:x.ts`). A name every one of
 * them reads as a path stays as it is (error messages and `sys.argv[0]` show `main.py`, not
 * `./main.py`): ASCII letters, digits, `_`, `.` and `-`, each segment starting with a letter, digit
 * or `_`, and an extension. Any other name gets `./`, which every toolchain reads as a path.
 * Every argv the runner builds passes request file names through this.
 */
export function argvPath(name: string): string {
  return /^\w[\w.-]*(?:\/\w[\w.-]*)*\.\w+$/.test(name) ? name : `./${name}`;
}

/** The facts of one runtime. */
export function runtimeFacts(id: RuntimeId): RuntimeFacts & { id: RuntimeId } {
  return RUNTIMES.find((r) => r.id === id)!;
}

/** The runtimes as a sentence: "Python, Node.js, …, Go and Rust". */
export function runtimeNames(): string {
  const names = RUNTIMES.map((r) => r.name);
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** The ids as a choice for help texts: "python, node, …, go or rust (aliases: py, …)". */
export function runtimeChoices(): string {
  const ids = RUNTIMES.map((r) => r.id);
  return `${ids.slice(0, -1).join(', ')} or ${ids.at(-1)} (aliases: ${RUNTIMES.flatMap((r) => r.aliases).join(', ')})`;
}
