import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createApp, tenantOfKey } from '../../functions/api/app.js';
import { assertSafeBinding, ConfigError } from '../../functions/api/config.js';
import { startServer } from '../../functions/api/server.js';
import { LocalDispatcher } from '../../functions/dispatch/local.js';
import { recordingLogger, testRunner } from './helpers.js';

const KEYS = ['key-alpha-0123456789', 'key-beta-9876543210'];
const SECRET = Buffer.alloc(32, 7);
let dispatcher: LocalDispatcher;
let app: ReturnType<typeof createApp>;
const log = recordingLogger();

const execute = (headers: Record<string, string>, code = 'print(6 * 7)') =>
  app.request('/v1/execute', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ runtime: 'python', code, stdin: 'top-secret-stdin' }),
  });

beforeAll(async () => {
  dispatcher = new LocalDispatcher({ runner: await testRunner() });
  app = createApp({ dispatcher, authenticate: apiKeyAuthenticator(KEYS, SECRET), log });
});
afterAll(() => dispatcher.close());

describe('with RUNTOOLS_API_KEYS', () => {
  it('401s a request without a key, and says how to send one', async () => {
    const res = await execute({});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/Bearer/);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('unauthorized');
    expect(error.message).toMatch(/x-api-key/);
  });

  it('401s a wrong key on every /v1 route', async () => {
    expect((await execute({ 'x-api-key': 'key-alpha-012345678' })).status).toBe(401);
    expect((await execute({ authorization: 'Bearer nope' })).status).toBe(401);
    expect((await app.request('/v1/runtimes', { headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
    expect((await app.request('/v1/executions/ex_x', { headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
  });

  it('accepts each configured key in x-api-key or as a Bearer token', async () => {
    const a = await execute({ 'x-api-key': KEYS[0]! });
    expect(a.status).toBe(200);
    expect(((await a.json()) as { stdout: string }).stdout).toBe('42\n');
    expect((await execute({ authorization: `Bearer ${KEYS[1]}` })).status).toBe(200);
  });

  it('leaves /health, /openapi.json and /docs open', async () => {
    expect((await app.request('/health')).status).toBe(200);
    expect((await app.request('/openapi.json')).status).toBe(200);
    expect((await app.request('/docs')).status).toBe(200);
  });

  it('never logs keys, code or stdin', async () => {
    await execute({ 'x-api-key': KEYS[0]! }, 'print("code-marker-xyz")');
    await execute({ 'x-api-key': 'wrong-key-marker' });
    const text = JSON.stringify(log.lines);
    for (const secret of [...KEYS, 'wrong-key-marker', 'code-marker-xyz', 'top-secret-stdin']) expect(text).not.toContain(secret);
    expect(text).toContain(tenantOfKey(KEYS[0]!, SECRET));
  });

  it('derives distinct tenants from distinct keys', () => {
    expect(tenantOfKey(KEYS[0]!, SECRET)).not.toBe(tenantOfKey(KEYS[1]!, SECRET));
    expect(tenantOfKey(KEYS[0]!, SECRET)).toMatch(/^key_[0-9a-f]{20}$/);
  });

  it('keys the tenant hash with the server secret: a log id cannot be matched against guessed keys', async () => {
    const { createHash } = await import('node:crypto');
    const weak = 'password';
    const tenant = tenantOfKey(weak, SECRET);
    expect(tenantOfKey(weak, Buffer.alloc(32, 8))).not.toBe(tenant);
    // Neither the old unsalted form nor a bare hash of the key gives the logged id.
    for (const guess of [`runtools-tenant:${weak}`, weak]) {
      expect(tenant).not.toBe(`key_${createHash('sha256').update(guess).digest('hex').slice(0, 20)}`);
    }
  });
});

describe('end users of a key (x-runtools-user)', () => {
  it('own their background executions apart from each other and from the key itself', async () => {
    const background = new LocalDispatcher({ runner: await testRunner(), syncBudgetMs: 1 });
    const appWithBudget = createApp({ dispatcher: background, authenticate: apiKeyAuthenticator(KEYS, SECRET), log });
    try {
      const as = (user?: string) => ({ 'x-api-key': KEYS[0]!, 'content-type': 'application/json', ...(user ? { 'x-runtools-user': user } : {}) });
      const res = await appWithBudget.request('/v1/execute', { method: 'POST', headers: as('student-1'), body: JSON.stringify({ runtime: 'python', code: 'print(1)' }) });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      expect((await appWithBudget.request(`/v1/executions/${id}`, { headers: as('student-1') })).status).toBe(200);
      expect((await appWithBudget.request(`/v1/executions/${id}`, { headers: as('student-2') })).status).toBe(404);
      expect((await appWithBudget.request(`/v1/executions/${id}`, { headers: as() })).status).toBe(404);
      expect(log.lines.some((l) => l.tenant === `${tenantOfKey(KEYS[0]!, SECRET)}/student-1`)).toBe(true);
    } finally {
      await background.close();
    }
  });

  it('must be a short plain identifier: anything else is a 400 naming the header', async () => {
    for (const user of ['', 'a b', 'x/y', 'u'.repeat(129), 'ü']) {
      const res = await app.request('/v1/runtimes', { headers: { 'x-api-key': KEYS[0]!, 'x-runtools-user': user } });
      expect(res.status, JSON.stringify(user)).toBe(400);
      const body = (await res.json()) as { error: { code: string; issues: { path: string }[] } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.issues[0]!.path).toBe('headers.x-runtools-user');
    }
  });
});

describe('without keys', () => {
  it('lets every caller in as "anonymous"', async () => {
    const open = createApp({ dispatcher, authenticate: apiKeyAuthenticator([]), log });
    expect((await open.request('/v1/runtimes')).status).toBe(200);
  });

  it('is allowed only on loopback addresses', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.1.2.3']) expect(() => assertSafeBinding({ host, apiKeys: [] })).not.toThrow();
    for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
      expect(() => assertSafeBinding({ host, apiKeys: [] })).toThrow(ConfigError);
      expect(() => assertSafeBinding({ host, apiKeys: ['k'] })).not.toThrow();
    }
  });

  it('refuses to start the server on a public address', async () => {
    await expect(startServer({ config: { host: '0.0.0.0', port: 0 }, runner: await testRunner() })).rejects.toThrow(/RUNTOOLS_API_KEYS/);
  });
});
