import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ExecDirs } from './sandbox/types.js';

/** A fresh, private directory tree for one execution. */
export interface Workspace {
  id: string;
  root: string;
  dirs: ExecDirs;
}

/** A short random id, safe for file and cgroup names. */
export function newExecutionId(): string {
  return randomBytes(9).toString('base64url');
}

/** Creates `<workRoot>/<id>/{work,out,tmp}` (mode 0700 at the top). */
export async function createWorkspace(workRoot: string, id = newExecutionId()): Promise<Workspace> {
  await mkdir(workRoot, { recursive: true, mode: 0o700 });
  const root = path.join(workRoot, id);
  await mkdir(root, { mode: 0o700 });
  const dirs: ExecDirs = { work: path.join(root, 'work'), out: path.join(root, 'out'), tmp: path.join(root, 'tmp') };
  await Promise.all(Object.values(dirs).map((d) => mkdir(d, { mode: 0o755 })));
  return { id, root, dirs };
}

/** Up to this much, request files are written in place: a thread-pool round trip per file costs more. */
const SYNC_WRITE_BYTES = 256 * 1024;

/** Writes request files under `dir`, creating subfolders; paths were validated by the contract. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  const parents = [...new Set(Object.keys(files).map((f) => path.dirname(path.join(dir, f))))].filter((p) => p !== dir).sort();
  const entries = Object.entries(files);
  if (entries.length <= 64 && entries.reduce((n, [, c]) => n + c.length, 0) <= SYNC_WRITE_BYTES) {
    for (const p of parents) mkdirSync(p, { recursive: true });
    for (const [name, content] of entries) writeFileSync(path.join(dir, name), content, { flag: 'wx' });
    return;
  }
  for (const p of parents) await mkdir(p, { recursive: true });
  await Promise.all(entries.map(([name, content]) => writeFile(path.join(dir, name), content, { flag: 'wx' })));
}

/**
 * Makes the directory `dir` and every directory under it writable again (a program may chmod its
 * dirs to 000) so the tree can be removed. chmod follows links, so only what lstat and the
 * directory listing report as a real directory is changed: a link is never touched, nor where it
 * points. For trees no process can change any more (every process of the execution is dead).
 */
export async function unlockTree(dir: string): Promise<void> {
  const st = await lstat(dir).catch(() => null);
  if (!st?.isDirectory()) return;
  await chmod(dir, 0o700).catch(() => {});
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await unlockTree(path.join(dir, e.name));
}

const execFileAsync = promisify(execFile);

/**
 * Removes a tree with coreutils: it walks with openat, so trees deeper than PATH_MAX (a program
 * can build them with relative paths) go too; it never follows symlinks nor leaves the filesystem.
 */
async function removeDeep(dir: string): Promise<void> {
  const env = { PATH: '/usr/bin:/bin', LC_ALL: 'C' };
  if (process.getuid?.() !== 0) await execFileAsync('chmod', ['-R', 'u+rwx', '--', dir], { env }).catch(() => {});
  await execFileAsync('rm', ['-rf', '--one-file-system', '--', dir], { env });
}

/**
 * Removes the workspace, once every process of the execution is dead. Nothing here follows
 * symlinks or opens a file, so links the program planted to host files are unlinked, not their
 * targets, and a FIFO is just unlinked.
 */
export async function removeWorkspace(ws: Workspace): Promise<void> {
  try {
    await rm(ws.root, { recursive: true, force: true, maxRetries: 3 });
    return;
  } catch {
    /* unwritable folders or a tree too deep for paths: below */
  }
  await unlockTree(ws.root);
  try {
    await rm(ws.root, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    await removeDeep(ws.root);
  }
}
