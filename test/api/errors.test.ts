import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, apiKeyAuthenticator, silentLogger } from '../../functions/api/app.js';
import { limitsOf, defaultConfig } from '../../functions/api/config.js';
import { LocalDispatcher } from '../../functions/dispatch/local.js';
import type { Dispatcher } from '../../functions/dispatch/types.js';
import { Runner } from '../../functions/runner/index.js';
import type { RuntimeId } from '../../functions/contract.js';
import { recordingLogger, testRunner } from './helpers.js';

let dispatcher: LocalDispatcher;
let app: ReturnType<typeof createApp>;
const limits = { ...limitsOf(defaultConfig()), maxTimeoutMs: 60_000, maxBodyBytes: 64 * 1024 };

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

async function errorOf(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string; issues?: { path: string; message: string }[] } };
  return body.error;
}

beforeAll(async () => {
  dispatcher = new LocalDispatcher({ runner: await testRunner(), concurrency: 2 });
  app = createApp({ dispatcher, authenticate: apiKeyAuthenticator([]), limits, log: silentLogger });
});
afterAll(() => dispatcher.close());

describe('400 invalid_request', () => {
  it.each([
    ['unknown runtime', { runtime: 'cobol', code: 'x' }, 'runtime', /unknown runtime "cobol"/],
    ['neither code nor files', { runtime: 'python' }, 'code', /provide code, files, or both/],
    ['path with ..', { runtime: 'python', files: { '../evil.py': 'x' } }, 'files.../evil.py', /\.\./],
    ['absolute path', { runtime: 'python', files: { '/etc/x.py': 'x' } }, 'files./etc/x.py', /absolute/],
    ['timeout over the maximum', { runtime: 'python', code: 'x', timeout: 60_001 }, 'timeout', /at most 60000 ms/],
    ['timeout not an integer', { runtime: 'python', code: 'x', timeout: 1.5 }, 'timeout', /integer|int/i],
    ['bad env name', { runtime: 'python', code: 'x', env: { '1BAD': 'x' } }, 'env.1BAD', /\^\[A-Za-z_\]/],
    ['unknown field', { runtime: 'python', code: 'x', langauge: 'en' }, 'langauge', /unknown field/],
    ['several files, no entry', { runtime: 'python', files: { 'a.py': '', 'b.py': '' } }, 'entrypoint', /set entrypoint/],
    ['entrypoint not in files', { runtime: 'python', files: { 'a.py': '' }, entrypoint: 'b.py' }, 'entrypoint', /not a key of files/],
    ['args not strings', { runtime: 'python', code: 'x', args: [1] }, 'args.0', /string/],
  ])('%s', async (_name, body, path, message) => {
    const res = await app.request('/v1/execute', json(body));
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('invalid_request');
    const issue = error.issues?.find((i) => i.path === path);
    expect(issue, JSON.stringify(error.issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
  });

  it.each([
    ['a file named __proto__', '{"runtime":"python","files":{"__proto__":"print(42)"}}', 'files.__proto__'],
    ['a file named __proto__ beside code', '{"runtime":"python","code":"print(1)","files":{"__proto__":"x"}}', 'files.__proto__'],
    ['an env variable named __proto__', '{"runtime":"python","code":"print(1)","env":{"__proto__":{"A":"1"}}}', 'env.__proto__'],
    ['a __proto__ field', '{"runtime":"python","code":"print(1)","__proto__":{"timeout":1}}', '__proto__'],
  ])('names a key the schema cannot represent (%s), never drops it', async (_name, body, path) => {
    const res = await app.request('/v1/execute', json(body));
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.issues).toContainEqual({ path, message: '"__proto__" cannot be used as a name' });
    expect(error.message).toContain(path);
  });

  it('reports every bad field at once', async () => {
    const error = await errorOf(await app.request('/v1/execute', json({ runtime: 3, code: 4, stdin: 5 })));
    expect(error.issues!.map((i) => i.path).sort()).toEqual(['code', 'runtime', 'stdin']);
  });

  it.each([
    ['malformed JSON', json('{"runtime": "python",'), /not valid JSON/],
    ['wrong content type', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'print(1)' }, /Content-Type: application\/json/],
    ['no content type', { method: 'POST', body: '{"runtime":"python","code":"1"}' }, /Content-Type: application\/json/],
    ['a JSON array', json('[1, 2]'), /object/],
    ['JSON null', json('null'), /object/],
    ['no body', { method: 'POST' }, /runtime/],
  ])('%s', async (_name, init, message) => {
    const res = await app.request('/v1/execute', init);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message + JSON.stringify(error.issues ?? [])).toMatch(message);
  });
});

describe('404 not_found', () => {
  it('answers unknown routes with JSON', async () => {
    const res = await app.request('/v2/nothing');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await errorOf(res)).toEqual({ code: 'not_found', message: 'no route for GET /v2/nothing' });
  });

  it('answers a wrong method on a known path', async () => {
    expect((await app.request('/v1/execute')).status).toBe(404);
  });

  it('answers an unknown execution id', async () => {
    const res = await app.request('/v1/executions/ex_nope');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).message).toMatch(/"ex_nope"/);
  });
});

describe('413 payload_too_large', () => {
  it('rejects a body over the limit before parsing it', async () => {
    const code = `# ${'x'.repeat(limits.maxBodyBytes)}`;
    const res = await app.request('/v1/execute', json({ runtime: 'python', code }));
    expect(res.status).toBe(413);
    expect(await errorOf(res)).toEqual({ code: 'payload_too_large', message: `the request body is larger than ${limits.maxBodyBytes} bytes` });
  });

  it('rejects an oversized body even when it is not JSON', async () => {
    const res = await app.request('/v1/execute', json('{'.repeat(limits.maxBodyBytes + 1)));
    expect(res.status).toBe(413);
  });
});

describe('503 runtime_unavailable', () => {
  class WithoutRust extends Runner {
    override locate(id: RuntimeId) {
      return id === 'rust' ? Promise.resolve(null) : super.locate(id);
    }
  }

  it('names the runtime whose toolchain is missing, and lists it as unavailable', async () => {
    const runner = new WithoutRust({ sandbox: (await testRunner()).sandbox });
    const local = new LocalDispatcher({ runner });
    const noRust = createApp({ dispatcher: local, authenticate: apiKeyAuthenticator([]), log: silentLogger });
    const res = await noRust.request('/v1/execute', json({ runtime: 'rs', code: 'fn main() {}' }));
    expect(res.status).toBe(503);
    expect(await errorOf(res)).toEqual({ code: 'runtime_unavailable', message: 'the rust toolchain is not installed on this deployment' });
    const { runtimes } = (await (await noRust.request('/v1/runtimes')).json()) as { runtimes: { runtime: string; available: boolean }[] };
    expect(runtimes.find((r) => r.runtime === 'rust')?.available).toBe(false);
    expect(runtimes.find((r) => r.runtime === 'python')?.available).toBe(true);
    await local.close();
  });
});

describe('500 internal', () => {
  it('answers a server fault generically and keeps the details in the log', async () => {
    const broken: Dispatcher = {
      execute: () => Promise.reject(new Error('disk on fire at /var/secret/path')),
      getExecution: () => Promise.reject(new Error('store down')),
      runtimes: () => Promise.resolve([]),
    };
    const log = recordingLogger();
    const faulty = createApp({ dispatcher: broken, authenticate: apiKeyAuthenticator([]), log });
    const res = await faulty.request('/v1/execute', json({ runtime: 'python', code: 'print(1)' }));
    expect(res.status).toBe(500);
    expect(await errorOf(res)).toEqual({ code: 'internal', message: 'internal server error' });
    expect(JSON.stringify(log.lines)).toContain('disk on fire');
    expect((await faulty.request('/v1/executions/x')).status).toBe(500);
  });
});

describe('x-request-id', () => {
  it('is on every response, errors included', async () => {
    for (const res of [
      await app.request('/health'),
      await app.request('/nope'),
      await app.request('/v1/execute', json('{')),
      await app.request('/openapi.json'),
    ]) {
      expect(res.headers.get('x-request-id')).toMatch(/^req_[\w-]{16}$/);
    }
  });

  it("echoes a caller's sane id and replaces an unsafe one", async () => {
    expect((await app.request('/health', { headers: { 'x-request-id': 'trace-42' } })).headers.get('x-request-id')).toBe('trace-42');
    expect((await app.request('/health', { headers: { 'x-request-id': 'a b\u0001' } })).headers.get('x-request-id')).toMatch(/^req_/);
  });
});
