import { isExecutable } from '../runtimes/locate.js';
import type { ResourceLimits } from './types.js';

const PRLIMIT = '/usr/bin/prlimit';

/** Prefixes argv with `prlimit` so the rlimits hold for the process and everything it starts. */
export function withRlimits(argv: string[], limits: ResourceLimits, extra: string[] = []): string[] {
  if (!isExecutable(PRLIMIT)) return argv;
  return [
    PRLIMIT,
    `--nofile=${limits.openFiles}:${limits.openFiles}`,
    `--fsize=${limits.fileSizeBytes}:${limits.fileSizeBytes}`,
    '--core=0:0',
    ...extra,
    '--',
    ...argv,
  ];
}

/** True when rlimits can be applied on this host. */
export const rlimitsAvailable = () => isExecutable(PRLIMIT);
