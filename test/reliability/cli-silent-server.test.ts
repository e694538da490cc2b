import { spawn } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNTIMES } from '../../functions/runtimes.js';
import { executionBound, INTERPRETED_RUNTIMES } from '../../sdk/client.js';
import { Runtools, TimeoutError } from '../../sdk/index.js';
import { runCli } from '../cli/helpers.js';

/**
 * A server that accepts connections, reads the requests and never answers: what a wedged API, a
 * proxy that lost its upstream or a paused VM looks like to a client. The CLI and the SDK must give
 * up after the execution's own bound (its timeout plus a margin), say which server did not answer,
 * and never send the POST twice (a retry could run the program twice).
 */
interface Silent {
  url: string;
  /** Request lines seen, e.g. `POST /v1/execute`. */
  requests(): string[];
  close(): Promise<void>;
}

const servers: (Silent | { close(): Promise<void> })[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function silentServer(): Promise<Silent> {
  const sockets = new Set<Socket>();
  const received = new Map<Socket, string>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    received.set(socket, '');
    socket.on('data', (chunk: Buffer) => received.set(socket, received.get(socket)! + chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const silent: Silent = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => [...received.values()].flatMap((data) => [...data.matchAll(/(?:^|\r\n)([A-Z]+ \S+) HTTP\/1\.[01]\r\n/g)].map((m) => m[1]!)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(silent);
  return silent;
}

const MARGIN_MS = 1000;
const TIMEOUT_MS = 1000;
/** Generous for a loaded 2-core machine: tsx start-up plus the bound (2 s) plus slack. */
const EXIT_WITHIN_MS = 30_000;

describe('the CLI against a server that never answers', () => {
  it('exec gives up after the timeout plus the margin, naming the server, with one POST', async () => {
    const silent = await silentServer();
    const started = Date.now();
    const run = await runCli(['exec', '--runtime', 'python', '--timeout', String(TIMEOUT_MS), 'print(1)'], {
      env: { RUNTOOLS_API_URL: silent.url, RUNTOOLS_CLIENT_MARGIN_MS: String(MARGIN_MS) },
      killAfterMs: EXIT_WITHIN_MS,
    });
    const elapsed = Date.now() - started;
    expect(run.code, `killed after ${elapsed} ms; stderr: ${run.stderr}`).toBe(125);
    expect(elapsed).toBeLessThan(EXIT_WITHIN_MS);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS + MARGIN_MS - 100);
    expect(run.stdout).toBe('');
    // stderr is not a terminal: the one error line and nothing else (no status line, no stack).
    expect(run.stderr).toMatch(/^runtools: [^\n]+\n$/);
    expect(run.stderr).toContain(silent.url);
    expect(run.stderr).toMatch(/no answer from .* after \d+(\.\d)? s/);
    expect(run.stderr).toMatch(/timeout 1 s/);
    expect(silent.requests()).toEqual(['POST /v1/execute']);
  });

  it('runtimes gives up after the margin', async () => {
    const silent = await silentServer();
    const started = Date.now();
    const run = await runCli(['runtimes'], {
      env: { RUNTOOLS_API_URL: silent.url, RUNTOOLS_CLIENT_MARGIN_MS: String(MARGIN_MS) },
      killAfterMs: EXIT_WITHIN_MS,
    });
    expect(run.code, `stderr: ${run.stderr}`).toBe(125);
    expect(Date.now() - started).toBeLessThan(EXIT_WITHIN_MS);
    expect(run.stderr).toMatch(/^runtools: no answer from [^\n]+\n$/);
    expect(run.stderr).toContain(silent.url);
    expect(silent.requests()).toEqual(['GET /v1/runtimes']);
  });

  it('says what it is waiting for when stderr is a terminal, then the error', async () => {
    const silent = await silentServer();
    const bin = path.resolve(import.meta.dirname, '../../bin/runtools.mjs');
    const command = [process.execPath, bin, 'exec', '-r', 'python', '--stdin', '', '--timeout', String(TIMEOUT_MS), 'print(1)']
      .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
      .join(' ');
    // `script` gives the CLI a pseudo-terminal for stdout and stderr.
    const out = await new Promise<{ code: number | null; text: string }>((resolve, reject) => {
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm', RUNTOOLS_API_URL: silent.url, RUNTOOLS_CLIENT_MARGIN_MS: String(MARGIN_MS) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      const killer = setTimeout(() => child.kill('SIGKILL'), EXIT_WITHIN_MS);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, text });
      });
    });
    expect(out.code, out.text).toBe(125);
    expect(out.text).toContain(`waiting for ${silent.url} (timeout 1 s + 1 s margin)…`);
    // The status line is cleared before the error is printed on a line of its own.
    expect(out.text).toMatch(/\r\x1b\[2Kruntools: no answer from /);
  });

  it('rejects a margin that is not a number of milliseconds', async () => {
    const run = await runCli(['runtimes'], { env: { RUNTOOLS_API_URL: 'http://127.0.0.1:9', RUNTOOLS_CLIENT_MARGIN_MS: 'soon' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^runtools: invalid RUNTOOLS_CLIENT_MARGIN_MS="soon"/);
  });
});

describe('the SDK against a server that never answers', () => {
  it('execute rejects with TimeoutError after one POST', async () => {
    const silent = await silentServer();
    const rt = new Runtools({ baseUrl: silent.url, timeoutMargin: 300 });
    const started = Date.now();
    const error = await rt.execute({ runtime: 'python', code: 'print(1)', timeout: 500 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toContain(silent.url);
    expect(elapsed).toBeGreaterThanOrEqual(750);
    expect(elapsed).toBeLessThan(10_000);
    // Let a retry, if there were one, reach the server.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(silent.requests()).toEqual(['POST /v1/execute']);
  });

  it('does not retry a POST that timed out even with an explicit call timeout', async () => {
    const silent = await silentServer();
    const error = await new Runtools({ baseUrl: silent.url, maxRetries: 5 })
      .execute({ runtime: 'python', code: 'print(1)' }, { timeout: 500 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(silent.requests()).toEqual(['POST /v1/execute']);
  });

  it('runtimes rejects with TimeoutError after the margin', async () => {
    const silent = await silentServer();
    const started = Date.now();
    const error = await new Runtools({ baseUrl: silent.url, timeoutMargin: 300 }).runtimes().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

/** A server that answers 202, then serves the polls from a script ('hang': never answer that one). */
async function backgroundServer(polls: ('hang' | object)[]) {
  const seen: string[] = [];
  const server: HttpServer = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    if (req.method === 'POST') {
      res.writeHead(202, { 'content-type': 'application/json', location: '/v1/executions/ex_1' });
      return res.end(JSON.stringify({ id: 'ex_1', status: 'queued' }));
    }
    const reply = polls.length > 1 ? polls.shift()! : polls[0]!;
    if (reply === 'hang') return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(reply));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const RESULT = { stdout: 'ok\n', stderr: '', exitCode: 0, executionTime: 5, timedOut: false, signal: null, truncated: false, runtime: 'python', version: '3' };

describe('background (202) executions', () => {
  it('retries a poll that got no answer', async () => {
    const { url, seen } = await backgroundServer(['hang', { id: 'ex_1', status: 'completed', result: RESULT }]);
    const result = await new Runtools({ baseUrl: url, timeoutMargin: 300 }).execute({ runtime: 'python', code: 'print(1)', timeout: 500 });
    expect(result).toEqual(RESULT);
    expect(seen).toEqual(['POST /v1/execute', 'GET /v1/executions/ex_1', 'GET /v1/executions/ex_1']);
  });

  it('gives up on an execution that stays running past its bound', async () => {
    const { url, seen } = await backgroundServer([{ id: 'ex_1', status: 'running' }]);
    const started = Date.now();
    const error = await new Runtools({ baseUrl: url, timeoutMargin: 300 })
      .execute({ runtime: 'python', code: 'print(1)', timeout: 500 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/ex_1/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(seen[0]).toBe('POST /v1/execute');
    expect(seen.length).toBeGreaterThan(1);
  });
});

describe('the wait bound', () => {
  it('is the timeout (default 30 s), plus the compile allowance for compiled runtimes, plus the margin', () => {
    expect(executionBound({ runtime: 'python', code: '' }, 5000)).toMatchObject({ timeoutMs: 30_000, compileMs: 0, marginMs: 5000, totalMs: 35_000 });
    expect(executionBound({ runtime: 'py', code: '', timeout: 1000 }, 0).totalMs).toBe(1000);
    const go = executionBound({ runtime: 'golang', code: '', timeout: 1000 }, 5000);
    expect(go.compileMs).toBeGreaterThan(0);
    expect(go.totalMs).toBe(1000 + go.compileMs + 5000);
    // An unknown name might be a compiled runtime the server has and this SDK does not know yet.
    expect(executionBound({ runtime: 'zig' as 'python', code: '' }, 0).compileMs).toBe(go.compileMs);
  });

  it("knows the registry's interpreted runtimes and their aliases", () => {
    const interpreted = RUNTIMES.filter((r) => !r.compiled).flatMap((r) => [r.id, ...r.aliases]);
    expect([...INTERPRETED_RUNTIMES].sort()).toEqual(interpreted.sort());
  });
});
