import path from 'node:path';
import type { Cgroup, CgroupUsage } from '../cgroup.js';
import { SandboxFault } from '../../errors.js';
import { OutputCollector } from '../output.js';
import { phaseStatus, parseReport, type LaunchReport, type Termination } from '../status.js';
import { endOf, type ProcessOutcome } from '../supervise.js';
import { launchSpec } from './launcher.js';
import type { SpawnedChild } from './spawner.js';
import type { Lane, LaneRun } from './types.js';

/** What a lane says on stderr (its own failures, never a test's output) that a fault message keeps, bytes. */
const DIAGNOSTICS_BYTES = 2048;

/** How long a lane may take to kill a test and report after K before the whole lane is killed, ms. */
const KILL_GRACE_MS = 5_000;

interface Current {
  output(type: 'o' | 'e', chunk: Buffer): void;
  result(line: Buffer): void;
  exit(): void;
}

/**
 * The server's side of a lane (launch.c -L): a sandbox that runs a suite's tests one after
 * another, each in fresh mount and IPC namespaces with fresh tmpfs at /work, /tmp and /dev/shm,
 * every process of a test killed before the next. Tests go in as frames on the lane's stdin;
 * their output and the launcher's report come back as frames on its stdout. Timeouts, output caps
 * and aborts are decided here, as supervise() decides them, and carried out by the lane (K).
 * The lane's cgroup holds one test at a time: its CPU, OOM kills and peak are read around each.
 */
export class SandboxLane implements Lane {
  private pending: Buffer = Buffer.alloc(0);
  private current: Current | null = null;
  private diagnostics = '';
  private exited = false;
  private closed = false;

  constructor(
    private readonly child: SpawnedChild,
    private readonly cgroup: Cgroup | null,
    private readonly killTree: () => void,
    private readonly outputLimitBytes: number,
    /** The work dir inside the sandbox. */
    private readonly workDir: string,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => this.feed(chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      if (this.diagnostics.length < DIAGNOSTICS_BYTES) this.diagnostics += chunk.toString('utf8', 0, DIAGNOSTICS_BYTES);
    });
    child.stdin!.on('error', () => {});
    child.on('exit', () => {
      this.exited = true;
      this.current?.exit();
    });
  }

  /** False once the lane has ended (or is closed): a test then needs another lane. */
  get usable(): boolean {
    return !this.exited && !this.closed && this.current === null;
  }

  run(r: LaneRun): Promise<ProcessOutcome> {
    if (!this.usable) return Promise.reject(new SandboxFault('the lane cannot take a test', { beforeStart: true }));
    const cgroup = this.cgroup;
    const peakReset = cgroup?.resetPeak() ?? false;
    const before = cgroup?.usage() ?? null;
    const started = performance.now();
    const stdout = new OutputCollector(this.outputLimitBytes);
    const stderr = new OutputCollector(this.outputLimitBytes);
    let termination: Termination | null = null;
    let killed = false;
    return new Promise<ProcessOutcome>((resolve, reject) => {
      let force: NodeJS.Timeout | undefined;
      const stop = (why: Termination) => {
        termination ??= why;
        if (killed) return;
        killed = true;
        this.child.stdin!.write(Buffer.from([0x4b, 0, 0, 0, 0])); // K
        // A lane that does not report soon after (a process it cannot reap) goes whole.
        force = setTimeout(() => this.killTree(), KILL_GRACE_MS);
      };
      const timer = setTimeout(() => stop('timeout'), r.timeoutMs);
      const onAbort = () => stop('aborted');
      r.signal?.addEventListener('abort', onAbort, { once: true });
      const over = () => {
        clearTimeout(timer);
        clearTimeout(force);
        r.signal?.removeEventListener('abort', onAbort);
        this.current = null;
      };
      const finish = (report: LaunchReport | null) => {
        const after = cgroup?.usage() ?? null;
        const oomKills = before && after ? after.oomKills - before.oomKills : 0;
        if (!report && !termination && oomKills === 0) {
          const why = this.diagnostics.trim() || (this.exited ? 'the lane ended' : 'no report');
          reject(new SandboxFault(`the test ended before it reported how the program ended (${why})`, { beforeStart: false }));
          return;
        }
        // Without a report the lane killed the test (K) or the OOM killer took it: SIGKILL either way.
        const { exitCode, signal } = endOf(report, termination, { code: null, signal: 'SIGKILL' });
        resolve({
          stdout: stdout.text(),
          stderr: stderr.text(),
          exitCode,
          signal,
          timedOut: termination === 'timeout',
          truncated: stdout.overflowed || stderr.overflowed,
          durationMs: Math.round(performance.now() - started),
          status: phaseStatus({ termination, oomKills, exitCode, signal }),
          cpuTimeMs: cpuSince(before, after) ?? report?.cpuTimeMs ?? 0,
          memoryPeakBytes: (peakReset ? after?.memoryPeakBytes : null) ?? report?.maxRssBytes ?? 0,
        });
      };
      this.current = {
        output: (type, chunk) => {
          if (!(type === 'o' ? stdout : stderr).push(chunk)) stop('output');
        },
        result: (line) => {
          over();
          finish(line.length > 0 ? parseReport(line.toString('latin1')) : null);
        },
        exit: () => {
          over();
          finish(null);
        },
      };
      const cwd = r.cwd ? path.posix.join(this.workDir, r.cwd) : this.workDir;
      const spec = launchSpec(cwd, { ...r.env, PWD: cwd }, r.argv);
      const input = Buffer.from(r.stdin, 'utf8');
      const files = filesFrame(r.files ?? {});
      const payload = [u32(input.length), input, u32(files.length), files, spec];
      const length = payload.reduce((n, b) => n + b.length, 0);
      this.child.stdin!.write(Buffer.concat([Buffer.from('T', 'latin1'), u32(length), ...payload]));
    });
  }

  /** Ends the lane: it exits at the end of its input; whatever is left is killed with its cgroup. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.child.stdin!.end();
    this.killTree();
    for (const s of this.child.stdio) s?.destroy();
    await this.cgroup?.destroy();
  }

  /** Splits the lane's stdout into frames: a type byte, a 32-bit little-endian length, the payload. */
  private feed(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const len = this.pending.readUInt32LE(1);
      if (this.pending.length < 5 + len) return;
      const type = String.fromCharCode(this.pending[0]!);
      const payload = this.pending.subarray(5, 5 + len);
      this.pending = this.pending.subarray(5 + len);
      if (type === 'o' || type === 'e') this.current?.output(type, payload);
      else if (type === 'R') this.current?.result(payload);
    }
  }
}

/** A test's own files as the lane reads them: a count, then each as name length, name, size, content (32-bit little-endian). */
function filesFrame(files: Record<string, string>): Buffer {
  const parts: Buffer[] = [u32(Object.keys(files).length)];
  for (const [name, content] of Object.entries(files)) {
    const n = Buffer.from(name, 'utf8');
    const c = Buffer.from(content, 'utf8');
    parts.push(u32(n.length), n, u32(c.length), c);
  }
  return Buffer.concat(parts);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** The group's CPU time between two readings, where both have it. */
function cpuSince(before: CgroupUsage | null, after: CgroupUsage | null): number | null {
  const a = after?.cpuTimeMs;
  const b = before?.cpuTimeMs;
  return a == null || b == null ? null : Math.max(0, a - b);
}
