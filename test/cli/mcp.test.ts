import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { startTestServer } from '../api/helpers.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/runtools.mjs');

interface Session {
  client: Client;
  transport: StdioClientTransport;
  stderr: { text: string };
  /** What the client could not read (anything on stdout that is not a protocol message). */
  errors: Error[];
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
}

/** `runtools mcp` as a child process, with an MCP client on its stdio. */
async function start(env: Record<string, string> = {}): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp'],
    env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env },
    stderr: 'pipe',
  });
  const stderr = { text: '' };
  transport.stderr?.on('data', (d: Buffer) => (stderr.text += d.toString()));
  const client = new Client({ name: 'runtools-test', version: '0.0.0' });
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  return { client, transport, stderr, errors, call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult };
}

/** Closes the client (stdin ends) and resolves with how long the process took to go. */
async function stop(session: Session): Promise<number> {
  const pid = session.transport.pid!;
  const started = Date.now();
  await session.client.close();
  const took = Date.now() - started;
  expect(() => process.kill(pid, 0)).toThrow();
  return took;
}

const textOf = (r: CallToolResult) => r.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('\n');

describe('runtools mcp (stdio, this machine)', () => {
  let session: Session;
  beforeAll(async () => {
    session = await start();
  });
  afterAll(async () => {
    await session?.client.close();
  });

  it('lists the tools', async () => {
    const { tools } = await session.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['execute_code', 'list_runtimes']);
    expect(session.client.getServerVersion()).toMatchObject({ name: 'runtools' });
  });

  it('runs python', async () => {
    const result = await session.call('execute_code', { runtime: 'python', code: 'print(6*7)' });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('42');
    expect(result.structuredContent).toMatchObject({ exitCode: 0, status: 'ok' });
  });

  it('answers a bad runtime with a tool error, and keeps serving', async () => {
    const bad = await session.call('execute_code', { runtime: 'cobol', code: 'x' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/unknown runtime "cobol"/);
    const runtimes = await session.call('list_runtimes');
    expect(textOf(runtimes)).toMatch(/^python {2}aliases: py, python3/m);
  });

  it('exits by itself once the client closes stdin, writing nothing but protocol to stdout', async () => {
    const other = await start();
    await other.call('execute_code', { runtime: 'python', code: 'print("only in the result")' });
    // StdioClientTransport sends SIGTERM after 2 s; the server is gone well before.
    expect(await stop(other)).toBeLessThan(1500);
    expect(other.errors).toEqual([]);
    expect(other.stderr.text).not.toMatch(/Error|at .*\.ts:\d+/);
  });

  it('stops a running execution when the client goes', async () => {
    const other = await start();
    const pending = other.call('execute_code', { runtime: 'python', code: 'import time\ntime.sleep(30)', timeout: 60_000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stop(other)).toBeLessThan(1900);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('runtools mcp with RUNTOOLS_API_URL', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer({ apiKeys: ['k1'] });
  });
  afterAll(() => server?.close());

  it('runs through the API', async () => {
    const session = await start({ RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: 'k1' });
    try {
      const result = await session.call('execute_code', { runtime: 'python', code: 'print(6*7)' });
      expect(result.structuredContent).toMatchObject({ exitCode: 0, stdout: '42\n' });
      const { runtimes } = (await session.call('list_runtimes')).structuredContent as { runtimes: { runtime: string }[] };
      expect(runtimes.map((r) => r.runtime)).toContain('python');
    } finally {
      await session.client.close();
    }
  });

  it('reports a rejected key as a tool error', async () => {
    const session = await start({ RUNTOOLS_API_URL: server.url, RUNTOOLS_API_KEY: 'wrong' });
    try {
      const result = await session.call('execute_code', { runtime: 'python', code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/not valid/);
    } finally {
      await session.client.close();
    }
  });
});
