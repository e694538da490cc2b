import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsc, type Dirent, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteRequest, ExecuteResult } from '../../functions/contract.js';
import { CompileCache } from '../../functions/runner/compile-cache.js';
import { createSandbox, type Sandbox } from '../../functions/runner/index.js';
import type { SandboxSpawn } from '../../functions/runner/sandbox/types.js';
import type { TestRunner } from '../helpers/runner.js';
import { expectContained, hostileRunner, newSecret, newTag } from './harness.js';

/*
 * What a build leaves in its out dir is the program's: code runs at compile time (Cargo build
 * scripts), and /out is writable then. A build script of a workspace member waits for cargo to
 * put the program's binary in place and replaces it with a link to a host file or directory, a
 * FIFO or a Unix socket. Host code (the binary check, the compile cache) must read nothing of the
 * host, block on nothing, hold no execution slot, and report a failed build. Plants the program's
 * own file-size limit rules out (a 10 GB file) and a path swapped while the cache copies it are
 * made by the test itself, on the host, against the cache directly.
 */

const SECRET = newSecret();
const MiB = 1024 * 1024;

let t: TestRunner;
let cacheDir: string;
let hostDir: string;
let secretFile: string;

beforeAll(async () => {
  hostDir = mkdtempSync(path.join(os.tmpdir(), 'runtools-cache-host-'));
  secretFile = path.join(hostDir, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'runtools-cache-attack-'));
  t = await hostileRunner({ compileCacheDir: cacheDir, compileCacheBytes: 64 * MiB, compileTimeoutMs: 30_000 });
});

afterAll(() => {
  t.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(hostDir, { recursive: true, force: true });
});

/** Every regular file under `dir` (links not followed). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return e.isFile() ? [p] : [];
  });
}

/** The cache's entries, and its files that hold the secret. */
function cacheState(dir = cacheDir): { entries: string[]; leaked: string[] } {
  return {
    entries: readdirSync(dir).filter((n) => !n.startsWith('.')),
    leaked: filesUnder(dir).filter((f) => readFileSync(f, 'latin1').includes(SECRET)),
  };
}

/** Opens every FIFO under `dir` for writing and closes it: a host reader stuck on one gets EOF. */
function unblockReaders(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // being removed
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) unblockReaders(p);
    else if (e.isFIFO()) {
      try {
        closeSync(openSync(p, fsc.O_WRONLY | fsc.O_NONBLOCK));
      } catch {
        /* no reader */
      }
    }
  }
}

/** Rejects when `promise` has not settled within `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Rust for a build script: writes a line to cargo's stderr (its parent's), which the result shows. */
const SAY = `fn say(line: &str) {
    let cargo = std::os::unix::process::parent_id();
    if let Ok(mut err) = fs::OpenOptions::new().write(true).open(format!("/proc/{}/fd/2", cargo)) {
        let _ = writeln!(err, "{}", line);
    }
}`;

/**
 * A Cargo workspace: the program `main`, and a member `z` with a build script, which cargo runs
 * while it builds `main` (two jobs even on one core: the script waits for main's binary).
 */
function cargoWorkspace(buildRs: string): ExecuteRequest {
  return {
    runtime: 'rust',
    files: {
      '.cargo/config.toml': '[build]\njobs = 2\n',
      'Cargo.toml': '[package]\nname = "main"\nversion = "0.1.0"\nedition = "2021"\n\n[workspace]\nmembers = ["z"]\ndefault-members = [".", "z"]\n',
      'src/main.rs': 'fn main() { println!("the program ran"); }\n',
      'z/Cargo.toml': '[package]\nname = "z"\nversion = "0.1.0"\nedition = "2021"\nbuild = "build.rs"\n',
      'z/src/lib.rs': '// a member with a build script\n',
      'z/build.rs': buildRs,
    },
  };
}

/** The workspace whose build script waits for main's binary, removes it and runs `plant` in its place. */
function swappingBuild(plant: string): ExecuteRequest {
  return cargoWorkspace(`use std::{env, fs, io::Write, path::PathBuf, thread, time::Duration};
#[allow(unused_imports)]
use std::os::unix::{fs::symlink, net::UnixListener};
${SAY}
fn main() {
    let bin = PathBuf::from(env::var("CARGO_TARGET_DIR").unwrap()).join("debug/main");
    for _ in 0..400 {
        if fs::symlink_metadata(&bin).map(|m| m.is_file()).unwrap_or(false) { break; }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = fs::remove_file(&bin);
    ${plant};
    say("planted");
}
`);
}

/** Runs a hostile build: it must answer promptly, as a failed build, with nothing of the host in it or in the cache. */
async function expectRefusedBuild(request: ExecuteRequest, what: string): Promise<ExecuteResult> {
  const tag = newTag();
  const before = cacheState();
  const started = Date.now();
  let r: ExecuteResult;
  try {
    r = await within(50_000, t.run({ ...request, args: [tag] }));
  } finally {
    unblockReaders(t.workRoot);
  }
  expect(Date.now() - started).toBeLessThan(45_000);
  expect(r.compile?.stderr).toContain('planted');
  expect(r.compile?.stderr).toContain(`runtools: the build did not produce a regular file at target/debug/main (${what})`);
  expect(r.compile?.exitCode).not.toBe(0);
  expect(r.exitCode).not.toBe(0);
  expect(r.status).toBe('compile_error');
  expect(r.compile?.status).toBe('runtime_error');
  expect(r.stdout).not.toContain('the program ran');
  expect(r.stdout).not.toContain('"reason"');
  expect(JSON.stringify(r)).not.toContain(SECRET);
  expect(cacheState()).toEqual({ entries: before.entries, leaked: [] });
  await expectContained(t, tag);
  return r;
}

describe('a build script replaces the binary cargo built', () => {
  it('with a symlink to a host file: the host file is not read, copied or cached', async () => {
    await expectRefusedBuild(swappingBuild(`symlink(${JSON.stringify(secretFile)}, &bin).unwrap()`), 'a symbolic link');
  });

  it('with a symlink to a host directory', async () => {
    await expectRefusedBuild(swappingBuild(`symlink(${JSON.stringify(hostDir)}, &bin).unwrap()`), 'a symbolic link');
  });

  it('with a FIFO: nothing blocks on it, the request answers promptly', async () => {
    await expectRefusedBuild(swappingBuild('std::process::Command::new("/usr/bin/mkfifo").arg(&bin).status().unwrap()'), 'a FIFO');
  });

  it('with a Unix socket', async () => {
    await expectRefusedBuild(swappingBuild('std::mem::forget(UnixListener::bind(&bin).unwrap())'), 'a socket');
  });

  it('the attack was not cached: an identical request builds again, and a clean build still caches', async () => {
    const before = cacheState().entries;
    const again = await t.run(swappingBuild(`symlink(${JSON.stringify(secretFile)}, &bin).unwrap()`));
    expect(again.exitCode).not.toBe(0);
    expect(cacheState()).toEqual({ entries: before, leaked: [] });
    const clean = await t.run({ runtime: 'rust', code: 'fn main() { println!("clean"); }\n' });
    expect(clean.stdout).toBe('clean\n');
    const after = cacheState();
    expect(after.entries).toHaveLength(before.length + 1);
    expect(after.leaked).toEqual([]);
  });
});

describe('a test suite whose build script replaces the binary (the build is copied into each test\'s sandbox)', () => {
  it.each([
    ['a symlink to a host file', () => `symlink(${JSON.stringify(secretFile)}, &bin).unwrap()`, 'a symbolic link'],
    ['a FIFO', () => 'std::process::Command::new("/usr/bin/mkfifo").arg(&bin).status().unwrap()', 'a FIFO'],
  ])('with %s: a compile error, every test skipped, nothing read or blocked on', async (_what, plant, refusal) => {
    const r = await expectRefusedBuild({ ...swappingBuild(plant()), tests: [{ stdin: '1' }, { stdin: '2' }] }, refusal);
    expect(r.tests!.map((x) => x.verdict)).toEqual(['skipped', 'skipped']);
  });
});

describe("cargo's stdout is not trusted", () => {
  it('a binary a build script names on cargo’s stdout outside the out dir is no binary', async () => {
    const tag = newTag();
    // The build script's parent is cargo: its stdout is the pipe the runner reads cargo's JSON from.
    const buildRs = `use std::{env, fs, io::Write, path::PathBuf, thread, time::Duration};
${SAY}
fn main() {
    let bin = PathBuf::from(env::var("CARGO_TARGET_DIR").unwrap()).join("debug/main");
    for _ in 0..400 {
        if bin.exists() { break; }
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(500));
    let cargo = std::os::unix::process::parent_id();
    let fake = r#"{"reason":"compiler-artifact","package_id":"main","target":{"kind":["bin"],"name":"main"},"executable":"${secretFile}","fresh":false}"#;
    let mut out = fs::OpenOptions::new().write(true).open(format!("/proc/{}/fd/1", cargo)).unwrap();
    out.write_all(format!("{}\\n", fake).as_bytes()).unwrap();
    say("planted");
}
`;
    const r = await t.run({ ...cargoWorkspace(buildRs), args: [tag] });
    expect(r.compile?.stderr).toContain('planted');
    expect(r.compile?.exitCode).not.toBe(0);
    expect(r.exitCode).not.toBe(0);
    expect(r).toMatchObject({ status: 'compile_error', compile: { status: 'runtime_error' } });
    expect(r.compile?.stderr).toContain('runtools: the build named no binary beneath its output directory');
    expect(r.stdout).not.toContain('the program ran');
    expect(r.stdout).not.toContain('"reason"');
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(cacheState().leaked).toEqual([]);
    await expectContained(t, tag);
  });
});

describe('plants made on the host, against the cache itself', () => {
  const build = { binary: 'target/debug/main', compile: { stdout: '', stderr: '' } };
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'runtools-cache-plant-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A fresh out dir with target/debug in it, and a fresh cache. */
  function fresh(name: string) {
    const out = path.join(scratch, name, 'out');
    mkdirSync(path.join(out, 'target/debug'), { recursive: true });
    const dir = path.join(scratch, name, 'cache');
    return { out, dir, cache: new CompileCache(dir, 64 * MiB) };
  }

  it('a 10 GB sparse file is refused by its size, without reading it', async () => {
    const { out, dir, cache } = fresh('sparse');
    writeFileSync(path.join(out, 'target/debug/main'), '');
    truncateSync(path.join(out, 'target/debug/main'), 10 * 1024 * MiB);
    const started = Date.now();
    await cache.store(CompileCache.key('sparse'), out, build);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(cache.size).toBe(0);
    expect(cacheState(dir)).toEqual({ entries: [], leaked: [] });
  }, 10_000);

  /** Swaps two names atomically (renameat2 RENAME_EXCHANGE) in a loop, from another process. */
  function swapper(a: string, b: string): ChildProcess {
    const code = `import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
while True:
    libc.renameat2(-100, a, -100, b, 2)`;
    return spawn('python3', ['-c', code, a, b], { stdio: 'ignore' });
  }

  /** Stores under fresh keys until both outcomes were seen often enough (or 15 s): never a copy of the secret. */
  async function storeWhileSwapping(out: string, dir: string, cache: CompileCache) {
    let stored = 0;
    let refused = 0;
    const deadline = Date.now() + 15_000;
    for (let i = 0; (stored < 20 || refused < 20) && Date.now() < deadline; i++) {
      const before = cache.size;
      await cache.store(CompileCache.key(['swap', i]), out, build);
      if (cache.size > before) stored++;
      else refused++;
    }
    const state = cacheState(dir);
    expect(state.leaked).toEqual([]);
    for (const entry of state.entries) expect(readFileSync(path.join(dir, entry, 'binary'), 'utf8')).toBe('benign binary\n');
    expect(stored).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }

  it('the binary swapped in a loop between a regular file and a symlink to a host file', async () => {
    const { out, dir, cache } = fresh('swap-file');
    const debug = path.join(out, 'target/debug');
    writeFileSync(path.join(debug, 'main'), 'benign binary\n');
    symlinkSync(secretFile, path.join(debug, 'other'));
    const child = swapper(path.join(debug, 'main'), path.join(debug, 'other'));
    try {
      await storeWhileSwapping(out, dir, cache);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a directory of its path swapped in a loop between a real one and a symlink to a host directory', async () => {
    const { out, dir, cache } = fresh('swap-dir');
    writeFileSync(path.join(out, 'target/debug/main'), 'benign binary\n');
    const hostTree = path.join(hostDir, 'tree');
    mkdirSync(hostTree);
    writeFileSync(path.join(hostTree, 'main'), `${SECRET}\n`, { mode: 0o600 });
    symlinkSync(hostTree, path.join(out, 'target/other'));
    const child = swapper(path.join(out, 'target/debug'), path.join(out, 'target/other'));
    try {
      await storeWhileSwapping(out, dir, cache);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a package directory of a class tree swapped in a loop between a real one and a symlink to a host directory', async () => {
    const out = path.join(scratch, 'swap-tree', 'out');
    const dir = path.join(scratch, 'swap-tree', 'cache');
    const cache = new CompileCache(dir, 64 * MiB);
    mkdirSync(path.join(out, 'classes/app'), { recursive: true });
    writeFileSync(path.join(out, 'classes/Main.class'), 'benign class\n');
    writeFileSync(path.join(out, 'classes/app/Helper.class'), 'benign class\n');
    const hostTree = path.join(hostDir, 'package');
    mkdirSync(hostTree);
    writeFileSync(path.join(hostTree, 'Helper.class'), `${SECRET}\n`, { mode: 0o600 });
    symlinkSync(hostTree, path.join(out, 'classes/other'));
    const child = swapper(path.join(out, 'classes/app'), path.join(out, 'classes/other'));
    const tree = { binary: 'classes', directory: true, compile: { stdout: '', stderr: '' } };
    let stored = 0;
    let refused = 0;
    try {
      const deadline = Date.now() + 15_000;
      for (let i = 0; (stored < 20 || refused < 20) && Date.now() < deadline; i++) {
        const before = cache.size;
        await cache.store(CompileCache.key(['swap-tree', i]), out, tree);
        if (cache.size > before) stored++;
        else refused++;
      }
    } finally {
      child.kill('SIGKILL');
    }
    const state = cacheState(dir);
    expect(state.leaked).toEqual([]);
    for (const entry of state.entries) {
      for (const file of filesUnder(path.join(dir, entry, 'binary'))) expect(readFileSync(file, 'utf8')).toBe('benign class\n');
    }
    expect(stored).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});

/*
 * A directory binary: javac writes the classes of a Java program into /out/classes, which the
 * cache keeps as a tree. javac runs no code of the request (-proc:none), so the plants are made by
 * the test in the compile phase's place, on the host, right after javac built the classes: what a
 * build step running code could leave there. The runner must refuse the build with a clear
 * compile result, and the cache must keep nothing of it.
 */
describe('a class directory with something planted in it after the build', () => {
  let javaCache: string;
  let planted: ((classes: string) => void | Promise<void>) | null = null;
  let j: TestRunner;
  const sockets: Server[] = [];

  /** The bwrap sandbox, with `planted` run on the host's view of /out/classes after each compile phase. */
  function plantingSandbox(): Sandbox {
    const real = createSandbox('bwrap');
    return new Proxy(real, {
      get(target, prop) {
        if (prop === 'run') {
          return async (spec: SandboxSpawn) => {
            const outcome = await target.run(spec);
            if (spec.writableOut && planted) await planted(path.join(spec.dirs.out, 'classes'));
            return outcome;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  const program = (word: string) => `public class Main {\n    public static void main(String[] args) {\n        System.out.println("${word}");\n    }\n}\n`;

  beforeAll(async () => {
    javaCache = mkdtempSync(path.join(os.tmpdir(), 'runtools-cache-java-'));
    j = await hostileRunner({ sandbox: plantingSandbox(), compileCacheDir: javaCache, compileCacheBytes: 64 * MiB });
  });

  afterAll(() => {
    for (const s of sockets) s.close();
    j.dispose();
    rmSync(javaCache, { recursive: true, force: true });
  });

  it.each([
    ['a symlink to a host file', (c: string) => symlinkSync(secretFile, path.join(c, 'Leak.class')), 'classes/Leak.class is a symbolic link'],
    ['a symlink to a host directory', (c: string) => symlinkSync(hostDir, path.join(c, 'host')), 'classes/host is a symbolic link'],
    ['a FIFO', (c: string) => execFileSync('mkfifo', [path.join(c, 'Pipe.class')]), 'classes/Pipe.class is a FIFO'],
    ['a Unix socket', async (c: string) => {
      const server = createServer();
      sockets.push(server);
      await new Promise<void>((resolve) => server.listen(path.join(c, 'Sock.class'), resolve));
    }, 'classes/Sock.class is a socket'],
    ['a 10 GB sparse file', (c: string) => {
      writeFileSync(path.join(c, 'Huge.class'), '');
      truncateSync(path.join(c, 'Huge.class'), 10 * 1024 * MiB);
    }, `classes holds more than ${512 * MiB} bytes (classes/Huge.class: ${10 * 1024 * MiB})`],
    ['the class directory replaced by a symlink to a host directory', (c: string) => {
      rmSync(c, { recursive: true });
      symlinkSync(hostDir, c);
    }, 'a symbolic link'],
  ])('%s: the build is refused, promptly, and nothing is cached', async (what, plant, detail) => {
    const tag = newTag();
    const before = cacheState(javaCache);
    planted = plant;
    const started = Date.now();
    let r: ExecuteResult;
    try {
      r = await within(50_000, j.run({ runtime: 'java', code: program(what), args: [tag] }));
    } finally {
      planted = null;
      unblockReaders(j.workRoot);
    }
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(r).toMatchObject({ status: 'compile_error', compile: { status: 'runtime_error', exitCode: 1 } });
    expect(r.compile?.stderr).toContain(`runtools: the build did not produce a directory of regular files at classes (${detail})`);
    expect(r.stdout).not.toContain(what);
    expect(JSON.stringify(r)).not.toContain(SECRET);
    expect(cacheState(javaCache)).toEqual({ entries: before.entries, leaked: [] });
    await expectContained(j, tag);
  });

  it('a clean build is kept as a tree of regular files, and a hit runs from it', async () => {
    const before = cacheState(javaCache).entries;
    const first = await j.run({ runtime: 'java', code: program('clean classes') });
    const second = await j.run({ runtime: 'java', code: program('clean classes') });
    expect([first.stdout, second.stdout]).toEqual(['clean classes\n', 'clean classes\n']);
    expect(second.compile?.cached).toBe(true);
    const after = cacheState(javaCache);
    expect(after.leaked).toEqual([]);
    const added = after.entries.filter((e) => !before.includes(e));
    expect(added).toHaveLength(1);
    expect(readdirSync(path.join(javaCache, added[0]!, 'binary'))).toEqual(['Main.class']);
  });
});
