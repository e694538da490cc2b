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

/** What a walk does with the entries of a tree (see walkEntries). */
interface WalkSteps {
  maxEntries: number;
  maxDepth: number;
  /**
   * Something the walk will not open or go into (a link, FIFO, socket or device; a directory
   * nested too deep; the entry past maxEntries): throws to refuse the whole tree, or says whether
   * to skip just that entry or stop the walk.
   */
  refuse(err: UnsafeFileError): 'skip' | 'stop';
  /** An entry that could not be opened for another reason (EACCES, …): rethrown unless this says otherwise. */
  unopenable?(err: NodeJS.ErrnoException): 'skip' | 'stop';
  /** Whether to go into the directory `sub` (false: it is never opened); first called with '' for the walked directory itself. */
  directory(sub: string): boolean | Promise<boolean>;
  /** Whether to open the regular file `sub` (false: it is never opened). @default every file */
  wants?(sub: string): boolean;
  /** A regular file, opened without following links and checked on its descriptor (`st`); 'stop' ends the walk. */
  file(sub: string, handle: FileHandle, st: Stats): Promise<'stop' | void>;
}

/**
 * Walks the directory `rel` beneath `root` (`parts` its components; none: `root` itself) without
 * following any link: what an entry is comes from lstat, so a link, FIFO, socket or device is
 * never opened, and a swap after that is caught when opening (O_NOFOLLOW, O_NONBLOCK) or on the
 * descriptor (fstat). Each directory is listed through its own descriptor and each file read from
 * its own, so swapping names during the walk changes nothing. Entries come in path order (each
 * listing sorted, a directory's name as if it ended in `/`), parents first. False when it stopped
 * early.
 */
async function walkEntries(root: string, rel: string, parts: readonly string[], steps: WalkSteps): Promise<boolean> {
  let entries = 0;
  const refuse = (reason: Refusal, at: string, detail = `${at} is ${PHRASES[reason]}`) => new UnsafeFileError(reason, rel, detail);
  /** The refusal of one entry: true when the walk goes on. */
  const skip = (err: unknown): boolean => {
    if (err instanceof UnsafeFileError) return steps.refuse(err) === 'skip';
    const errno = err as NodeJS.ErrnoException;
    if (steps.unopenable && typeof errno?.code === 'string') return steps.unopenable(errno) === 'skip';
    throw err;
  };

  /** Opens an entry (a regular file when `final`, else a directory), or says whether its refusal skips it or stops the walk. */
  const openOrSkip = (dir: FileHandle, name: string, final: boolean, at: string) =>
    openIn(dir, name, final, rel, at).catch((err: unknown) => (skip(err) ? ('skip' as const) : ('stop' as const)));

  async function walk(dir: FileHandle, sub: string, depth: number): Promise<boolean> {
    const found: { name: string; st: Stats; key: string }[] = [];
    const listing = await opendir(`/proc/self/fd/${dir.fd}`, { bufferSize: 64 });
    try {
      for await (const entry of listing) {
        if (++entries > steps.maxEntries && !skip(refuse('too-many', rel, `${rel || '.'} holds more than ${steps.maxEntries} entries`))) return false;
        const st = await lstat(`/proc/self/fd/${dir.fd}/${entry.name}`).catch(() => null);
        if (st) found.push({ name: entry.name, st, key: st.isDirectory() ? `${entry.name}/` : entry.name });
        // else: removed meanwhile
      }
    } finally {
      await listing.close().catch(() => {});
    }
    found.sort((a, b) => (a.key < b.key ? -1 : 1));
    for (const { name, st } of found) {
      const child = sub ? `${sub}/${name}` : name;
      const at = rel ? `${rel}/${child}` : child;
      if (st.isDirectory()) {
        // Only a directory the walk would enter can be too deep for it.
        if (!(await steps.directory(child))) continue;
        if (depth + 1 > steps.maxDepth) {
          if (skip(refuse('too-deep', at, `${at} is nested more than ${steps.maxDepth} levels deep`))) continue;
          return false;
        }
        const next = await openOrSkip(dir, name, false, at);
        if (next === 'skip') continue;
        if (next === 'stop') return false;
        try {
          if (!(await walk(next, child, depth + 1))) return false;
        } finally {
          await next.close();
        }
        continue;
      }
      const kind = kindOf(st);
      if (kind) {
        if (skip(refuse(kind, at))) continue;
        return false;
      }
      if (steps.wants && !steps.wants(child)) continue;
      const file = await openOrSkip(dir, name, true, at);
      if (file === 'skip') continue;
      if (file === 'stop') return false;
      try {
        const fst = await file.stat();
        const swapped = kindOf(fst);
        if (swapped) {
          if (skip(refuse(swapped, at))) continue;
          return false;
        }
        if ((await steps.file(child, file, fst)) === 'stop') return false;
      } finally {
        await file.close();
      }
    }
    return true;
  }

  const dir = await openDirBeneath(root, rel, parts);
  try {
    return (await steps.directory('')) ? await walk(dir, '', 0) : true;
  } finally {
    await dir.close();
  }
}

/**
 * Walks the directory `rel` beneath `root`: every entry in it must be a regular file or a
 * directory, reached without following any link; a link, FIFO, socket or device anywhere, or a
 * tree beyond `limits`, refuses the whole tree (UnsafeFileError naming the entry). `visit`
 * receives every directory and file (relative to `rel`), parents first.
 */
async function walkTree(
  root: string,
  rel: string,
  limits: TreeLimits,
  visit?: { directory(sub: string): Promise<void>; file(sub: string, handle: FileHandle, size: number, budget: number): Promise<number> },
): Promise<TreeSize> {
  const parts = segments(rel);
  if (!parts) throw new UnsafeFileError('bad-path', rel, PHRASES['bad-path']);
  const size: TreeSize = { files: 0, directories: 0, bytes: 0 };
  const directory = async (sub: string) => {
    size.directories++;
    await visit?.directory(sub);
    return true;
  };
  await walkEntries(root, rel, parts, {
    maxEntries: limits.maxEntries,
    maxDepth: limits.maxDepth ?? 64,
    refuse: (err) => {
      throw err;
    },
    directory,
    file: async (sub, handle, st) => {
      const budget = limits.maxBytes - size.bytes;
      if (st.size > budget) throw new UnsafeFileError('too-large', rel, `${rel} holds more than ${limits.maxBytes} bytes (${rel}/${sub}: ${st.size})`);
      size.files++;
      size.bytes += visit ? await visit.file(sub, handle, st.size, budget) : st.size;
    },
  });
  return size;
}

/** Why an entry a program left cannot be opened, when that is no fault of ours: scanDirectory skips it. */
const UNOPENABLE = new Set(['EACCES', 'EPERM', 'ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO']);

/** Bounds of a lenient walk (scanDirectory): entries seen (files and directories), nesting. */
interface ScanLimits {
  maxEntries: number;
  maxDepth: number;
}

/**
 * Walks the trusted directory `root` itself, in path order, for what a program left there: like
 * walkTree it never follows a link nor opens anything but regular files and directories, but it
 * skips what walkTree refuses (links, FIFOs, sockets, devices; directories nested deeper than
 * `maxDepth`) and stops after `maxEntries` entries. Entries it cannot open (no permission, removed
 * meanwhile) are skipped too. `enter` says which directories to go into, `wants` which regular
 * files to open; `file` gets each opened one (relative path, descriptor, its fstat) and may stop
 * the walk. Resolves whether it saw every entry it would have (false: an entry or depth bound cut
 * it short, or `file` stopped it).
 */
export function scanDirectory(
  root: string,
  limits: ScanLimits,
  visit: { enter(sub: string): boolean; wants(sub: string): boolean; file(sub: string, handle: FileHandle, st: Stats): Promise<'stop' | void> },
): Promise<boolean> {
  let complete = true;
  return walkEntries(root, '', [], {
    maxEntries: limits.maxEntries,
    maxDepth: limits.maxDepth,
    refuse: (err) => {
      if (err.reason === 'too-many') return 'stop';
      if (err.reason === 'too-deep') complete = false;
      return 'skip';
    },
    // A program can make a file or folder its own user cannot open (mode 000): it is left out.
    unopenable: (err) => {
      if (!UNOPENABLE.has(err.code ?? '')) throw err;
      return 'skip';
    },
    directory: (sub) => sub === '' || visit.enter(sub),
    wants: visit.wants,
    file: visit.file,
  }).then((finished) => finished && complete);
}

/**
 * Reads a regular file from its start through its descriptor, at most `maxBytes` + 1 bytes: a
 * result longer than `maxBytes` says the file is over that bound (it may have grown since its
 * fstat). `sizeHint` (its fstat size) sizes the first read.
 */
export async function readAtMost(handle: FileHandle, maxBytes: number, sizeHint = 0): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(maxBytes + 1 - total, total === 0 ? Math.max(1, Math.min(sizeHint + 1, CHUNK)) : CHUNK);
    if (want <= 0) break;
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buf, 0, want, total);
    if (bytesRead === 0) break;
    chunks.push(buf.subarray(0, bytesRead));
    total += bytesRead;
    // A short read of a regular file is its end: no further (1 MiB) read to learn that.
    if (bytesRead < want) break;
  }
  return Buffer.concat(chunks, total);
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
