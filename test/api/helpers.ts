import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

export const ROOT = path.resolve(import.meta.dirname, '../..');
const SERVER = path.join(ROOT, 'functions/api/server.ts');

export interface ServerProcess {
  child: ChildProcess;
  /** The server's own pid (inside `unshare`, the process unshare became). */
  pid: number;
  url: string;
  stdout: { text: string };
  stderr: { text: string };
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/** A fresh data directory for one server (and its restarts). */
export const dataDir = () => mkdtempSync(path.join(tmpdir(), 'runtools-data-'));

/**
 * Starts the real server process (what `npm start` runs) on a free port with `env` over a minimal
 * environment and a fresh data directory; `wrap` runs it under another command (e.g.
 * `unshare -m sh -c ...`, which must `exec "$@"`). Does not wait for it (see startServerProcess).
 */
export function spawnServerProcess(env: Record<string, string>, wrap: string[] = []): Omit<ServerProcess, 'url'> {
  const argv = [...wrap, process.execPath, '--import', 'tsx', SERVER];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', RUNTOOLS_DATA_DIR: dataDir(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = { text: '' };
  const stderr = { text: '' };
  child.stdout!.on('data', (d: Buffer) => (stdout.text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr.text += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    pid: child.pid!,
    stdout,
    stderr,
    exited,
    kill: (signal = 'SIGKILL') => {
      try {
        child.kill(signal);
      } catch {
        /* gone */
      }
    },
  };
}

/** spawnServerProcess, resolved once the server says it is listening (rejects if it exits first). */
export async function startServerProcess(env: Record<string, string>, wrap: string[] = []): Promise<ServerProcess> {
  const server = spawnServerProcess(env, wrap);
  const deadline = Date.now() + 60_000;
  while (!server.stdout.text.includes('"listening"')) {
    const gone = await Promise.race([server.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))]);
    if (gone || Date.now() > deadline) throw new Error(`the server did not start:\n${server.stdout.text}\n${server.stderr.text}`);
  }
  const line = JSON.parse(server.stdout.text.split('\n').find((l) => l.includes('"listening"'))!) as { url: string };
  return { ...server, url: line.url };
}
