import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  APIError,
  ConnectionError,
  InternalServerError,
  InvalidRequestError,
  RateLimitError,
  Runtools,
  RuntoolsError,
  ServiceUnavailableError,
  TimeoutError,
} from '../../sdk/index.js';

const RESULT = { stdout: 'ok\n', stderr: '', exitCode: 0, executionTime: 5, timedOut: false, signal: null, truncated: false, runtime: 'python', version: '3' };

type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A tiny server answering each request with the next scripted reply, recording what it got. */
async function scripted(replies: Reply[]) {
  const seen: { method: string; url: string; headers: IncomingMessage['headers']; at: number }[] = [];
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, at: Date.now() });
    req.resume();
    const reply = replies.shift() ?? { status: 500, body: { error: { code: 'internal', message: 'script exhausted' } } };
    if (reply === 'hang') return;
    res.writeHead(reply.status, { 'content-type': 'application/json', 'x-request-id': `req_${seen.length}`, ...reply.headers });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  return { url, seen };
}

const rateLimited = (retryAfter: string): Reply => ({ status: 429, headers: { 'retry-after': retryAfter }, body: { error: { code: 'rate_limited', message: 'queue full' } } });
const unavailable: Reply = { status: 503, body: { error: { code: 'internal', message: 'the service is temporarily unavailable; retry later' } } };

describe('retries', () => {
  it('retries a 429, waiting as long as Retry-After says', async () => {
    const { url, seen } = await scripted([rateLimited('1'), { status: 200, body: RESULT }]);
    const result = await new Runtools({ baseUrl: url, apiKey: 'k' }).execute({ runtime: 'python', code: 'print(1)' });
    expect(result.stdout).toBe('ok\n');
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    expect(seen[0]!.headers['x-api-key']).toBe('k');
    expect(seen[0]!.headers['content-type']).toBe('application/json');
  });

  it('retries 5xx with backoff, up to maxRetries', async () => {
    const { url, seen } = await scripted([unavailable, unavailable, { status: 200, body: { runtimes: [] } }]);
    await expect(new Runtools({ baseUrl: url }).runtimes()).resolves.toEqual([]);
    expect(seen).toHaveLength(3);
  });

  it('gives up after maxRetries with the last error', async () => {
    const { url, seen } = await scripted([unavailable, unavailable]);
    const error = await new Runtools({ baseUrl: url, maxRetries: 1 }).runtimes().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({ status: 503, code: 'internal', requestId: 'req_2' });
    expect(seen).toHaveLength(2);
  });

  it('honours a per-call maxRetries of 0', async () => {
    const { url, seen } = await scripted([rateLimited('1')]);
    const error = await new Runtools({ baseUrl: url }).runtimes({ maxRetries: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfter).toBe(1);
    expect(seen).toHaveLength(1);
  });

  it('does not retry 4xx or runtime_unavailable', async () => {
    const { url, seen } = await scripted([
      { status: 400, body: { error: { code: 'invalid_request', message: 'bad', issues: [{ path: 'runtime', message: 'unknown' }] } } },
      { status: 503, body: { error: { code: 'runtime_unavailable', message: 'no rust here' } } },
    ]);
    const rt = new Runtools({ baseUrl: url });
    await expect(rt.execute({ runtime: 'python', code: '' })).rejects.toBeInstanceOf(InvalidRequestError);
    const unavailableError = await rt.execute({ runtime: 'rust', code: '' }).catch((e: unknown) => e);
    expect(unavailableError).toMatchObject({ status: 503, code: 'runtime_unavailable' });
    expect(seen).toHaveLength(2);
  });

  it('retries a 503 capacity (nothing ran) after its Retry-After; the error class says 503 with its code', async () => {
    const capacity: Reply = { status: 503, headers: { 'retry-after': '1' }, body: { error: { code: 'capacity', message: 'no room to run' } } };
    const { url, seen } = await scripted([capacity, { status: 200, body: RESULT }]);
    await expect(new Runtools({ baseUrl: url }).execute({ runtime: 'python', code: 'print(1)' })).resolves.toMatchObject({ stdout: 'ok\n' });
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    server!.closeAllConnections();
    server!.close();
    const again = await scripted([capacity]);
    const error = await new Runtools({ baseUrl: again.url, maxRetries: 0 }).execute({ runtime: 'python', code: 'print(1)' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({ status: 503, code: 'capacity', retryAfter: 1 });
  });

  it('maps 422 idempotency_mismatch to InvalidRequestError, not retried', async () => {
    const { url, seen } = await scripted([{ status: 422, body: { error: { code: 'idempotency_mismatch', message: 'the key was used with another request' } } }]);
    const error = await new Runtools({ baseUrl: url }).execute({ runtime: 'python', code: 'print(1)' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toMatchObject({ status: 422, code: 'idempotency_mismatch' });
    expect(seen).toHaveLength(1);
  });

  it('retries connection failures, then throws ConnectionError', async () => {
    const { url } = await scripted([]);
    server!.close();
    server = undefined;
    const error = await new Runtools({ baseUrl: url, maxRetries: 1 }).runtimes().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toBeInstanceOf(RuntoolsError);
    expect((error as Error).message).toContain(url);
  });
});

describe('timeouts, aborts and polling', () => {
  it('throws TimeoutError when the call outlasts its timeout', async () => {
    const { url } = await scripted(['hang']);
    const started = Date.now();
    const error = await new Runtools({ baseUrl: url }).runtimes({ timeout: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('throws AbortError when the caller aborts', async () => {
    const { url } = await scripted(['hang']);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(new Runtools({ baseUrl: url }).runtimes({ signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
  });

  it('polls a 202 answer until it completes', async () => {
    const { url, seen } = await scripted([
      { status: 202, body: { id: 'ex_1', status: 'queued' }, headers: { location: '/v1/executions/ex_1' } },
      { status: 200, body: { id: 'ex_1', status: 'running' } },
      rateLimited('0'),
      { status: 200, body: { id: 'ex_1', status: 'completed', result: RESULT } },
    ]);
    const result = await new Runtools({ baseUrl: `${url}/` }).execute({ runtime: 'python', code: 'print(1)' });
    expect(result).toEqual(RESULT);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /v1/execute',
      'GET /v1/executions/ex_1',
      'GET /v1/executions/ex_1',
      'GET /v1/executions/ex_1',
    ]);
  });

  it('turns a failed background execution into an APIError', async () => {
    const { url } = await scripted([
      { status: 202, body: { id: 'ex_2', status: 'queued' } },
      { status: 200, body: { id: 'ex_2', status: 'failed', error: { code: 'internal', message: 'the execution failed on the server' } } },
    ]);
    const error = await new Runtools({ baseUrl: url }).execute({ runtime: 'python', code: '' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toMatch(/the execution failed on the server/);
  });
});

describe('configuration', () => {
  it('reads RUNTOOLS_API_URL and RUNTOOLS_API_KEY when not given', async () => {
    const { url, seen } = await scripted([{ status: 200, body: { runtimes: [] } }]);
    const saved = { url: process.env.RUNTOOLS_API_URL, key: process.env.RUNTOOLS_API_KEY };
    process.env.RUNTOOLS_API_URL = url;
    process.env.RUNTOOLS_API_KEY = 'from-env';
    try {
      const rt = new Runtools();
      expect(rt.baseUrl).toBe(url);
      await rt.runtimes();
      expect(seen[0]!.headers['x-api-key']).toBe('from-env');
    } finally {
      if (saved.url === undefined) delete process.env.RUNTOOLS_API_URL;
      else process.env.RUNTOOLS_API_URL = saved.url;
      if (saved.key === undefined) delete process.env.RUNTOOLS_API_KEY;
      else process.env.RUNTOOLS_API_KEY = saved.key;
    }
  });

  it('defaults to the local server address', () => {
    const saved = process.env.RUNTOOLS_API_URL;
    delete process.env.RUNTOOLS_API_URL;
    try {
      expect(new Runtools().baseUrl).toBe('http://127.0.0.1:8787');
    } finally {
      if (saved !== undefined) process.env.RUNTOOLS_API_URL = saved;
    }
  });

  it('uses the fetch it is given', async () => {
    const calls: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      calls.push(String(input));
      return new Response(JSON.stringify({ runtimes: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    await new Runtools({ baseUrl: 'http://example.invalid/api', fetch: fakeFetch }).runtimes();
    expect(calls).toEqual(['http://example.invalid/api/v1/runtimes']);
  });
});
