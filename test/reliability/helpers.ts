import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
 * environment; `wrap` runs it under another command (e.g. `unshare -m sh -c ...`, which must
 * `exec "$@"`). Resolves once it says it is listening.
 */
export async function startServerProcess(env: Record<string, string>, wrap: string[] = []): Promise<ServerProcess> {
  const argv = [...wrap, process.execPath, '--import', 'tsx', SERVER];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = { text: '' };
  const stderr = { text: '' };
  child.stdout!.on('data', (d: Buffer) => (stdout.text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr.text += d.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const deadline = Date.now() + 60_000;
  while (!stdout.text.includes('"listening"')) {
    const gone = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))]);
    if (gone || Date.now() > deadline) throw new Error(`the server did not start:\n${stdout.text}\n${stderr.text}`);
  }
  const line = JSON.parse(stdout.text.split('\n').find((l) => l.includes('"listening"'))!) as { url: string };
  return {
    child,
    pid: child.pid!,
    url: line.url,
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

/** A JSON request to the server, parsed. */
export async function call<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; body?: unknown; key?: string } = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...(init.key ? { 'x-api-key': init.key } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

export { until } from '../api/helpers.js';
