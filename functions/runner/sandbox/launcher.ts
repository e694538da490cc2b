import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstExecutable } from '../runtimes/locate.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const found = new Map<string, string | null>();

/**
 * A small C program scripts/setup.sh builds into build/ (an env variable overrides it; the images
 * put it beside the runner bundle), or null; looked up once.
 */
function built(name: string, override: string | undefined): string | null {
  if (!found.has(name)) found.set(name, firstExecutable([override, path.join(repo, 'build', name), path.join(here, name)]));
  return found.get(name)!;
}

/** The launcher every program starts under (launch.c): seccomp filter, wait status report, prepared sandboxes' wait. */
export const launcherPath = () => built('runtools-launch', process.env.RUNTOOLS_LAUNCHER);

/** The process that forks every sandbox (see spawner.ts). */
export const spawnerPath = () => built('runtools-spawn', process.env.RUNTOOLS_SPAWNER);

/** A prepared sandbox's spec for the launcher (-w) or a waiting interpreter: working directory, environment and argv, NUL-separated. */
export function launchSpec(cwd: string, env: Record<string, string>, argv: readonly string[]): Buffer {
  const entries = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return Buffer.from([cwd, String(entries.length), ...entries, ...argv].map((f) => `${f}\0`).join(''));
}
