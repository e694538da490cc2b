import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { postJson, startTestServer } from './helpers.js';

const KEY = 'k1';
let server: RunningServer;
let client: Client;

/** An MCP client of the test server's POST /mcp, sending `headers` (the API key). */
async function connect(url: string, headers: Record<string, string>): Promise<Client> {
  const c = new Client({ name: 'runtools-test', version: '0.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }));
  return c;
}

const call = async (c: Client, name: string, args: Record<string, unknown> = {}) => (await c.callTool({ name, arguments: args })) as CallToolResult;
const textOf = (r: CallToolResult) => r.content.filter((b) => b.type === 'text').map((b) => (b as { text: string }).text).join('\n');

beforeAll(async () => {
  server = await startTestServer({ apiKeys: [KEY] });
  client = await connect(server.url, { 'x-api-key': KEY });
});
afterAll(async () => {
  await client?.close();
  await server?.close();
});

describe('POST /mcp', () => {
  it('lists execute_code and list_runtimes with their input schemas', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['execute_code', 'list_runtimes']);
    const exec = tools.find((t) => t.name === 'execute_code')!;
    expect(exec.inputSchema.required).toEqual(['runtime']);
    expect(Object.keys(exec.inputSchema.properties ?? {})).toEqual(
      expect.arrayContaining(['runtime', 'code', 'files', 'entrypoint', 'stdin', 'args', 'timeout', 'outputs']),
    );
    expect(JSON.stringify(exec.inputSchema.properties?.runtime)).toMatch(/python.*py, python3/);
    expect(tools.find((t) => t.name === 'list_runtimes')!.inputSchema.type).toBe('object');
    expect(client.getServerVersion()?.name).toBe('runtools');
  });

  it('runs python and returns the result as text and structuredContent', async () => {
    const result = await call(client, 'execute_code', { runtime: 'python', code: 'print(6*7)' });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('42');
    expect(textOf(result)).toMatch(/status: ok/);
    expect(result.structuredContent).toMatchObject({ exitCode: 0, status: 'ok', stdout: '42\n', runtime: 'python' });
  });

  it('compiles and runs Go', async () => {
    const code = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n';
    const result = await call(client, 'execute_code', { runtime: 'golang', code });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('hello from go');
    expect(result.structuredContent).toMatchObject({ exitCode: 0, runtime: 'go', compile: { status: 'ok' } });
  });

  it('passes stdin, args and files', async () => {
    const result = await call(client, 'execute_code', {
      runtime: 'py',
      files: { 'main.py': 'import sys\nfrom util import shout\nprint(shout(sys.stdin.read()), sys.argv[1:])\n', 'util.py': 'def shout(s):\n    return s.upper()\n' },
      stdin: 'hi',
      args: ['a', 'b'],
    });
    expect(result.structuredContent).toMatchObject({ exitCode: 0, stdout: "HI ['a', 'b']\n" });
  });

  it('reports a program that fails as a normal result', async () => {
    const result = await call(client, 'execute_code', { runtime: 'python', code: 'import sys\nprint("bye", file=sys.stderr)\nsys.exit(3)' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ exitCode: 3, status: 'runtime_error', stderr: 'bye\n' });
    expect(textOf(result)).toMatch(/status: runtime_error/);
    expect(textOf(result)).toMatch(/exit code: 3/);
  });

  it('reports a timeout as a normal result', async () => {
    const result = await call(client, 'execute_code', { runtime: 'python', code: 'import time\ntime.sleep(10)', timeout: 300 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ status: 'timeout', timedOut: true });
  });

  it('reports a compile error with the compiler output', async () => {
    const result = await call(client, 'execute_code', { runtime: 'go', code: 'package main\n\nfunc main() { undefinedThing() }\n' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ status: 'compile_error' });
    expect(textOf(result)).toMatch(/compile errors[\s\S]*undefinedThing/);
  });

  it('answers a bad runtime with a tool error naming it, and keeps serving', async () => {
    const bad = await call(client, 'execute_code', { runtime: 'cobol', code: 'DISPLAY "HI"' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/unknown runtime "cobol"/);
    const good = await call(client, 'execute_code', { runtime: 'node', code: 'console.log(1 + 1)' });
    expect(good.isError).toBeFalsy();
    expect(good.structuredContent).toMatchObject({ stdout: '2\n' });
  });

  it('answers invalid fields with tool errors, not protocol errors', async () => {
    const noCode = await call(client, 'execute_code', { runtime: 'python' });
    expect(noCode.isError).toBe(true);
    expect(textOf(noCode)).toMatch(/code: provide code, files, or both/);
    const wrongType = await call(client, 'execute_code', { runtime: 'python', code: 'print(1)', timeout: 'soon' });
    expect(wrongType.isError).toBe(true);
    expect(textOf(wrongType)).toMatch(/timeout/);
    const tooLong = await call(client, 'execute_code', { runtime: 'python', code: 'print(1)', timeout: 10_000_000 });
    expect(tooLong.isError).toBe(true);
    expect(textOf(tooLong)).toMatch(/timeout/);
    const badPath = await call(client, 'execute_code', { runtime: 'python', files: { '../x.py': 'print(1)' } });
    expect(badPath.isError).toBe(true);
    expect(textOf(badPath)).toMatch(/\.\./);
  });

  it('lists the runtimes', async () => {
    const result = await call(client, 'list_runtimes');
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toMatch(/^python {2}aliases: py, python3 {2}version: \S+ {2}available: yes/m);
    const { runtimes } = result.structuredContent as { runtimes: { runtime: string; available: boolean }[] };
    expect(runtimes.find((r) => r.runtime === 'python')?.available).toBe(true);
  });

  it('returns image files as image blocks (outputs)', async () => {
    // A 1×1 PNG written with the standard library (no plotting library needed), and an SVG.
    const code = [
      'import struct, zlib',
      'def chunk(kind, data):',
      '    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)',
      'png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\\x00\\xff\\x00\\x00")) + chunk(b"IEND", b"")',
      'open("dot.png", "wb").write(png)',
      'open("box.svg", "w").write("<svg xmlns=\'http://www.w3.org/2000/svg\' width=\'2\' height=\'2\'/>")',
      'open("notes.txt", "w").write("a note\\n")',
      'print("written")',
    ].join('\n');
    const result = await call(client, 'execute_code', { runtime: 'python', code, outputs: ['*.png', '*.svg', '*.txt'] });
    expect(result.isError).toBeFalsy();
    const images = result.content.filter((b) => b.type === 'image') as { data: string; mimeType: string }[];
    expect(images.map((i) => i.mimeType).sort()).toEqual(['image/png', 'image/svg+xml']);
    const png = Buffer.from(images.find((i) => i.mimeType === 'image/png')!.data, 'base64');
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(Buffer.from(images.find((i) => i.mimeType === 'image/svg+xml')!.data, 'base64').toString('utf8')).toMatch(/^<svg/);
    expect(textOf(result)).toMatch(/--- file notes\.txt ---\na note/);
    expect((result.structuredContent as { files: unknown[] }).files).toHaveLength(3);
  });

  it('returns a matplotlib plot as an image block (the set-up installs matplotlib)', async () => {
    const code = "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; plt.plot([1,2]); plt.savefig('p.png')";
    const result = await call(client, 'execute_code', { runtime: 'python', code, outputs: ['*.png'] });
    const image = result.content.find((b) => b.type === 'image') as { data: string; mimeType: string } | undefined;
    expect(image?.mimeType).toBe('image/png');
    expect(Buffer.from(image!.data, 'base64').subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('answers GET and DELETE with 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await fetch(`${server.url}/mcp`, { method, headers: { 'x-api-key': KEY, accept: 'text/event-stream' } });
      expect(res.status).toBe(405);
      expect(((await res.json()) as { jsonrpc: string }).jsonrpc).toBe('2.0');
    }
  });

  it('needs the API key: none or a wrong one is a 401', async () => {
    await expect(connect(server.url, {})).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/missing API key/) });
    await expect(connect(server.url, { 'x-api-key': 'wrong' })).rejects.toMatchObject({ code: 401, message: expect.stringMatching(/not valid/) });
    const raw = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(raw.status).toBe(401);
    expect(((await raw.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const bearer = await connect(server.url, { authorization: `Bearer ${KEY}` });
    expect((await bearer.listTools()).tools).toHaveLength(2);
    await bearer.close();
  });
});

describe('POST /mcp with a synchronous budget', () => {
  let budgeted: RunningServer;
  beforeAll(async () => {
    budgeted = await startTestServer({ apiKeys: [KEY], syncBudgetMs: 1000 });
  });
  afterAll(() => budgeted?.close());

  it('waits for a background (202) execution and returns its result', async () => {
    const request = { runtime: 'python', code: 'import time\ntime.sleep(0.5)\nprint("late")', timeout: 5000 };
    // Over the budget: POST /v1/execute answers this request with 202.
    expect((await postJson(`${budgeted.url}/v1/execute`, request, { 'x-api-key': KEY })).status).toBe(202);
    const c = await connect(budgeted.url, { 'x-api-key': KEY });
    try {
      const result = await call(c, 'execute_code', request);
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ exitCode: 0, stdout: 'late\n' });
    } finally {
      await c.close();
    }
  });
});
