import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { sweepCgroups } from './cgroup.js';
import { instanceAlive } from './instance.js';
import { removeWorkspace } from './workspace.js';

/** An untagged name (an older version's) is left alone unless it is at least this old. */
const UNTAGGED_AGE_MS = 60 * 60 * 1000;
/** What older versions named workspaces and cgroups: 12 base64url characters (+ `-run` / `-compile`). */
const UNTAGGED = /^[A-Za-z0-9_-]{12}(-run|-compile)?$/;

/**
 * Removes what a server that is gone left behind: workspaces in `workRoot` and execution cgroups
 * whose instance (instance.ts) no longer runs, and an older version's that are clearly abandoned.
 * Live instances' (another server, a CLI run) are never touched. Nothing here follows a link:
 * the workspace trees are a program's writing.
 */
export async function sweepLeftovers(workRoot: string): Promise<{ workspaces: number; cgroups: number }> {
  workRoot = path.resolve(workRoot);
  const now = Date.now();
  let workspaces = 0;
  // Workspaces with a tmpfs of their own (workspace.ts) are unmounted first: that empties them.
  const mounted = new Set(await mountsIn(workRoot));
  for (const name of await readdir(workRoot).catch(() => [])) {
    const alive = instanceAlive(name);
    if (alive === true) continue;
    const root = path.join(workRoot, name);
    const st = await lstat(root).catch(() => null);
    if (!st?.isDirectory()) continue;
    if (alive === null && !(UNTAGGED.test(name) && now - st.mtimeMs > UNTAGGED_AGE_MS)) continue;
    await removeWorkspace({ root, mounted: mounted.has(root) }).then(
      () => workspaces++,
      () => {},
    );
  }
  const cgroups = await sweepCgroups((name, empty) => {
    const alive = instanceAlive(name);
    return alive === false || (alive === null && UNTAGGED.test(name) && empty);
  });
  return { workspaces, cgroups };
}

/** Mount points directly in `dir` (this process's mount namespace). */
async function mountsIn(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Field 5 is the mount point, with space, tab, newline and backslash as octal escapes.
  const points = info.split('\n').map((line) => line.split(' ')[4] ?? '').map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return [...new Set(points.filter((p) => path.dirname(p) === dir))];
}
