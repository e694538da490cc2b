import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { CgroupUsage } from './cgroup.js';
import { SandboxFault } from '../errors.js';
import { phaseStatus, signalName, type LaunchReport, type PhaseStatus, type Termination } from './status.js';
import { captureOutput } from './supervise/capture.js';
import { DRAIN_GRACE_MS, whenDrained } from './supervise/drain.js';
import { readReport } from './supervise/report.js';
import { armTimeout } from './supervise/timeout.js';

/** What one supervised process produced: the shape every phase result is built from. */
export interface ProcessOutcome {
  stdout: string;
  stderr: string;
  exitCode: number;
  signal: string | null;
  timedOut: boolean;
  truncated: boolean;
  /** Wall time from spawn to exit, ms. */
  durationMs: number;
  /** Why it ended. */
  status: PhaseStatus;
  /** User + system CPU of the whole process tree, ms. */
  cpuTimeMs: number;
  /** Peak memory: the cgroup's, else the largest process's resident set, bytes. */
  memoryPeakBytes: number;
}

/** The part of a ChildProcess supervision uses (a process the sandbox spawner started has it too). */
export interface Child {
  readonly pid?: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: ReadonlyArray<Readable | Writable | null | undefined>;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

export interface SuperviseOptions {
  /** What to spawn, or (with `child`) what names the process in messages. */
  argv: string[];
  /** Environment and working directory of a process spawned here (not of `child`). */
  env?: Record<string, string>;
  cwd?: string;
  /** Extra descriptors of a process spawned here: 'pipe' entries after stdio (fd 3 is the launcher's report). */
  extraPipes?: number;
  stdin: string;
  timeoutMs: number;
  outputLimitBytes: number;
  /** A process already started (and waiting for `onSpawn` to release it), instead of spawning argv. */
  child?: Child;
  /** Called once the process exists; user code must not start before it resolves. */
  onSpawn?(child: Child): Promise<void>;
  /** Kills everything the process started (group, cgroup, namespace). Safe to call twice. */
  killTree(child: Child, termination: Termination | 'exit'): void;
  /** The launcher's report stream (it writes one line when the program ends). */
  report?(child: Child): Readable | null | undefined;
  /** Called once the process is gone: waits for the rest of its tree and reads its accounting. */
  settle?(): Promise<CgroupUsage | null>;
  signal?: AbortSignal;
  /** Output as it arrives, within the caps (live output). */
  onOutput?(stream: 'stdout' | 'stderr', chunk: Buffer): void;
}

/** The signal name for 128+N exit statuses, as shells and sandboxes report them. */
export function signalOfStatus(code: number): string | null {
  return code > 128 && code < 128 + 65 ? signalName(code - 128) : null;
}

/**
 * Spawns argv without a shell and supervises it: feeds stdin, caps each output stream
 * (killing the tree when a cap is exceeded), kills the whole tree at the timeout, and
 * never waits on pipes held open by stray descendants. The exit status comes from the
 * launcher's report when there is one (bwrap and a plain parent only see an exit code).
 * Each concern is its own small piece (supervise/): the timeout, the output caps, the
 * launcher's report, the drain; the termination reason is set once, by the first cause.
 */
export function supervise(opts: SuperviseOptions): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let child: Child;
    try {
      child = opts.child ?? spawn(opts.argv[0]!, opts.argv.slice(1), {
        env: opts.env ?? {},
        cwd: opts.cwd,
        stdio: ['pipe', 'pipe', 'pipe', ...Array<'pipe'>(opts.extraPipes ?? 0).fill('pipe')],
        detached: true,
        windowsHide: true,
      });
    } catch (err) {
      reject(new SandboxFault(`could not start the sandbox: ${(err as Error).message}`, { beforeStart: true, cause: err }));
      return;
    }
    let termination: Termination | null = null;
    let report: LaunchReport | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;
    let setupFailed = false;
    let settled = false;
    let timeout: { clear(): void } | undefined;

    const kill = (reason: Termination | 'exit' | 'setup') => {
      if (reason !== 'exit' && reason !== 'setup') termination ??= reason;
      try {
        opts.killTree(child, reason === 'setup' ? 'aborted' : reason);
      } catch {
        /* best effort; the tree may be gone */
      }
    };
    const streams = { stdout: child.stdout!, stderr: child.stderr! };
    const output = captureOutput(streams, opts.outputLimitBytes, () => kill('output'), opts.onOutput);
    // The program has ended: whatever happens after (teardown, draining) is not its timeout.
    const reportOver = readReport(opts.report?.(child), (r) => {
      report = r;
      timeout?.clear();
    });

    const finish = async () => {
      if (settled) return;
      settled = true;
      timeout?.clear();
      drain.cancel();
      opts.signal?.removeEventListener('abort', onAbort);
      const durationMs = Math.round(performance.now() - started);
      // The launcher writes its report before it exits, but the exit and the end of the output
      // can be seen before the report's pipe is read: give it until that pipe ends (bounded).
      if (opts.report && !report) await Promise.race([reportOver, new Promise((r) => setTimeout(r, DRAIN_GRACE_MS))]);
      for (const s of child.stdio) s?.destroy();
      const usage = await opts.settle?.().catch(() => null);
      if (spawnError && (!exit || setupFailed)) {
        reject(new SandboxFault(`could not start the sandbox: ${spawnError.message}`, { beforeStart: true, cause: spawnError }));
        return;
      }
      if (opts.report && !report && !termination && !usage?.oomKills) {
        // Only we stop a launcher (the program cannot signal it): the sandbox died under the program.
        const how = exit?.signal ? `signal ${exit.signal}` : `exit status ${exit?.code ?? 'unknown'}`;
        reject(new SandboxFault(`the sandbox ended (${how}) before it reported how the program ended`, { beforeStart: false }));
        return;
      }
      const { exitCode, signal } = endOf(report, termination, exit);
      resolve({
        stdout: output.stdout.text(),
        stderr: output.stderr.text(),
        exitCode,
        signal,
        timedOut: termination === 'timeout',
        truncated: output.truncated,
        durationMs,
        status: phaseStatus({ termination, oomKills: usage?.oomKills ?? 0, exitCode, signal }),
        cpuTimeMs: usage?.cpuTimeMs ?? report?.cpuTimeMs ?? 0,
        memoryPeakBytes: usage?.memoryPeakBytes ?? report?.maxRssBytes ?? 0,
      });
    };
    const drain = whenDrained(streams, () => void finish());

    const onAbort = () => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // A pipe the sandbox closes first may report ECONNRESET: that is the end of the stream, not a crash.
    for (const stream of child.stdio) stream?.on('error', () => {});
    child.on('error', (err) => {
      spawnError = err;
      void finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Anything the program left behind dies with it; then give the pipes a moment to drain.
      kill('exit');
      drain.exited();
    });
    child.on('close', () => void finish());

    const begin = async () => {
      try {
        await opts.onSpawn?.(child);
      } catch (err) {
        spawnError = err as Error;
        setupFailed = true;
        kill('setup');
        return;
      }
      if (!report) timeout = armTimeout(opts.timeoutMs, () => kill('timeout'));
      const stdin = child.stdin!;
      stdin.on('error', () => {
        /* the program closed stdin early: not an error */
      });
      stdin.end(opts.stdin);
    };
    if (child.pid === undefined) return; // 'error' follows
    void begin();
  });
}

/**
 * How the program ended: the launcher's report (its wait status) when there is one; else, when
 * supervision killed it, SIGKILL; else the sandbox's own exit status, where 128+N means signal N.
 */
export function endOf(
  report: LaunchReport | null,
  termination: Termination | null,
  exit: { code: number | null; signal: NodeJS.Signals | null } | null,
): { exitCode: number; signal: string | null } {
  if (report) return { exitCode: report.code ?? 128 + (constants.signals[report.signal as NodeJS.Signals] ?? 0), signal: report.signal };
  if (termination) return { exitCode: 137, signal: 'SIGKILL' };
  const exitCode = exit?.code ?? (exit?.signal ? 128 + (constants.signals[exit.signal] ?? 0) : 1);
  return { exitCode, signal: exit?.signal ?? signalOfStatus(exitCode) };
}
