import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const isRoot = () => process.getuid?.() === 0;

/** Where the prebuilt Go build cache lives (read-only to executions). */
export function goCacheMaster(): string {
  if (process.env.RUNTOOLS_GO_CACHE) return process.env.RUNTOOLS_GO_CACHE;
  return isRoot() ? '/var/cache/runtools/go-build' : path.join(os.homedir(), '.cache/runtools/go-build');
}

/**
 * Where the class-data archive javac starts from is kept, with the stamp of the JDK it was made
 * for (scripts/build-javac-cds.ts makes it; read-only to executions).
 */
export function javacArchiveDir(): string {
  if (process.env.RUNTOOLS_JAVAC_CDS) return process.env.RUNTOOLS_JAVAC_CDS;
  return isRoot() ? '/var/cache/runtools/javac-cds' : path.join(os.homedir(), '.cache/runtools/javac-cds');
}

/** The parent of every execution's work directory: memory-backed when the host has /dev/shm. */
export function defaultWorkRoot(): string {
  if (process.env.RUNTOOLS_WORK_ROOT) return process.env.RUNTOOLS_WORK_ROOT;
  const shm = '/dev/shm';
  return existsSync(shm) ? path.join(shm, 'runtools') : path.join(os.tmpdir(), 'runtools');
}

/** Where successful builds are kept between executions (memory-backed when the host has /dev/shm). */
export function defaultCompileCacheDir(): string {
  if (process.env.RUNTOOLS_COMPILE_CACHE_DIR) return process.env.RUNTOOLS_COMPILE_CACHE_DIR;
  return existsSync('/dev/shm') ? '/dev/shm/runtools-builds' : path.join(os.tmpdir(), 'runtools-builds');
}
