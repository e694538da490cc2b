import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createApp } from '../../functions/api/app.js';
import { executeResultContent, imageMimeType } from '../../functions/api/mcp.js';
import { RUNTIME_FACTS, type Execution, type ExecuteResult, type RuntimeInfo, type ValidExecuteRequest } from '../../functions/contract.js';
import { RuntimeUnavailableError, type DispatchOutcome, type Dispatcher, type ExecutionContext } from '../../functions/dispatch/types.js';
import { recordingLogger } from './helpers.js';

const base: ExecuteResult = {
  stdout: 'plotted\n',
  stderr: '',
  exitCode: 0,
  executionTime: 120,
  cpuTime: 80,
  memoryPeak: 30 * 1024 * 1024,
  timedOut: false,
  signal: null,
  truncated: false,
  status: 'ok',
  runtime: 'python',
  version: '3.11.2',
};

const textOf = (r: CallToolResult) => r.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('\n');
const imagesOf = (r: CallToolResult) => r.content.filter((b) => b.type === 'image') as { type: 'image'; data: string; mimeType: string }[];

describe('executeResultContent', () => {
  it('summarises a run: status, exit code, time, stdout and stderr; the whole result as structuredContent', () => {
    const result: ExecuteResult = { ...base, status: 'runtime_error', exitCode: 3, stdout: 'out\n', stderr: 'err\n' };
    const content = executeResultContent(result);
    expect(content.isError).toBe(false);
    expect(textOf(content)).toBe(
      [
        'status: runtime_error (the program exited with code 3)',
        'exit code: 3',
        'time: 120 ms wall, 80 ms CPU; peak memory 30.0 MiB',
        'runtime: python 3.11.2',
        '',
        '--- stdout ---',
        'out',
        '',
        '--- stderr ---',
        'err',
      ].join('\n'),
    );
    expect(content.structuredContent).toEqual(result);
  });

  it('shows compile errors in place of stdout and stderr when compilation failed', () => {
    const compile = { stdout: '', stderr: './main.go:3:15: undefined: x\n', exitCode: 1, executionTime: 300, timedOut: false, cpuTime: 200, memoryPeak: 1, status: 'runtime_error' as const };
    const result: ExecuteResult = { ...base, runtime: 'go', status: 'compile_error', exitCode: 1, stdout: '', stderr: compile.stderr, compile };
    const text = textOf(executeResultContent(result));
    expect(text).toMatch(/^status: compile_error \(compilation failed; the program did not run\)$/m);
    expect(text).toMatch(/^compile: runtime_error, exit code 1, 300 ms$/m);
    expect(text).toContain('--- compile errors ---\n./main.go:3:15: undefined: x');
    expect(text).not.toContain('--- stderr');
  });

  it('returns image files as image blocks: base64 ones as they are, SVG text base64-encoded', () => {
    const png = Buffer.from('\x89PNG\r\n\x1a\nfake', 'latin1').toString('base64');
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"/>';
    const result = {
      ...base,
      files: [
        { path: 'plots/p.png', size: 12, encoding: 'base64', content: png },
        { path: 'photo.JPG', size: 3, encoding: 'base64', content: 'AAAA' },
        { path: 'd.svg', size: svg.length, encoding: 'utf8', content: svg },
        { path: 'huge.png', size: 50_000_000, encoding: 'base64', truncated: true },
        { path: 'liar.png', size: 5, encoding: 'utf8', content: 'hello' },
        { path: 'data.csv', size: 8, encoding: 'utf8', content: 'a,b\n1,2\n' },
        { path: 'blob.bin', size: 4, encoding: 'base64', content: 'AAECAw==' },
      ],
      filesTruncated: true,
    } as ExecuteResult;
    const content = executeResultContent(result);
    expect(imagesOf(content)).toEqual([
      { type: 'image', data: png, mimeType: 'image/png' },
      { type: 'image', data: 'AAAA', mimeType: 'image/jpeg' },
      { type: 'image', data: Buffer.from(svg).toString('base64'), mimeType: 'image/svg+xml' },
    ]);
    const text = textOf(content);
    expect(text).toContain('plots/p.png (12 bytes, returned as an image)');
    expect(text).toContain('huge.png (50000000 bytes, too large to return)');
    expect(text).toContain('blob.bin (4 bytes, binary)');
    expect(text).toContain('(more files matched than could be returned)');
    expect(text).toContain('--- file data.csv ---\na,b\n1,2');
    expect(text).not.toContain('--- file liar.png');
    expect(content.structuredContent).toEqual(result);
  });

  it('knows image types by extension', () => {
    expect(['a.png', 'b.jpeg', 'c.gif', 'd.webp', 'e.SVG', 'f.txt', 'png'].map(imageMimeType)).toEqual([
      'image/png',
      'image/jpeg',
      'image/gif',
      'image/webp',
      'image/svg+xml',
      null,
      null,
    ]);
  });
});

/** A dispatcher that answers as told and records what it was asked. */
function fakeDispatcher(behaviour: {
  execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome>;
  getExecution?(id: string, tenant: string): Promise<Execution | null>;
}): Dispatcher & { calls: { request: ValidExecuteRequest; ctx: ExecutionContext }[] } {
  const calls: { request: ValidExecuteRequest; ctx: ExecutionContext }[] = [];
  return {
    calls,
    execute: (request, ctx) => {
      calls.push({ request, ctx });
      return behaviour.execute(request, ctx);
    },
    getExecution: behaviour.getExecution ?? (async () => null),
    runtimes: async () => RUNTIME_FACTS.map((f): RuntimeInfo => ({ ...f, version: '1.0', available: true })),
  };
}

/** An MCP client of createApp()'s POST /mcp, in process; `env` stands for the host's bindings (Lambda's context). */
async function clientOf(dispatcher: Dispatcher, options: { env?: unknown; headers?: Record<string, string> } = {}) {
  const log = recordingLogger();
  const app = createApp({ dispatcher, authenticate: apiKeyAuthenticator(['k1']), log });
  const client = new Client({ name: 'runtools-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL('http://runtools.test/mcp'), {
    requestInit: { headers: { 'x-api-key': 'k1', ...options.headers } },
    fetch: async (url, init) => app.request(String(url), init, options.env),
  });
  await client.connect(transport);
  const call = async (args: Record<string, unknown>) => (await client.callTool({ name: 'execute_code', arguments: args })) as CallToolResult;
  return { client, call, log };
}

describe('POST /mcp with a given dispatcher', () => {
  it('executes with the caller\'s tenant (and end user) and the validated request', async () => {
    const dispatcher = fakeDispatcher({ execute: async () => ({ kind: 'completed', result: base }) });
    const { client, call } = await clientOf(dispatcher, { headers: { 'x-runtools-user': 'alice' } });
    const result = await call({ runtime: 'py', code: 'print(1)', outputs: ['*.png'] });
    expect(result.isError).toBe(false);
    const [{ request, ctx }] = dispatcher.calls as [{ request: ValidExecuteRequest; ctx: ExecutionContext }];
    expect(request).toMatchObject({ runtime: 'python', code: 'print(1)', timeout: 30_000, stdin: '', args: [], outputs: ['*.png'] });
    expect(ctx.tenant).toMatch(/^key_[0-9a-f]{20}\/alice$/);
    expect(ctx.requestId).toBeTruthy();
    await client.close();
  });

  it('polls a background execution until it completes', async () => {
    let polls = 0;
    const dispatcher = fakeDispatcher({
      execute: async () => ({ kind: 'accepted', id: 'ex_1', status: 'queued' }),
      getExecution: async (id) => (++polls < 3 ? { id, status: 'running' } : { id, status: 'completed', result: { ...base, stdout: 'done\n' } }),
    });
    const { client, call } = await clientOf(dispatcher);
    const result = await call({ runtime: 'python', code: 'print(1)' });
    expect(result.structuredContent).toMatchObject({ stdout: 'done\n' });
    expect(polls).toBe(3);
    await client.close();
  });

  it('reports a background execution that failed as a tool error', async () => {
    const dispatcher = fakeDispatcher({
      execute: async () => ({ kind: 'accepted', id: 'ex_2', status: 'queued' }),
      getExecution: async (id) => ({ id, status: 'failed', error: { code: 'interrupted', message: 'the server shut down before the execution finished' } }),
    });
    const { client, call } = await clientOf(dispatcher);
    const result = await call({ runtime: 'python', code: 'print(1)' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('the execution failed on the server: the server shut down before the execution finished (execution ex_2)');
    await client.close();
  });

  it('stops waiting before a Lambda invocation ends and says where the result will be', async () => {
    const dispatcher = fakeDispatcher({
      execute: async () => ({ kind: 'accepted', id: 'ex_3', status: 'queued' }),
      getExecution: async (id) => ({ id, status: 'running' }),
    });
    const env = { lambdaContext: { getRemainingTimeInMillis: () => 3_600 } };
    const { client, call } = await clientOf(dispatcher, { env });
    const result = await call({ runtime: 'python', code: 'print(1)' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^execution ex_3 is still running after \d+ s; its result will be at GET \/v1\/executions\/ex_3$/);
    await client.close();
  });

  it('says what the API would for known failures, and hides the details of unexpected ones', async () => {
    let failure: unknown = new RuntimeUnavailableError('rust');
    const dispatcher = fakeDispatcher({
      execute: async () => {
        throw failure;
      },
    });
    const { client, call, log } = await clientOf(dispatcher);
    const unavailable = await call({ runtime: 'rust', code: 'fn main() {}' });
    expect(unavailable.isError).toBe(true);
    expect(textOf(unavailable)).toBe('the rust toolchain is not installed on this deployment');

    failure = new Error('connection string postgres://secret@db');
    const internal = await call({ runtime: 'python', code: 'print(1)' });
    expect(internal.isError).toBe(true);
    expect(textOf(internal)).toMatch(/^internal server error \(request id \S+\)$/);
    expect(JSON.stringify(log.lines.filter((l) => l.msg === 'MCP tool call failed'))).toContain('secret@db');

    // The server keeps answering.
    failure = undefined;
    expect((await client.listTools()).tools).toHaveLength(2);
    await client.close();
  });
});
