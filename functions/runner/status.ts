import { constants } from 'node:os';

/** Why a phase ended (API.md "Additions": `status`), compile_error aside. */
export type PhaseStatus = 'ok' | 'runtime_error' | 'timeout' | 'memory_limit' | 'output_limit';

/** Why supervision killed a process itself; set once, by the first cause. */
export type Termination = 'timeout' | 'output' | 'aborted';

/** How the launcher (sandbox/launcher/launch.c) says the program ended, from its wait status. */
export interface LaunchReport {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  /** User + system CPU of the program and every descendant the launcher reaped, ms. */
  cpuTimeMs: number;
  /** Largest resident set of any of them, bytes. */
  maxRssBytes: number;
}

// Some numbers have two names (6: SIGABRT and SIGIOT, 29: SIGIO and SIGPOLL): the first listed, the usual one, wins.
const SIGNAL_NAMES = new Map(Object.entries(constants.signals).reverse().map(([name, n]) => [n, name]));

/** The name of signal `n` (SIGKILL for 9), or null for 0 and unknown numbers. */
export const signalName = (n: number): string | null => SIGNAL_NAMES.get(n) ?? null;

/** Parses the launcher's line `E <code> <signal> <user µs> <system µs> <max RSS KiB>`; null if it is not one. */
export function parseReport(line: string): LaunchReport | null {
  const m = /^E (-?\d+) (\d+) (\d+) (\d+) (\d+)$/.exec(line.trim());
  if (!m) return null;
  const [code, sig, user, sys, rss] = m.slice(1).map(Number) as [number, number, number, number, number];
  return {
    code: code >= 0 ? code : null,
    signal: code >= 0 ? null : (signalName(sig) ?? `SIG${sig}`),
    cpuTimeMs: Math.round((user + sys) / 1000),
    maxRssBytes: rss * 1024,
  };
}

const BY_TERMINATION: Record<Termination, PhaseStatus> = { timeout: 'timeout', output: 'output_limit', aborted: 'runtime_error' };

/**
 * Why a phase ended: what supervision killed it for, else an OOM kill in its cgroup when it did
 * not succeed, else its wait status. Never the exit code alone: `exit(137)` is a runtime error.
 */
export function phaseStatus(o: { termination: Termination | null; oomKills: number; exitCode: number; signal: string | null }): PhaseStatus {
  if (o.termination) return BY_TERMINATION[o.termination];
  const failed = o.exitCode !== 0 || o.signal !== null;
  if (failed && o.oomKills > 0) return 'memory_limit';
  return failed ? 'runtime_error' : 'ok';
}
