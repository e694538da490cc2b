import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createApp, silentLogger, type RuntoolsApp } from '../../functions/api/app.js';
import { LocalDispatcher } from '../../functions/dispatch/local.js';
import type { Runner } from '../../functions/runner/index.js';
import type { TestRunner } from '../helpers/runner.js';
import { hostileRunner } from './harness.js';

/*
 * Bad input, property-based: arbitrary and adversarial bodies, content types, headers and routes
 * against the real app (in-process, app.request) over a real dispatcher and runner. Every answer
 * must be a 2xx or a 4xx in API.md's error shape — never a 5xx — and the app keeps serving.
 * Generators lean towards invalid requests; the few valid ones really execute (cheap programs).
 */

const KEY = 'fuzz-key-0123456789';
const AUTH = { 'x-api-key': KEY };
const STATUS_CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  413: 'payload_too_large',
  429: 'rate_limited',
};

export const counts = { cases: 0, executed: 0 };

let t: TestRunner;
let app: RuntoolsApp;
let dispatcher: LocalDispatcher;

beforeAll(async () => {
  t = await hostileRunner();
  dispatcher = new LocalDispatcher({ runner: t.runner as Runner, concurrency: 2, queueSize: 64 });
  app = createApp({ dispatcher, authenticate: apiKeyAuthenticator([KEY]), log: silentLogger });
});

afterAll(async () => {
  await dispatcher.close();
  t.dispose();
  console.log(`fuzz: ${counts.cases} cases, ${counts.executed} executed`);
});

/** The contract every answer keeps: 2xx, or 4xx with {error:{code,message,issues?}}. */
async function expectWellFormed(res: Response, execute = true): Promise<void> {
  counts.cases++;
  const text = await res.text();
  expect(res.status, text.slice(0, 500)).toBeLessThan(500);
  expect(res.status).toBeGreaterThanOrEqual(200);
  // Pages (the playground at /, /docs, their assets) answer HTML, CSS or JavaScript; the API answers JSON.
  if (res.status < 300 && !(res.headers.get('content-type') ?? '').includes('json')) {
    expect(res.headers.get('content-type')).toMatch(/^(text\/html|text\/css|text\/javascript|application\/javascript|image\/svg\+xml)/);
    return;
  }
  const body = JSON.parse(text) as { error?: { code: unknown; message: unknown; issues?: unknown } };
  if (res.status >= 400) {
    expect(body.error, text.slice(0, 500)).toBeDefined();
    expect(typeof body.error!.message).toBe('string');
    expect(body.error!.code).toBe(STATUS_CODES[res.status]);
    if (body.error!.issues !== undefined) expect(Array.isArray(body.error!.issues)).toBe(true);
    if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  } else if (res.status === 200 && execute) {
    counts.executed++;
    expect(body).toHaveProperty('exitCode');
  }
}

const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json', ...AUTH }) =>
  app.request('/v1/execute', { method: 'POST', body, headers });

const oddString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '\0', '\u202e', '\ud800', '\uffff', '𝕏'.repeat(100), 'a'.repeat(70_000), '%00', '$(id)', '`id`', '${PATH}'),
);
const badPath = fc.oneof(
  fc.constantFrom('../etc/passwd', '/etc/passwd', 'a/../../b', 'a//b', 'a\\b', 'a\0b', '.', './a', 'a/./b', '', '..', 'a/', '/', '~/.ssh/x', 'x'.repeat(300), `${'d/'.repeat(600)}f`, 'go.mod/x.go', 'main.py/inner'),
  oddString,
);
const runtimeName = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom('python', 'py', 'js', 'node') },
  { weight: 9, arbitrary: fc.oneof(fc.constantFrom('Python', 'python2', 'java', 'bash', ' node', 'node ', 'rust\0', '__proto__', 'constructor'), oddString, fc.integer(), fc.constant(null)) },
);
const timeout = fc.oneof(
  fc.constantFrom(0, -1, 1, 2, 1.5, 300_001, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER + 2),
  fc.integer(),
  fc.double(),
  oddString,
  fc.constant(null),
);
const envName = fc.oneof(fc.constantFrom('1A', 'A-B', 'A B', '', 'A=B', 'PATH\0', 'É', '__proto__', 'constructor', 'LD_PRELOAD'), oddString);

const adversarialRequest = fc.record(
  {
    runtime: runtimeName,
    code: fc.oneof(fc.constantFrom('print(1)', 'console.log(1)', ''), fc.string({ maxLength: 200 }), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 })),
    files: fc.oneof(fc.dictionary(badPath, fc.oneof(fc.string({ maxLength: 50 }), fc.integer(), fc.constant(null)), { maxKeys: 4 }), fc.array(fc.string(), { maxLength: 3 }), fc.string()),
    entrypoint: fc.oneof(badPath, fc.integer()),
    stdin: fc.oneof(fc.string({ maxLength: 100 }), fc.integer(), fc.constant({})),
    timeout,
    env: fc.oneof(fc.dictionary(envName, fc.oneof(fc.string({ maxLength: 20 }), fc.integer())), fc.array(fc.string()), fc.string()),
    args: fc.oneof(fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.constant(null)), { maxLength: 5 }), fc.string(), fc.integer()),
    extra: fc.anything({ maxDepth: 3 }),
  },
  { requiredKeys: [] },
).map((r) => {
  const body: Record<string, unknown> = { ...r };
  if (r.extra !== undefined) body[`x_${typeof r.extra}`] = r.extra;
  delete body.extra;
  // Cheap programs only, when a generated request happens to be valid.
  if (typeof body.timeout === 'number' && body.timeout > 2000) body.timeout = 2000;
  if (body.timeout === undefined) body.timeout = 2000;
  return body;
});

describe('bad input', () => {
  it('adversarial request objects: 2xx or a well-formed 4xx, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(adversarialRequest, async (body) => {
        await expectWellFormed(await post(JSON.stringify(body)));
      }),
      { numRuns: 2500 },
    );
  }, 300_000);

  it('arbitrary JSON values, truncated JSON, raw bytes and wrong content types', async () => {
    const contentType = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      '',
      'application/json; charset=latin1',
    );
    const rawBody = fc.oneof(
      fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
      fc.tuple(fc.jsonValue({ maxDepth: 4 }), fc.nat()).map(([v, n]) => {
        const s = JSON.stringify({ runtime: 'python', code: 'print(1)', value: v });
        return s.slice(0, n % (s.length + 1));
      }),
      fc.string({ unit: 'binary' }),
      fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.constantFrom('', '{', '}', '[', 'null', 'true', '0', '"python"', '{"runtime":', '{"runtime":"python","code":"print(1)"', '\ufeff{}', '{"__proto__":{"runtime":"python"}}', '{"constructor":{"prototype":{"x":1}}}'),
    );
    await fc.assert(
      fc.asyncProperty(rawBody, contentType, fc.boolean(), async (body, type, withKey) => {
        const headers: Record<string, string> = withKey ? { ...AUTH } : {};
        if (type) headers['content-type'] = type;
        await expectWellFormed(await post(body, headers));
      }),
      { numRuns: 1500 },
    );
  }, 300_000);

  it('arbitrary methods, paths, keys and execution ids', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS');
    const route = fc.oneof(
      fc.constantFrom('/v1/execute', '/v1/runtimes', '/health', '/openapi.json', '/v1/executions/', '/v1/../health', '/%2e%2e/etc/passwd', '//v1//execute', '/v1/execute?x=1'),
      fc.webPath(),
      fc.string({ maxLength: 40 }).map((id) => `/v1/executions/${encodeURIComponent(id)}`),
    );
    const key = fc.oneof(fc.constant(KEY), fc.constant(`${KEY} `), fc.constant(''), fc.string({ maxLength: 30 }).filter((s) => /^[\x21-\x7e]*$/.test(s)));
    await fc.assert(
      fc.asyncProperty(method, route, key, fc.boolean(), async (m, r, k, bearer) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (k) headers[bearer ? 'authorization' : 'x-api-key'] = bearer ? `Bearer ${k}` : k;
        const init: RequestInit = { method: m, headers };
        if (m === 'POST' || m === 'PUT' || m === 'PATCH') init.body = '{"runtime":"nope"}';
        await expectWellFormed(await app.request(r.startsWith('/') ? r : `/${r}`, init), false);
      }),
      { numRuns: 700 },
    );
  }, 300_000);

  it('pathological bodies: deep nesting, huge strings, too many files, too large', async () => {
    const cases: BodyInit[] = [
      '['.repeat(100_000) + ']'.repeat(100_000),
      `{"runtime":"python","code":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      JSON.stringify({ runtime: 'python', code: 'x'.repeat(7 * 1024 * 1024) }),
      JSON.stringify({ runtime: 'python', files: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`f${i}.py`, ''])) }),
      JSON.stringify({ runtime: 'python', code: 'print(1)', stdin: 's'.repeat(1024 * 1024 + 1) }),
      JSON.stringify({ runtime: 'python', code: 'print(1)', args: Array.from({ length: 5000 }, () => 'a') }),
      JSON.stringify({ runtime: 'go', files: { 'go.mod/x.go': 'package main' } }),
      JSON.stringify({ runtime: 'python', files: { a: '1', 'a/b.py': '2' }, entrypoint: 'a' }),
      JSON.stringify({ runtime: 'python', code: 'print(1)', env: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`V${i}`, 'v'])) }),
      JSON.stringify({ runtime: 'python', code: 'print(1)', timeout: 1e400 }).replace('null', '1e400'),
    ];
    for (const body of cases) await expectWellFormed(await post(body));
  }, 120_000);

  it('valid requests with odd but legal file trees, env and args run and report them exactly', async () => {
    const segment = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
      fc.constantFrom('é', '日本', '𝕏', ' spaced ', '-dash', '.hidden', '...', 'go.mod', '$x', 'a'.repeat(255)),
    ).filter((p) => p !== '.' && p !== '..');
    const tree = fc.dictionary(fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => `${p.join('/')}.txt`), fc.string({ unit: 'grapheme', maxLength: 30 }), { maxKeys: 6 });
    const env = fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/).filter((n) => !/^(PATH|HOME|LANG|TMPDIR|PYTHON\w*|LD_\w*)$/.test(n)), fc.string({ unit: 'grapheme', maxLength: 20 }).map((v) => v.replace(/\0/g, '')), { maxKeys: 4 });
    const args = fc.array(fc.string({ unit: 'grapheme', maxLength: 20 }).map((v) => v.replace(/\0/g, '')), { maxLength: 4 });
    const code = `import json, os, sys
files = {}
for root, _, names in os.walk("."):
    for n in names:
        p = os.path.relpath(os.path.join(root, n), ".")
        if p != "main.py":
            files[p] = open(p, encoding="utf-8", newline="").read()
print(json.dumps({"files": files, "args": sys.argv[1:], "env": dict(os.environ)}))`;
    await fc.assert(
      fc.asyncProperty(tree, env, args, async (files, envVars, argv) => {
        const res = await post(JSON.stringify({ runtime: 'python', code, files, env: envVars, args: argv }));
        if (res.status !== 200) {
          await expectWellFormed(res);
          return;
        }
        counts.cases++;
        counts.executed++;
        const result = (await res.json()) as { stdout: string; stderr: string; exitCode: number };
        expect(result.exitCode, result.stderr).toBe(0);
        const seen = JSON.parse(result.stdout) as { files: Record<string, string>; args: string[]; env: Record<string, string> };
        expect(seen.files).toEqual(files);
        expect(seen.args).toEqual(argv);
        for (const [k, v] of Object.entries(envVars)) expect(seen.env[k]).toBe(v);
      }),
      { numRuns: 40 },
    );
    expect(await t.leftovers()).toEqual([]);
  }, 300_000);

  it('keeps serving after all of it', async () => {
    const health = await app.request('/health');
    expect(health.status).toBe(200);
    const res = await post(JSON.stringify({ runtime: 'python', code: 'print("still serving")' }));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { stdout: string }).stdout).toBe('still serving\n');
    expect(await t.leftovers()).toEqual([]);
  });
});
