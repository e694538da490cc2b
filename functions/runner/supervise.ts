import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { CgroupUsage } from './cgroup.js';
import { OutputCollector } from './output.js';
import { parseReport, phaseStatus, signalName, type LaunchReport, type PhaseStatus, type Termination } from './status.js';

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
}

/** The signal name for 128+N exit statuses, as shells and sandboxes report them. */
export function signalOfStatus(code: number): string | null {
  return code > 128 && code < 128 + 65 ? signalName(code - 128) : null;
}

/** How long to wait for pipes to drain after the process tree is gone. */
const DRAIN_GRACE_MS = 200;

/**
 * Spawns argv without a shell and supervises it: feeds stdin, caps each output stream
 * (killing the tree when a cap is exceeded), kills the whole tree at the timeout, and
 * never waits on pipes held open by stray descendants. The exit status comes from the
 * launcher's report when there is one (bwrap and a plain parent only see an exit code).
 */
export function supervise(opts: SuperviseOptions): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
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
      resolve(failure(`could not start ${opts.argv[0]}: ${(err as Error).message}`, started));
      return;
    }
    const stdout = new OutputCollector(opts.outputLimitBytes);
    const stderr = new OutputCollector(opts.outputLimitBytes);
    let termination: Termination | null = null;
    let report: LaunchReport | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;
    let setupFailed = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const kill = (reason: Termination | 'exit' | 'setup') => {
      if (reason !== 'exit' && reason !== 'setup') termination ??= reason;
      try {
        opts.killTree(child, reason === 'setup' ? 'aborted' : reason);
      } catch {
        /* best effort; the tree may be gone */
      }
    };

    const finish = async () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const s of child.stdio) s?.destroy();
      const durationMs = Math.round(performance.now() - started);
      const usage = await opts.settle?.().catch(() => null);
      if (spawnError && (!exit || setupFailed)) {
        resolve(failure(`could not start ${opts.argv[0]}: ${spawnError.message}`, started));
        return;
      }
      let exitCode: number;
      let signal: string | null;
      if (report) {
        signal = report.signal;
        exitCode = report.code ?? 128 + (constants.signals[report.signal as NodeJS.Signals] ?? 0);
      } else if (termination) {
        // Killed with its launcher before it could say anything: by us.
        exitCode = 137;
        signal = 'SIGKILL';
      } else {
        // No report: the launcher itself was killed (an OOM kill, or from outside); the sandbox
        // reports its status as 128+N.
        exitCode = exit?.code ?? (exit?.signal ? 128 + (constants.signals[exit.signal] ?? 0) : 1);
        signal = exit?.signal ?? signalOfStatus(exitCode);
      }
      resolve({
        stdout: stdout.text(),
        stderr: stderr.text(),
        exitCode,
        signal,
        timedOut: termination === 'timeout',
        truncated: stdout.overflowed || stderr.overflowed,
        durationMs,
        status: phaseStatus({ termination, oomKills: usage?.oomKills ?? 0, exitCode, signal }),
        cpuTimeMs: usage?.cpuTimeMs ?? report?.cpuTimeMs ?? 0,
        memoryPeakBytes: usage?.memoryPeakBytes ?? report?.maxRssBytes ?? 0,
      });
    };

    const onAbort = () => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // A pipe the sandbox closes first may report ECONNRESET: that is the end of the stream, not a crash.
    for (const stream of child.stdio) stream?.on('error', () => {});
    child.on('error', (err) => {
      spawnError = err;
      void finish();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!stdout.push(chunk)) kill('output');
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (!stderr.push(chunk)) kill('output');
    });
    let line = '';
    opts.report?.(child)?.on('data', (chunk: Buffer) => {
      line += chunk.toString('latin1');
      if (line.length > 256) line = '';
      if (!line.endsWith('\n') || report) return;
      report = parseReport(line);
      // The program has ended: whatever happens after (teardown, draining) is not its timeout.
      if (report) clearTimeout(timer);
    });
    // Done once the process has exited and both output streams have ended: waiting for their
    // handles to close as well ('close') costs another turn of a busy event loop.
    let ended = 0;
    const onEnd = () => {
      if (++ended === 2 && exit) void finish();
    };
    child.stdout!.once('end', onEnd);
    child.stderr!.once('end', onEnd);
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Anything the program left behind dies with it; then give the pipes a moment to drain.
      kill('exit');
      if (ended === 2) void finish();
      else drainTimer = setTimeout(finish, DRAIN_GRACE_MS);
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
      timer = setTimeout(() => kill('timeout'), opts.timeoutMs);
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

/** The outcome of a process that could not be started. */
export function failure(message: string, started = performance.now()): ProcessOutcome {
  return {
    stdout: '',
    stderr: `${message}\n`,
    exitCode: 127,
    signal: null,
    timedOut: false,
    truncated: false,
    durationMs: Math.round(performance.now() - started),
    status: 'runtime_error',
    cpuTimeMs: 0,
    memoryPeakBytes: 0,
  };
}
