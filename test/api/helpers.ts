import { readdirSync, readFileSync } from 'node:fs';
import { Runner, createRunner } from '../../functions/runner/index.js';
import type { LogFields, Logger } from '../../functions/api/log.js';
import { startServer, type RunningServer } from '../../functions/api/server.js';
import type { ServerConfig } from '../../functions/api/config.js';

let shared: Promise<Runner> | undefined;

/** One bubblewrap runner per test file (its toolchain probes are cached). */
export function testRunner(): Promise<Runner> {
  return (shared ??= createRunner({ sandbox: 'bwrap' }));
}

/** A logger that keeps every line for assertions. */
export function recordingLogger(): Logger & { lines: (LogFields & { level: string })[] } {
  const lines: (LogFields & { level: string })[] = [];
  return {
    lines,
    info: (f) => lines.push({ level: 'info', ...f }),
    warn: (f) => lines.push({ level: 'warn', ...f }),
    error: (f) => lines.push({ level: 'error', ...f }),
  };
}

/** A real local server on a free loopback port. */
export async function startTestServer(config: Partial<ServerConfig> = {}, log: Logger = recordingLogger()): Promise<RunningServer> {
  return startServer({ config: { port: 0, host: '127.0.0.1', ...config }, log, runner: await testRunner() });
}

/** POSTs JSON to a running server. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** Resolves when `check` holds, polling; fails after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The sandbox spawner (build/runtools-spawn) the process `pid` started, if any. */
export function spawnerOf(pid: number): number | undefined {
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('runtools-spawn')) return Number(p);
    } catch {
      /* gone */
    }
  }
  return undefined;
}
