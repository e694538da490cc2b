import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { OutputCollector } from './output.js';

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
  stdin: string;
  timeoutMs: number;
  outputLimitBytes: number;
  /** A process already started (and waiting for `onSpawn` to release it), instead of spawning argv. */
  child?: Child;
  /** Called once the process exists; user code must not start before it resolves. */
  onSpawn?(child: Child): Promise<void>;
  /** Kills everything the process started (group, cgroup, namespace). Safe to call twice. */
  killTree(child: Child): void;
  /** Maps an exit status to a signal name when the sandbox reports signals as 128+N. */
  signalFromStatus?: boolean;
  signal?: AbortSignal;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** The signal name for 128+N exit statuses, as shells and sandboxes report them. */
export function signalOfStatus(code: number): string | null {
  return code > 128 && code < 128 + 65 ? (SIGNAL_NAMES.get(code - 128) ?? null) : null;
}

/** How long to wait for pipes to drain after the process tree is gone. */
const DRAIN_GRACE_MS = 200;

/**
 * Spawns argv without a shell and supervises it: feeds stdin, caps each output stream
 * (killing the tree when a cap is exceeded), kills the whole tree at the timeout, and
 * never waits on pipes held open by stray descendants.
 */
export function supervise(opts: SuperviseOptions): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const stdio: Array<'pipe' | 'ignore'> = ['pipe', 'pipe', 'pipe'];
    let child: Child;
    try {
      child = opts.child ?? spawn(opts.argv[0]!, opts.argv.slice(1), {
        env: opts.env ?? {},
        cwd: opts.cwd,
        stdio,
        detached: true,
        windowsHide: true,
      });
    } catch (err) {
      resolve(failure(`could not start ${opts.argv[0]}: ${(err as Error).message}`, started));
      return;
    }
    const stdout = new OutputCollector(opts.outputLimitBytes);
    const stderr = new OutputCollector(opts.outputLimitBytes);
    let timedOut = false;
    let killedBy: string | null = null;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;

    const kill = (reason: string) => {
      if (!killedBy) killedBy = reason;
      try {
        opts.killTree(child);
      } catch {
        /* best effort; the tree may be gone */
      }
    };

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const s of child.stdio) s?.destroy();
      const durationMs = Math.round(performance.now() - started);
      if (spawnError && (!exit || killedBy === 'setup')) {
        resolve(failure(`could not start ${opts.argv[0]}: ${spawnError.message}`, started));
        return;
      }
      let exitCode = exit?.code ?? (exit?.signal ? 128 + (constants.signals[exit.signal] ?? 0) : 1);
      let signal: string | null = exit?.signal ?? (opts.signalFromStatus ? signalOfStatus(exitCode) : null);
      if (killedBy) {
        exitCode = 137;
        signal = 'SIGKILL';
      }
      resolve({
        stdout: stdout.text(),
        stderr: stderr.text(),
        exitCode,
        signal,
        timedOut,
        truncated: stdout.overflowed || stderr.overflowed,
        durationMs,
      });
    };

    const onAbort = () => kill('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // A pipe the sandbox closes first may report ECONNRESET: that is the end of the stream, not a crash.
    for (const stream of child.stdio) stream?.on('error', () => {});
    child.on('error', (err) => {
      spawnError = err;
      finish();
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!stdout.push(chunk)) kill('output');
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (!stderr.push(chunk)) kill('output');
    });
    // Done once the process has exited and both output streams have ended: waiting for their
    // handles to close as well ('close') costs another turn of a busy event loop.
    let ended = 0;
    const onEnd = () => {
      if (++ended === 2 && exit) finish();
    };
    child.stdout!.once('end', onEnd);
    child.stderr!.once('end', onEnd);
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      // Anything the program left behind dies with it; then give the pipes a moment to drain.
      kill('exit');
      if (killedBy === 'exit') killedBy = null;
      if (ended === 2) finish();
      else drainTimer = setTimeout(finish, DRAIN_GRACE_MS);
    });
    child.on('close', finish);

    const begin = async () => {
      try {
        await opts.onSpawn?.(child);
      } catch (err) {
        spawnError = err as Error;
        kill('setup');
        return;
      }
      timer = setTimeout(() => {
        timedOut = true;
        kill('timeout');
      }, opts.timeoutMs);
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
  };
}
