import { mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { goCacheMaster } from './paths.js';
import type { Overlay } from './sandbox/types.js';

let listing: { master: string; mtimeMs: number; entries: Array<[string, string[]]> } | null = null;

async function masterListing(master: string): Promise<Array<[string, string[]]>> {
  const info = await stat(master).catch(() => null);
  if (!info?.isDirectory()) return [];
  if (listing && listing.master === master && listing.mtimeMs === info.mtimeMs) return listing.entries;
  const entries: Array<[string, string[]]> = [];
  for (const dir of await readdir(master, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    entries.push([dir.name, await readdir(path.join(master, dir.name))]);
  }
  listing = { master, mtimeMs: info.mtimeMs, entries };
  return entries;
}

/**
 * Gives one compilation its own Go build cache: fresh directories whose entries are symlinks
 * to the prebuilt master. Go reads through them; new entries land in the private directories;
 * the master itself is mounted read-only and never changes.
 * `masterAsSeen` is the master's path inside the sandbox.
 */
export async function goCacheSnapshot(dest: string, masterAsSeen = goCacheMaster()): Promise<void> {
  const master = goCacheMaster();
  await mkdir(dest, { recursive: true });
  const entries = await masterListing(master);
  // A fresh trim stamp: Go would otherwise walk the whole cache to trim it once the master's is a day old.
  await writeFile(path.join(dest, 'trim.txt'), `${Math.floor(Date.now() / 1000)}\n`);
  await Promise.all(
    entries.map(async ([dir, files]) => {
      const target = path.join(dest, dir);
      await mkdir(target);
      for (const f of files) await symlink(path.join(masterAsSeen, dir, f), path.join(target, f));
    }),
  );
}

/**
 * The same private cache as an overlay: the master read-only underneath, this compilation's new
 * entries in `scratch`/upper. Mounted by the sandbox spawner in the compile sandbox's own mount
 * namespace, so it disappears with it.
 */
export async function goCacheOverlay(target: string, scratch: string): Promise<Overlay> {
  const upper = path.join(scratch, 'upper');
  const work = path.join(scratch, 'work');
  await Promise.all([mkdir(target, { recursive: true }), mkdir(upper, { recursive: true }), mkdir(work, { recursive: true })]);
  await writeFile(path.join(upper, 'trim.txt'), `${Math.floor(Date.now() / 1000)}\n`);
  return { lower: goCacheMaster(), upper, work, target };
}
