import { isExecutable } from '../runtimes/locate.js';
import type { ResourceLimits } from './types.js';

const PRLIMIT = '/usr/bin/prlimit';
/** Looked up once: the spawn path must not stat the filesystem on every execution. */
let hasPrlimit: boolean | undefined;

/** Prefixes argv with `prlimit` so the rlimits hold for the process and everything it starts. */
export function withRlimits(argv: string[], limits: ResourceLimits): string[] {
  if (!rlimitsAvailable()) return argv;
  return [
    PRLIMIT,
    `--nofile=${limits.openFiles}:${limits.openFiles}`,
    `--fsize=${limits.fileSizeBytes}:${limits.fileSizeBytes}`,
    '--core=0:0',
    '--',
    ...argv,
  ];
}

/** True when rlimits can be applied on this host. */
export const rlimitsAvailable = () => (hasPrlimit ??= isExecutable(PRLIMIT));
