import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Toolchain } from '../runtimes/types.js';
import { supervise, type ProcessOutcome } from '../supervise.js';
import { rlimitsAvailable, withRlimits } from './rlimits.js';
import { createWorkspace, removeWorkspace, type Workspace } from '../workspace.js';
import type { ExecDirs, Sandbox, SandboxSpawn, SandboxView } from './types.js';

/** Environment variable that marks every process of one execution, so the sweep can find them. */
export const EXECUTION_MARKER = 'RUNTOOLS_EXECUTION';

export interface ProcessSandboxOptions {
  /**
   * After each phase kill every process that is not this one or one of its ancestors
   * (Lambda and Fargate, where the runner owns the whole machine).
   */
  sweepAll?: boolean;
}

interface ProcInfo {
  pid: number;
  ppid: number;
  sid: number;
  pgid: number;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(fields[1]), pgid: Number(fields[2]), sid: Number(fields[3]) };
  } catch {
    return null;
  }
}

function hasMarker(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(marker);
  } catch {
    return false;
  }
}

function allPids(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);
}

/** Our own pid and every ancestor's: never swept. */
function protectedPids(): Set<number> {
  const keep = new Set<number>([1]);
  let pid = process.pid;
  while (pid > 1 && !keep.has(pid)) {
    keep.add(pid);
    pid = readProc(pid)?.ppid ?? 1;
  }
  return keep;
}

/**
 * Kills what one execution left behind: its process group and session, every process carrying
 * its marker, and (sweepAll) every process that is not the runner itself. Repeats until stable.
 */
export function sweep(leader: number, marker: string, sweepAll: boolean): number {
  const keep = protectedPids();
  let killed = 0;
  for (let round = 0; round < 20; round++) {
    let found = 0;
    for (const pid of allPids()) {
      if (keep.has(pid)) continue;
      const info = readProc(pid);
      if (!info) continue;
      const ours = sweepAll || info.sid === leader || info.pgid === leader || hasMarker(pid, marker);
      if (!ours) continue;
      try {
        process.kill(pid, 'SIGKILL');
        found++;
      } catch {
        /* gone or not ours to kill */
      }
    }
    killed += found;
    if (found === 0) break;
  }
  return killed;
}

/**
 * No namespaces (Lambda, Fargate, or an explicit local opt-in): a new session and process group,
 * rlimits, a minimal environment, and a sweep of every leftover process after each phase.
 */
export class ProcessSandbox implements Sandbox {
  readonly kind = 'process' as const;
  readonly overlays = false;

  constructor(private readonly options: ProcessSandboxOptions = {}) {}

  view(dirs: ExecDirs, tool: Toolchain): SandboxView {
    return { workDir: dirs.work, outDir: dirs.out, tmpDir: dirs.tmp, tool };
  }

  async check(): Promise<void> {}

  workspace(workRoot: string): Promise<Workspace> {
    return createWorkspace(workRoot);
  }

  release(ws: Workspace): Promise<void> {
    return removeWorkspace(ws);
  }

  describe(): string {
    return `process mode (no namespaces): ${rlimitsAvailable() ? 'rlimits for file size and descriptors' : 'no rlimits (prlimit missing)'}; leftover processes swept after each run`;
  }

  run(spec: SandboxSpawn): Promise<ProcessOutcome> {
    const marker = `${EXECUTION_MARKER}=${spec.id}`;
    return supervise({
      argv: withRlimits(spec.argv, spec.limits),
      env: { ...spec.env, [EXECUTION_MARKER]: spec.id },
      cwd: spec.cwd ? path.join(spec.dirs.work, spec.cwd) : spec.dirs.work,
      stdin: spec.stdin,
      timeoutMs: spec.timeoutMs,
      outputLimitBytes: spec.outputLimitBytes,
      signal: spec.signal,
      killTree: (child) => {
        if (child.pid) sweep(child.pid, marker, this.options.sweepAll ?? false);
      },
    });
  }
}
