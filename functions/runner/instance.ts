import { readFileSync } from 'node:fs';

/**
 * Which process made a workspace or a cgroup: every name this process creates starts with its
 * instance tag, `i<pid>x<start time>x`. A later server sweeps what a dead instance left (a crash,
 * a SIGKILL) and never touches what a live one (another server, a CLI run) is using; the start
 * time tells a reused pid from the original.
 */
export const INSTANCE_TAG = `i${process.pid}x${startTime(process.pid) ?? 0}x`;

const TAG = /^i(\d+)x(\d+)x/;

/** The process's start time after boot in clock ticks (/proc/<pid>/stat, field 22), or null once it is gone. */
function startTime(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19]);
}

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
