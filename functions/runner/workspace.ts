import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { INSTANCE_TAG } from './instance.js';
import type { ExecDirs } from './sandbox/types.js';

const execFileAsync = promisify(execFile);

/** A fresh, private directory tree for one execution. */
export interface Workspace {
  id: string;
  root: string;
  dirs: ExecDirs;
  /** The tree is a tmpfs of its own (see WorkspaceQuota): unmounting it removes everything. */
  mounted?: boolean;
}

/**
 * How much one execution may write in its workspace: each workspace is then a tmpfs of this size
 * and inode count of its own, so a program fills only its share, never the work root others use.
 * Needs the right to mount (root); elsewhere workspaces are plain directories.
 */
export interface WorkspaceQuota {
  bytes: number;
  inodes: number;
}

/** Mounts and unmounts workspaces' tmpfs: the sandbox spawner's mount(2) where there is one, else mount(8). */
export interface WorkspaceMounter {
  mount(root: string, quota: WorkspaceQuota): Promise<void>;
  unmount(root: string): Promise<void>;
}

const TOOL_ENV = { PATH: '/usr/bin:/bin', LC_ALL: 'C' };

/** mount(8) and umount(8): a process each (a few ms of CPU), for sandboxes without a spawner. */
const commandMounter: WorkspaceMounter = {
  async mount(root, quota) {
    const options = `size=${quota.bytes},nr_inodes=${quota.inodes},mode=0700,nosuid,nodev`;
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', options, 'runtools', root], { env: TOOL_ENV });
  },
  async unmount(root) {
    try {
      await execFileAsync('umount', [root], { env: TOOL_ENV });
    } catch {
      await execFileAsync('umount', ['-l', root], { env: TOOL_ENV });
    }
  },
};

const quotas = new Map<string, { quota: WorkspaceQuota; mounter: WorkspaceMounter }>();
/** Whether mounting works here: unknown until tried. */
let mountable: boolean | undefined;

/** Gives every workspace created under `workRoot` from now on its own bounded tmpfs (null: plain directories). */
export function setWorkspaceQuota(workRoot: string, quota: WorkspaceQuota | null, mounter: WorkspaceMounter = commandMounter): void {
  if (quota) quotas.set(path.resolve(workRoot), { quota, mounter });
  else quotas.delete(path.resolve(workRoot));
}

/** Mounts the quota's tmpfs on `root`; false where this process may not mount. */
async function mountQuota(root: string, quota: WorkspaceQuota, mounter: WorkspaceMounter): Promise<boolean> {
  if (mountable === false || process.getuid?.() !== 0) return false;
  try {
    await mounter.mount(root, quota);
    mountable = true;
    return true;
  } catch (err) {
    // Not allowed here (a container without CAP_SYS_ADMIN): plain directories from now on.
    if (mountable === undefined) mountable = false;
    else throw err;
    return false;
  }
}

/** A short random id, safe for file and cgroup names, tagged with this process (see instance.ts). */
export function newExecutionId(): string {
  return `${INSTANCE_TAG}${randomBytes(9).toString('base64url')}`;
}

/** Creates `<workRoot>/<id>/{work,out,tmp}` (mode 0700 at the top). */
export async function createWorkspace(workRoot: string, id = newExecutionId()): Promise<Workspace> {
  await mkdir(workRoot, { recursive: true, mode: 0o700 });
  const root = path.join(workRoot, id);
  await mkdir(root, { mode: 0o700 });
  const quota = quotas.get(path.resolve(workRoot));
  let mounted = false;
  try {
    mounted = quota ? await mountQuota(root, quota.quota, quota.mounter) : false;
    const dirs: ExecDirs = { work: path.join(root, 'work'), out: path.join(root, 'out'), tmp: path.join(root, 'tmp') };
    await Promise.all(Object.values(dirs).map((d) => mkdir(d, { mode: 0o755 })));
    return { id, root, dirs, ...(mounted ? { mounted } : {}) };
  } catch (err) {
    await removeWorkspace({ root, mounted }).catch(() => {});
    throw err;
  }
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

/**
 * Removes a tree with coreutils: it walks with openat, so trees deeper than PATH_MAX (a program
 * can build them with relative paths) go too; it never follows symlinks nor leaves the filesystem.
 */
async function removeDeep(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) await execFileAsync('chmod', ['-R', 'u+rwx', '--', dir], { env: TOOL_ENV }).catch(() => {});
  await execFileAsync('rm', ['-rf', '--one-file-system', '--', dir], { env: TOOL_ENV });
}

/** Unmounts a workspace's tmpfs (lazily if something still holds it): what was in it is gone at once. */
export function unmountWorkspace(root: string): Promise<void> {
  const mounter = quotas.get(path.dirname(path.resolve(root)))?.mounter ?? commandMounter;
  return mounter.unmount(root);
}

/**
 * Removes the workspace, once every process of the execution is dead. Nothing here follows
 * symlinks or opens a file, so links the program planted to host files are unlinked, not their
 * targets, and a FIFO is just unlinked.
 */
export async function removeWorkspace(ws: Pick<Workspace, 'root' | 'mounted'>): Promise<void> {
  if (ws.mounted) await unmountWorkspace(ws.root);
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
