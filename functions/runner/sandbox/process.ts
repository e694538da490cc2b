import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import path from 'node:path';
import type { Toolchain } from '../runtimes/types.js';
import { supervise, type ProcessOutcome } from '../supervise.js';
import { launcherPath } from './launcher.js';
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
  /** Programs may open inet sockets (the deployment's network mode is `internet`). @default false */
  network?: boolean;
}

/** How long a spared launcher may take to report after its program was killed, ms. */
const LAUNCHER_GRACE_MS = 2_000;

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
 * `spare` (the launcher) is left to report how its program ended.
 */
export function sweep(leader: number, marker: string, sweepAll: boolean, spare?: number): number {
  const keep = protectedPids();
  if (spare !== undefined) keep.add(spare);
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
 * No namespaces (Lambda, Fargate, or an explicit local opt-in): the launcher in a new session
 * starts the program in its own process group under the seccomp filter (no inet sockets without
 * network; the launcher and the runner out of its reach), with rlimits and a minimal environment;
 * every leftover process is swept after each phase.
 */
export class ProcessSandbox implements Sandbox {
  readonly kind = 'process' as const;
  readonly overlays = false;

  constructor(private readonly options: ProcessSandboxOptions = {}) {}

  view(dirs: ExecDirs, tool: Toolchain): SandboxView {
    return { workDir: dirs.work, outDir: dirs.out, tmpDir: dirs.tmp, tool };
  }

  async check(): Promise<void> {
    if (!launcherPath()) throw new Error('the launcher is missing: run `npm run setup` (it builds build/runtools-launch), or set RUNTOOLS_LAUNCHER');
  }

  workspace(workRoot: string): Promise<Workspace> {
    return createWorkspace(workRoot);
  }

  release(ws: Workspace): Promise<void> {
    return removeWorkspace(ws);
  }

  describe(): string {
    return `process mode (no namespaces): seccomp filter${this.options.network ? '' : ' without inet sockets'}; rlimits for file size and descriptors; leftover processes swept after each run`;
  }

  run(spec: SandboxSpawn): Promise<ProcessOutcome> {
    const marker = `${EXECUTION_MARKER}=${spec.id}`;
    const { openFiles, fileSizeBytes } = spec.limits;
    const launch = [launcherPath()!, '-s', '3', '-p', ...(this.options.network ? [] : ['-n']), '-o', String(openFiles), '-f', String(fileSizeBytes)];
    const sweepAll = this.options.sweepAll ?? false;
    return supervise({
      argv: [...launch, '--', ...spec.argv],
      extraPipes: 1,
      env: { ...spec.env, [EXECUTION_MARKER]: spec.id },
      cwd: spec.cwd ? path.join(spec.dirs.work, spec.cwd) : spec.dirs.work,
      stdin: spec.stdin,
      timeoutMs: spec.timeoutMs,
      outputLimitBytes: spec.outputLimitBytes,
      signal: spec.signal,
      onOutput: spec.onOutput,
      report: (child) => child.stdio[3] as Readable | null,
      killTree: (child, why) => {
        const pid = child.pid;
        if (!pid) return;
        if (why === 'exit') {
          sweep(pid, marker, sweepAll);
          return;
        }
        // The program's tree dies; its launcher reports and exits, then the 'exit' sweep follows.
        sweep(pid, marker, sweepAll, pid);
        setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) sweep(pid, marker, sweepAll);
        }, LAUNCHER_GRACE_MS).unref();
      },
    });
  }
}
