import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstExecutable } from '../runtimes/locate.js';

let found: string | null | undefined;

/** The built launcher of prepared sandboxes (scripts/setup.sh compiles it), or null; looked up once. */
export function launcherPath(): string | null {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  return (found ??= firstExecutable([process.env.RUNTOOLS_LAUNCHER, path.join(repo, 'build/runtools-launch')]));
}

/** The launcher's input: working directory, environment and argv, NUL-separated. */
export function launchSpec(cwd: string, env: Record<string, string>, argv: readonly string[]): Buffer {
  const entries = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return Buffer.from([cwd, String(entries.length), ...entries, ...argv].map((f) => `${f}\0`).join(''));
}
