import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { ExecuteResultSchema } from '../../functions/contract.js';
import { Runtools, readEvents, type StreamEvent } from '../../sdk/index.js';
import { startTestServer, until } from './helpers.js';

/* Live output (API.md "Live output"): Server-Sent Events from POST /v1/execute, and the SDK's stream(). */

let server: RunningServer;
let rt: Runtools;
beforeAll(async () => {
  server = await startTestServer({ concurrency: 2 });
  rt = new Runtools({ baseUrl: server.url, apiKey: null });
});
afterAll(() => server.close());

/** POSTs with Accept: text/event-stream and collects every event with the time it arrived. */
async function sse(body: unknown): Promise<{ status: number; type: string; events: Array<{ event: string; data: any; at: number }> }> {
  const res = await fetch(`${server.url}/v1/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
  });
  const type = res.headers.get('content-type') ?? '';
  if (!type.includes('text/event-stream')) return { status: res.status, type, events: [{ event: 'json', data: await res.json(), at: Date.now() }] };
  const events = [];
  for await (const e of readEvents(res.body!)) events.push({ event: e.event, data: JSON.parse(e.data), at: Date.now() });
  return { status: res.status, type, events };
}

describe('POST /v1/execute with Accept: text/event-stream', () => {
  it('streams stdout and stderr while the program runs, then the result (the JSON call\'s object)', async () => {
    const { status, events } = await sse({
      runtime: 'python',
      code: 'import sys, time\nprint("first", flush=True)\nprint("oops", file=sys.stderr, flush=True)\ntime.sleep(1.5)\nprint("second")',
    });
    expect(status).toBe(200);
    const names = events.map((e) => e.event);
    expect(names.at(-1)).toBe('result');
    // Chunks are what the pipe delivered (print may write "first" and "\n" apart): no boundary is asserted.
    const first = events.find((e) => e.event === 'stdout')!;
    expect('first\n'.startsWith(first.data.data)).toBe(true);
    expect(events.filter((e) => e.event === 'stderr').map((e) => e.data.data).join('')).toBe('oops\n');
    const result = events.at(-1)!;
    // The first line arrived while the program was still sleeping, well before its end.
    expect(result.at - first.at).toBeGreaterThan(1000);
    expect(events.filter((e) => e.event === 'stdout').map((e) => e.data.data).join('')).toBe('first\nsecond\n');
    expect(ExecuteResultSchema.safeParse(result.data).success).toBe(true);
    expect(result.data).toMatchObject({ stdout: 'first\nsecond\n', stderr: 'oops\n', exitCode: 0, status: 'ok' });
  });

  it('a compile event first for compiled runtimes', async () => {
    const { events } = await sse({ runtime: 'go', code: 'package main\nimport "fmt"\nfunc main() { fmt.Println("go") }\n' });
    expect(events.map((e) => e.event)).toEqual(['compile', 'stdout', 'result']);
    expect(events[0]!.data).toMatchObject({ status: 'ok', exitCode: 0 });
    const failed = await sse({ runtime: 'go', code: 'package main\nfunc main() { nope }\n' });
    expect(failed.events.map((e) => e.event)).toEqual(['compile', 'result']);
    expect(failed.events[1]!.data).toMatchObject({ status: 'compile_error' });
  });

  it('chunks are cut only between UTF-8 code points', async () => {
    const { events } = await sse({
      runtime: 'python',
      code: 'import sys, time\nfor b in (b"\\xe2", b"\\x82", b"\\xac\\xf0\\x9f", b"\\x98\\x80\\n"):\n    sys.stdout.buffer.write(b); sys.stdout.flush(); time.sleep(0.05)',
    });
    const chunks = events.filter((e) => e.event === 'stdout').map((e) => e.data.data as string);
    expect(chunks.join('')).toBe('€😀\n');
    for (const c of chunks) expect(c).not.toContain('\uFFFD');
  });

  it('the output caps hold: a flood ends with output_limit and at most 1 MiB streamed', async () => {
    const { events } = await sse({ runtime: 'python', code: 'import sys\nwhile True: sys.stdout.write("x" * 65536)' });
    const streamed = events.filter((e) => e.event === 'stdout').reduce((n, e) => n + e.data.data.length, 0);
    expect(streamed).toBeLessThanOrEqual(1024 * 1024);
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { status: 'output_limit', truncated: true } });
  });

  it('a client that disconnects kills the execution', async () => {
    const controller = new AbortController();
    const res = await fetch(`${server.url}/v1/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ runtime: 'python', code: 'import time\nprint("started", flush=True)\ntime.sleep(60)', timeout: 60_000 }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    await until(() => server.dispatcher.stats().running === 1);
    controller.abort();
    await until(() => server.dispatcher.stats().running === 0, 10_000);
  });

  it('errors before the start stay JSON: a bad request, tests with streaming', async () => {
    const bad = await sse({ runtime: 'cobol', code: 'x' });
    expect(bad).toMatchObject({ status: 400, events: [{ event: 'json', data: { error: { code: 'invalid_request' } } }] });
    const suite = await sse({ runtime: 'python', code: 'print(1)', tests: [{}] });
    expect(suite.status).toBe(400);
    expect(suite.events[0]!.data.error.issues[0].path).toBe('tests');
  });

  it('a streamed request is never a 202, even past the synchronous window', async () => {
    const windowed = await startTestServer({ syncBudgetMs: 1_000 });
    try {
      const res = await fetch(`${windowed.url}/v1/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ runtime: 'python', code: 'print("long allowed")', timeout: 10_000 }),
      });
      expect(res.status).toBe(200);
      const events = [];
      for await (const e of readEvents(res.body!)) events.push(e.event);
      expect(events.at(-1)).toBe('result');
    } finally {
      await windowed.close();
    }
  });
});

describe('the SDK', () => {
  it('stream() yields typed events; execute() with onStdout/onStderr gets the chunks and the result', async () => {
    const seen: StreamEvent['type'][] = [];
    let out = '';
    for await (const e of rt.stream({ runtime: 'node', code: 'console.log("a"); console.error("b"); setTimeout(() => console.log("c"), 200)' })) {
      seen.push(e.type);
      if (e.type === 'stdout') out += e.data;
      if (e.type === 'result') expect(e.result.stdout).toBe('a\nc\n');
    }
    expect(out).toBe('a\nc\n');
    expect(seen.at(-1)).toBe('result');
    const chunks: string[] = [];
    const errs: string[] = [];
    const result = await rt.execute({ runtime: 'python', code: 'import sys\nprint("x")\nprint("y", file=sys.stderr)' }, { onStdout: (c) => chunks.push(c), onStderr: (c) => errs.push(c) });
    expect(chunks.join('')).toBe('x\n');
    expect(errs.join('')).toBe('y\n');
    expect(result).toMatchObject({ stdout: 'x\n', exitCode: 0 });
  });

  it('stream() throws the API error of a refused request', async () => {
    await expect(async () => {
      for await (const _ of rt.stream({ runtime: 'nope' as 'python', code: 'x' })) void _;
    }).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
  });
});
