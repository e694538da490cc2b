import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

/** Files read-only, directories writable by their owner (a compile's overlay adds its entries to its own layer). */
function readOnlyFiles(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) readOnlyFiles(p);
    else chmodSync(p, 0o444);
  }
  chmodSync(dir, 0o755);
}

/** Removes a tree, including one an older layout left with read-only directories. */
function remove(dir: string): void {
  if (!existsSync(dir)) return;
  execFileSync('chmod', ['-R', 'u+w', dir]);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Builds a directory set-up shares read-only with every execution (the Go cache, C++'s
 * precompiled header, javac's archive): `fill` writes it into a staging directory beside `dir`,
 * then its files become read-only and it replaces `dir` whole, in one rename. Executions only
 * ever see it through read-only binds or as an overlay's lower layer. The staging directory
 * never outlives the call.
 */
export function publishDir(dir: string, fill: (staging: string) => void): void {
  const staging = `${dir}.staging-${process.pid}`;
  try {
    mkdirSync(staging, { recursive: true });
    fill(staging);
    readOnlyFiles(staging);
    remove(dir);
    renameSync(staging, dir);
  } finally {
    remove(staging);
  }
}
