import { processInfo } from './cgroup.js';

/** The process's start time after boot in clock ticks, or null once it is gone. */
const startTime = (pid: number) => processInfo(pid)?.startTime ?? null;

/**
 * Which process made a workspace or a cgroup: every name this process creates starts with its
 * instance tag, `i<pid>x<start time>x`. A later server sweeps what a dead instance left (a crash,
 * a SIGKILL) and never touches what a live one (another server, a CLI run) is using; the start
 * time tells a reused pid from the original.
 */
export const INSTANCE_TAG = `i${process.pid}x${startTime(process.pid) ?? 0}x`;

const TAG = /^i(\d+)x(\d+)x/;

/**
 * Whether the instance that made `name` is still running: true or false for a tagged name, null
 * for a name without a tag (made by an older version).
 */
export function instanceAlive(name: string): boolean | null {
  const m = TAG.exec(name);
  if (!m) return null;
  const started = startTime(Number(m[1]));
  return started !== null && started === Number(m[2]);
}
