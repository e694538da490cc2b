import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Per-execution resource limits enforced by a cgroup. */
export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
}

/** One execution's cgroup (v1: a memory and a pids group; v2: one group). */
export interface Cgroup {
  /** The cgroup.procs files a process writes its pid to, to move itself (and its future children) in. */
  readonly procs: string[];
  /** SIGKILLs every process in the group until it is empty. */
  killAll(): void;
  /**
   * Kills until no process is left in the group (the result must not return while one still
   * runs); `over` may count a listed process as done (by default: only once it is reaped).
   */
  emptied(over?: (pid: number) => boolean): Promise<void>;
  /** Kills what is left and removes the group; resolves once it is gone (callers need not wait). */
  destroy(): Promise<void>;
  /** What the group's processes used so far; null where this host's cgroups do not say. */
  usage(): CgroupUsage;
  /**
   * Starts a new peak: usage() then reports the peak since this call (a lane's next test), or
   * false where the kernel cannot reset it (v2 before Linux 6.12: memory.peak is then the group's).
   */
  resetPeak(): boolean;
}

/** A phase's accounting, read from its cgroup once its processes are gone. */
export interface CgroupUsage {
  /** User + system CPU of every process that ran in the group, ms. */
  cpuTimeMs: number | null;
  /** Peak memory of the group (page cache included), bytes. */
  memoryPeakBytes: number | null;
  /** Processes the kernel's OOM killer killed in the group. */
  oomKills: number;
}

/**
 * v1: one group per controller. `cpu` (when mounted) puts all of an execution's processes in one
 * scheduling group, so a fork bomb of spinning processes competes for CPU like a single task
 * instead of starving the server; `freezer` (when mounted) lets killAll stop a fork bomb before
 * killing it, so it cannot fork faster than it is killed; `cpuacct` (when mounted) counts CPU time.
 */
type Driver =
  | { version: 1; memory: string; pids: string; cpu: string | null; freezer: string | null; cpuacct: string | null }
  | { version: 2; root: string };

const V1 = '/sys/fs/cgroup';
let driver: Driver | null | undefined;

function tryWrite(file: string, value: string): boolean {
  try {
    writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

function probeV2(): Driver | null {
  const mount = existsSync(`${V1}/cgroup.controllers`) ? V1 : existsSync(`${V1}/unified/cgroup.controllers`) ? `${V1}/unified` : null;
  if (!mount) return null;
  const controllers = readFileSync(`${mount}/cgroup.controllers`, 'utf8').split(/\s+/);
  if (!controllers.includes('memory') || !controllers.includes('pids')) return null;
  const root = path.join(mount, 'runtools');
  try {
    mkdirSync(root, { recursive: true });
    tryWrite(`${mount}/cgroup.subtree_control`, '+memory +pids');
    tryWrite(`${root}/cgroup.subtree_control`, '+memory +pids');
    // Optional: one scheduling group per execution (see Driver).
    tryWrite(`${mount}/cgroup.subtree_control`, '+cpu');
    tryWrite(`${root}/cgroup.subtree_control`, '+cpu');
    const enabled = readFileSync(`${root}/cgroup.subtree_control`, 'utf8');
    return enabled.includes('memory') && enabled.includes('pids') ? { version: 2, root } : null;
  } catch {
    return null;
  }
}

function probeV1(): Driver | null {
  const memory = `${V1}/memory/runtools`;
  const pids = `${V1}/pids/runtools`;
  if (!existsSync(`${V1}/memory/cgroup.procs`) || !existsSync(`${V1}/pids/cgroup.procs`)) return null;
  try {
    mkdirSync(memory, { recursive: true });
    mkdirSync(pids, { recursive: true });
    const cpu = optionalV1('cpu');
    // Often mounted together as cpu,cpuacct: then the cpu group is the accounting one too.
    const cpuacct = cpu && existsSync(`${cpu}/cpuacct.usage`) ? null : optionalV1('cpuacct');
    return { version: 1, memory, pids, cpu, freezer: optionalV1('freezer'), cpuacct };
  } catch {
    return null;
  }
}

function optionalV1(controller: string): string | null {
  if (!existsSync(`${V1}/${controller}/cgroup.procs`)) return null;
  const dir = `${V1}/${controller}/runtools`;
  try {
    mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return null;
  }
}

/** Which cgroup version this host lets us use for per-execution limits, or null (rlimits only). */
export function cgroupSupport(): 1 | 2 | null {
  if (driver === undefined) driver = process.env.RUNTOOLS_CGROUPS === 'off' ? null : (probeV2() ?? probeV1());
  return driver?.version ?? null;
}

function procs(dir: string): number[] {
  try {
    return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process's command name, kernel flags (PF_*) and start time (clock ticks after boot), or null once it is gone. */
export function processInfo(pid: number): { comm: string; flags: number; startTime: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const end = stat.lastIndexOf(')');
  // Fields after the command: state is field 3, flags 9, starttime 22.
  const fields = stat.slice(end + 2).split(' ');
  return { comm: stat.slice(stat.indexOf('(') + 1, end), flags: Number(fields[6]), startTime: Number(fields[19]) };
}

/** v1 lists a process for a moment after it is reaped: one without /proc entry is gone. */
const reaped = (pid: number) => processInfo(pid) === null;

function killListed(dir: string): boolean {
  const pids = procs(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return pids.length > 0;
}

function killDir(dir: string, freezer?: string): void {
  if (procs(dir).length === 0) return;
  // v2 (5.14+) has an atomic kill; v1 needs a loop because a fork bomb can race the reader.
  if (driver?.version === 2 && tryWrite(`${dir}/cgroup.kill`, '1')) return;
  // Frozen processes cannot fork: kill every one of them, then thaw so the kills land.
  if (freezer && tryWrite(`${freezer}/freezer.state`, 'FROZEN')) {
    killListed(freezer);
    tryWrite(`${freezer}/freezer.state`, 'THAWED');
  }
  for (let round = 0; round < 100; round++) if (!killListed(dir)) return;
}

async function removeDir(dir: string, freezer?: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    // Normally already empty: reading cgroup.procs (v1 builds a sorted pid list) only when not.
    if (attempt > 0) killDir(dir, freezer);
    try {
      // Removing a memory group frees its per-CPU state: a thread-pool call, not the event loop.
      await rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // The kernel is still tearing processes down; try again shortly without blocking the event loop.
      await new Promise((r) => setTimeout(r, Math.min(50, 1 + attempt)));
    }
  }
}

/**
 * Creates a cgroup for one execution, or returns null when cgroups are unavailable. Creating a
 * memory group takes the kernel a millisecond or more: thread-pool calls, not the event loop.
 */
export async function createCgroup(name: string, limits: CgroupLimits): Promise<Cgroup | null> {
  cgroupSupport();
  if (!driver) return null;
  const d = driver;
  const dirs = d.version === 2 ? [path.join(d.root, name)] : [path.join(d.memory, name), path.join(d.pids, name)];
  // v1's optional groups (cpu, freezer, cpuacct): used when they can be created.
  const optional = d.version === 1 ? [d.cpu, d.freezer, d.cpuacct].filter((p): p is string => p !== null).map((p) => path.join(p, name)) : [];
  const made = await Promise.allSettled([...dirs, ...optional].map((dir) => mkdir(dir)));
  const extra = optional.filter((_, i) => made[dirs.length + i]!.status === 'fulfilled');
  const failed = made.slice(0, dirs.length).find((r) => r.status === 'rejected');
  const freezer = d.version === 1 && d.freezer ? extra.find((dir) => dir.startsWith(`${d.freezer}/`)) : undefined;
  try {
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (d.version === 2) {
      const dir = dirs[0]!;
      await writeFile(`${dir}/memory.max`, String(limits.memoryBytes));
      await writeFile(`${dir}/memory.swap.max`, '0').catch(() => {});
      await writeFile(`${dir}/pids.max`, String(limits.pids));
    } else {
      await writeFile(`${dirs[0]}/memory.limit_in_bytes`, String(limits.memoryBytes));
      await writeFile(`${dirs[0]}/memory.memsw.limit_in_bytes`, String(limits.memoryBytes)).catch(() => {});
      await writeFile(`${dirs[1]}/pids.max`, String(limits.pids));
    }
  } catch (err) {
    await Promise.all([...dirs, ...extra].map((dir) => rmdir(dir).catch(() => {})));
    throw err;
  }
  const listing = dirs[dirs.length - 1]!;
  let peakFd: number | undefined;
  const accounting = d.version === 2 ? dirs[0]! : extra.find((dir) => existsSync(`${dir}/cpuacct.usage`)) ?? null;
  return {
    procs: [...extra, ...dirs].map((dir) => `${dir}/cgroup.procs`),
    // Every process of the group is in each of its directories: one of them lists and kills.
    killAll() {
      killDir(listing, freezer);
    },
    async emptied(over = reaped) {
      for (let attempt = 0; attempt < 2000; attempt++) {
        if (procs(listing).every(over)) return;
        killDir(listing, freezer);
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    async destroy() {
      if (peakFd !== undefined) closeSync(peakFd);
      peakFd = undefined;
      await Promise.all(dirs.map((dir) => removeDir(dir, freezer)));
      await Promise.all(extra.map((dir) => removeDir(dir, freezer)));
    },
    usage: () => (d.version === 2 ? usageV2(dirs[0]!, peakFd) : usageV1(dirs[0]!, accounting)),
    resetPeak() {
      if (d.version === 1) return tryWrite(`${dirs[0]}/memory.max_usage_in_bytes`, '0');
      // v2 (6.12+): a write resets the peak seen through that descriptor only.
      try {
        peakFd ??= openSync(`${dirs[0]}/memory.peak`, 'r+');
        writeSync(peakFd, 'reset');
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** A cgroup file's text, or null when this kernel does not have it. */
function readControl(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** The value of `key` in a flat-keyed file (`key value` lines), or null. */
function keyed(text: string | null, key: string): number | null {
  const m = text === null ? null : new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

const number = (text: string | null) => (text === null || text.trim() === '' ? null : Number(text.trim()));

function usageV1(memory: string, cpuacct: string | null): CgroupUsage {
  const ns = cpuacct ? number(readControl(`${cpuacct}/cpuacct.usage`)) : null;
  return {
    cpuTimeMs: ns === null ? null : Math.round(ns / 1e6),
    memoryPeakBytes: number(readControl(`${memory}/memory.max_usage_in_bytes`)),
    oomKills: keyed(readControl(`${memory}/memory.oom_control`), 'oom_kill') ?? 0,
  };
}

function usageV2(dir: string, peakFd?: number): CgroupUsage {
  const usec = keyed(readControl(`${dir}/cpu.stat`), 'usage_usec');
  let peak: string | null = null;
  if (peakFd !== undefined) {
    const buf = Buffer.alloc(32);
    peak = buf.toString('latin1', 0, readSync(peakFd, buf, 0, buf.length, 0));
  }
  return {
    cpuTimeMs: usec === null ? null : Math.round(usec / 1000),
    // memory.peak needs Linux 5.19; read through the descriptor that reset it, it is the peak since.
    memoryPeakBytes: number(peak ?? readControl(`${dir}/memory.peak`)),
    oomKills: keyed(readControl(`${dir}/memory.events`), 'oom_kill') ?? 0,
  };
}

/**
 * Removes the execution cgroups `stale` picks (those a dead server left), killing anything still
 * in them first. Returns how many groups went.
 */
export async function sweepCgroups(stale: (name: string, empty: boolean) => boolean): Promise<number> {
  cgroupSupport();
  if (!driver) return 0;
  const d = driver;
  const parents = d.version === 2 ? [d.root] : [d.memory, d.pids, d.cpu, d.freezer, d.cpuacct].filter((p): p is string => p !== null);
  let removed = 0;
  for (const parent of parents) {
    const names = await readdir(parent, { withFileTypes: true }).catch(() => []);
    const freezer = d.version === 1 ? d.freezer : null;
    await Promise.all(
      names
        .filter((e) => e.isDirectory() && stale(e.name, procs(path.join(parent, e.name)).length === 0))
        .map(async (e) => {
          await removeDir(path.join(parent, e.name), freezer ? path.join(freezer, e.name) : undefined);
          if (parent === parents[0]) removed++;
        }),
    );
  }
  return removed;
}
