/**
 * Reading what a program left in its workspace. Everything there is hostile: any name may be a
 * symbolic link to a host file, a FIFO that blocks whoever opens it, a socket, or a file far too
 * big to read. So host code walks a path one component at a time from a directory it trusts,
 * never following a link (`O_NOFOLLOW`, each directory opened relative to its parent's
 * descriptor through `/proc/self/fd`, as Node has no openat), never blocking (`O_NONBLOCK`),
 * then checks the descriptor it holds (`fstat`: a regular file within a size bound) and reads from
 * that descriptor only. Swapping a path between the check and the use changes nothing.
 * Linux only (it needs /proc).
 */
import { constants as fsc, type Stats } from 'node:fs';
import { lstat, mkdir, open, opendir, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

const DIR_FLAGS = fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
const FILE_FLAGS = fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK | fsc.O_NOCTTY;
const CREATE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW;
const CHUNK = 1024 * 1024;

/** Why a path in a workspace was refused. */
export type Refusal = 'bad-path' | 'missing' | 'symlink' | 'directory' | 'fifo' | 'socket' | 'device' | 'not-a-directory' | 'too-large' | 'too-many' | 'too-deep';

const PHRASES: Record<Refusal, string> = {
  'bad-path': 'not a plain path beneath the directory',
  missing: 'nothing there',
  symlink: 'a symbolic link',
  directory: 'a directory',
  fifo: 'a FIFO',
  socket: 'a socket',
  device: 'a device',
  'not-a-directory': 'not a directory',
  'too-large': 'too large',
  'too-many': 'too many entries',
  'too-deep': 'nested too deep',
};

/** A path in a workspace that host code will not read, and why (`detail` says it for a user). */
export class UnsafeFileError extends Error {
  constructor(
    readonly reason: Refusal,
    /** The path asked for, relative to the trusted root. */
    readonly relativePath: string,
    /** What was found: "a symbolic link", "target is a symbolic link", "too large (… bytes, limit …)". */
    readonly detail: string,
  ) {
    super(`refused ${relativePath}: ${detail}`);
    this.name = 'UnsafeFileError';
  }
}

function kindOf(st: Stats): Refusal | null {
  if (st.isFile()) return null;
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'device';
}

/** The components of `rel` when it is a plain relative path (no `..`, `.`, empty segment, absolute path or NUL), else null. */
function segments(rel: string): string[] | null {
  if (rel === '' || rel.includes('\0') || path.posix.isAbsolute(rel)) return null;
  const parts = rel.split('/');
  return parts.every((p) => p !== '' && p !== '.' && p !== '..') ? parts : null;
}

/** `p` (absolute, or relative to `root`) relative to `root` when it names something strictly beneath it, else null; names only, nothing is looked up. */
export function relativeBeneath(root: string, p: string): string | null {
  const rel = path.posix.relative(path.posix.resolve(root), path.posix.resolve(root, p));
  return segments(rel) ? rel : null;
}

/**
 * Opens `name` in the directory `dir` without following it. A refusal when the open failed because
 * of what is there (a link, a FIFO, nothing, …: lstat, which never follows, says which); any other
 * failure (EACCES, EMFILE) is rethrown as it is.
 */
async function openIn(dir: FileHandle, name: string, final: boolean, rel: string, at: string): Promise<FileHandle> {
  try {
    return await open(`/proc/self/fd/${dir.fd}/${name}`, final ? FILE_FLAGS : DIR_FLAGS);
  } catch (err) {
    const st = await lstat(`/proc/self/fd/${dir.fd}/${name}`).catch(() => null);
    let reason = st ? kindOf(st) : 'missing';
    if (!final && reason === null) reason = 'not-a-directory';
    if (!final && reason === 'directory') reason = null;
    if (!reason) throw err;
    throw new UnsafeFileError(reason, rel, at === rel ? PHRASES[reason] : `${at} is ${PHRASES[reason]}`);
  }
}

/**
 * Opens the directory `rel` names beneath `root`, one component at a time without following a
 * link, stopping `keep` components short of its end (1: the parent of what `rel` names). The
 * caller closes the handle.
 */
async function openDirBeneath(root: string, rel: string, parts: readonly string[], keep = 0): Promise<FileHandle> {
  let dir = await open(root, DIR_FLAGS);
  try {
    for (let i = 0; i < parts.length - keep; i++) {
      const next = await openIn(dir, parts[i]!, false, rel, parts.slice(0, i + 1).join('/'));
      await dir.close();
      dir = next;
    }
    return dir;
  } catch (err) {
    await dir.close();
    throw err;
  }
}

/**
 * Opens `rel` beneath the trusted directory `root` for reading: a regular file of at most
 * `maxBytes`, reached without following any link or blocking on anything. Throws
 * UnsafeFileError otherwise. The caller closes the handle.
 */
export async function openBeneath(root: string, rel: string, maxBytes: number): Promise<{ handle: FileHandle; size: number }> {
  const parts = segments(rel);
  if (!parts) throw new UnsafeFileError('bad-path', rel, PHRASES['bad-path']);
  const dir = await openDirBeneath(root, rel, parts, 1);
  try {
    const file = await openIn(dir, parts.at(-1)!, true, rel, rel);
    const st = await file.stat();
    const kind = kindOf(st);
    if (!kind && st.size <= maxBytes) return { handle: file, size: st.size };
    await file.close();
    throw kind ? new UnsafeFileError(kind, rel, PHRASES[kind]) : new UnsafeFileError('too-large', rel, `too large: ${st.size} bytes, limit ${maxBytes}`);
  } finally {
    await dir.close();
  }
}

/** Checks that `rel` beneath `root` is a regular file of at most `maxBytes` (UnsafeFileError if not); its size. */
export async function checkBeneath(root: string, rel: string, maxBytes: number): Promise<number> {
  const { handle, size } = await openBeneath(root, rel, maxBytes);
  await handle.close();
  return size;
}

/**
 * Copies the regular file `rel` beneath `root` (at most `maxBytes`) to `dest`, a new file (mode
 * 0755) this call creates: it never overwrites nor follows anything at `dest`. Returns the bytes copied.
 */
export async function copyOutOf(root: string, rel: string, dest: string, maxBytes: number): Promise<number> {
  const { handle, size } = await openBeneath(root, rel, maxBytes);
  try {
    return await copyHandle(handle, size, dest, maxBytes, rel, 0o755);
  } finally {
    await handle.close();
  }
}

/** Copies what `handle` (a checked regular file of `size` bytes) holds into `dest`, a new file of `mode`, at most `maxBytes`. */
async function copyHandle(handle: FileHandle, size: number, dest: string, maxBytes: number, rel: string, mode: number): Promise<number> {
  const out = await open(dest, CREATE_FLAGS, mode);
  let copied = 0;
  try {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(size, 1)));
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, copied);
      if (bytesRead === 0) break;
      copied += bytesRead;
      // The file may have grown since fstat (by a process still writing it): the bound holds anyway.
      if (copied > maxBytes) throw new UnsafeFileError('too-large', rel, `too large: over the limit of ${maxBytes} bytes`);
      for (let done = 0; done < bytesRead; ) done += (await out.write(buf, done, bytesRead - done)).bytesWritten;
    }
    await out.chmod(mode);
    await out.close();
    return copied;
  } catch (err) {
    await out.close().catch(() => {});
    await rm(dest, { force: true });
    throw err;
  }
}

/** Bounds of a directory tree host code walks: entries (files and directories), bytes of its files, nesting. */
export interface TreeLimits {
  maxEntries: number;
  maxBytes: number;
  /** @default 64 */
  maxDepth?: number;
}

/** What a walked tree held. */
export interface TreeSize {
  files: number;
  directories: number;
  bytes: number;
}

/**
 * Walks the directory `rel` beneath `root`: every entry in it must be a regular file or a
 * directory, reached without following any link; a link, FIFO, socket or device anywhere (never
 * opened: lstat says what it is, and a swap after that is caught on the descriptor), or a tree
 * beyond `limits`, refuses the whole tree (UnsafeFileError naming the entry). Each directory is
 * listed through its own descriptor and each file read from its own, so swapping names during
 * the walk changes nothing. `visit` receives every directory and file (relative to `rel`),
 * parents first.
 */
async function walkTree(
  root: string,
  rel: string,
  limits: TreeLimits,
  visit?: { directory(sub: string): Promise<void>; file(sub: string, handle: FileHandle, size: number, budget: number): Promise<number> },
): Promise<TreeSize> {
  const parts = segments(rel);
  if (!parts) throw new UnsafeFileError('bad-path', rel, PHRASES['bad-path']);
  const maxDepth = limits.maxDepth ?? 64;
  const size: TreeSize = { files: 0, directories: 0, bytes: 0 };
  let entries = 0;
  const refuse = (reason: Refusal, at: string, detail = `${at} is ${PHRASES[reason]}`) => new UnsafeFileError(reason, rel, detail);

  async function walk(dir: FileHandle, sub: string, depth: number): Promise<void> {
    size.directories++;
    await visit?.directory(sub);
    const listing = await opendir(`/proc/self/fd/${dir.fd}`, { bufferSize: 64 });
    try {
      for await (const entry of listing) {
        const name = entry.name;
        const child = sub ? `${sub}/${name}` : name;
        const at = `${rel}/${child}`;
        if (++entries > limits.maxEntries) throw refuse('too-many', rel, `${rel} holds more than ${limits.maxEntries} entries`);
        const st = await lstat(`/proc/self/fd/${dir.fd}/${name}`).catch(() => null);
        if (!st) continue; // removed meanwhile
        if (st.isDirectory()) {
          if (depth + 1 > maxDepth) throw refuse('too-deep', at, `${at} is nested more than ${maxDepth} levels deep`);
          const next = await openIn(dir, name, false, rel, at);
          try {
            await walk(next, child, depth + 1);
          } finally {
            await next.close();
          }
          continue;
        }
        const kind = kindOf(st);
        if (kind) throw refuse(kind, at);
        const file = await openIn(dir, name, true, rel, at);
        try {
          const fst = await file.stat();
          const swapped = kindOf(fst);
          if (swapped) throw refuse(swapped, at);
          const budget = limits.maxBytes - size.bytes;
          if (fst.size > budget) throw refuse('too-large', at, `${rel} holds more than ${limits.maxBytes} bytes (${at}: ${fst.size})`);
          size.files++;
          size.bytes += visit ? await visit.file(child, file, fst.size, budget) : fst.size;
        } finally {
          await file.close();
        }
      }
    } finally {
      await listing.close().catch(() => {});
    }
  }

  const dir = await openDirBeneath(root, rel, parts);
  try {
    await walk(dir, '', 0);
    return size;
  } finally {
    await dir.close();
  }
}

/** Checks that `rel` beneath `root` is a directory of regular files and directories only, within `limits` (UnsafeFileError if not). */
export function checkTreeBeneath(root: string, rel: string, limits: TreeLimits): Promise<TreeSize> {
  return walkTree(root, rel, limits);
}

/**
 * Copies the directory `rel` beneath `root` (regular files and directories only, within `limits`)
 * to `dest`, a new directory this call creates (it never writes through anything already there);
 * files 0644, directories 0755. All or nothing: on a refusal, what it created is removed.
 */
export async function copyTreeOutOf(root: string, rel: string, dest: string, limits: TreeLimits): Promise<TreeSize> {
  let created = false;
  try {
    return await walkTree(root, rel, limits, {
      directory: async (sub) => {
        await mkdir(path.join(dest, sub), { mode: 0o755 });
        created = true;
      },
      file: (sub, handle, size, budget) => copyHandle(handle, size, path.join(dest, sub), budget, `${rel}/${sub}`, 0o644),
    });
  } catch (err) {
    if (created) await rm(dest, { recursive: true, force: true });
    throw err;
  }
}
