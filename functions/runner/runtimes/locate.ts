import { execFile } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Toolchain } from './types.js';

const execFileAsync = promisify(execFile);

/** True when `file` exists and is an executable regular file. */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The first executable among `candidates`, resolved through symlinks unless `resolve` is false. */
export function firstExecutable(candidates: readonly (string | undefined)[], resolve = true): string | null {
  for (const c of candidates) {
    if (c && isExecutable(c)) return resolve ? realpathSync(c) : c;
  }
  return null;
}

/** The toolchain whose binary is `bin`, its root the directory above `bin`'s (/usr for /usr/bin/ruby); null for no binary. */
export function toolchainAt(bin: string | null): Toolchain | null {
  return bin ? { root: path.dirname(path.dirname(bin)), bin } : null;
}

/**
 * Looks `name` up on PATH (with the usual per-user install dirs appended), like `command -v`.
 * Symlinks are kept: multi-call proxies such as rustup dispatch on the name they were called by.
 */
export function which(name: string): string | null {
  const home = process.env.HOME ?? '/root';
  const dirs = [
    ...(process.env.PATH ?? '').split(':'),
    '/usr/local/bin', '/usr/bin', '/bin',
    path.join(home, '.cargo/bin'), path.join(home, '.local/bin'),
  ].filter(Boolean);
  return firstExecutable(dirs.map((d) => path.join(d, name)), false);
}

const require = createRequire(import.meta.url);

/** The real binary shipped by an npm package (e.g. `bun`, `deno`) installed in this repo, if any. */
export function npmBinary(pkg: string, relative: readonly string[]): string | null {
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return null;
  }
  const found = firstExecutable(relative.map((r) => path.join(dir, r)));
  return found && isElf(found) ? found : null;
}

function isElf(file: string): boolean {
  try {
    const fd = openSync(file, 'r');
    const buf = Buffer.alloc(4);
    readSync(fd, buf, 0, 4, 0);
    closeSync(fd);
    return buf.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  }
}

/** Runs a host command and returns its trimmed stdout, or null on failure. */
export async function hostOutput(file: string, args: string[]): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: 10_000 });
    return stdout.trim();
  } catch {
    return null;
  }
}
