import { describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createApp, silentLogger } from '../../functions/api/app.js';
import { ERROR_CODES } from '../../functions/contract.js';
import type { Dispatcher } from '../../functions/dispatch/types.js';

const idle: Dispatcher = {
  execute: () => Promise.reject(new Error('unused')),
  getExecution: () => Promise.resolve(null),
  runtimes: () => Promise.resolve([]),
};
const app = createApp({ dispatcher: idle, authenticate: apiKeyAuthenticator(['k']), log: silentLogger });

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document listing every route', async () => {
    const res = await app.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
      components: { schemas: Record<string, { properties?: Record<string, { enum?: string[] }> }>; securitySchemes: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/health', '/v1/execute', '/v1/executions/{id}', '/v1/runtimes']);
    expect(Object.keys(doc.paths['/v1/execute']!.post!.responses).sort()).toEqual(['200', '202', '400', '401', '413', '429', '500', '503']);
    expect(doc.paths['/v1/execute']!.post!.security).toBeDefined();
    expect(doc.paths['/health']!.get!.security).toBeUndefined();
    for (const name of ['ExecuteRequest', 'ExecuteResult', 'Execution', 'RuntimeInfo', 'Error']) expect(doc.components.schemas).toHaveProperty(name);
    expect(doc.components.schemas.Error!.properties!.error).toBeDefined();
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['ApiKeyAuth', 'BearerAuth']);
    expect(JSON.stringify(doc)).toContain(ERROR_CODES.join('","'));
  });

  it('carries the configured limits in the request schema', async () => {
    const small = createApp({
      dispatcher: idle,
      authenticate: apiKeyAuthenticator([]),
      log: silentLogger,
      limits: { maxBodyBytes: 1 << 20, maxFiles: 10, maxStdinBytes: 1024, maxTimeoutMs: 10_000, defaultTimeoutMs: 5_000, maxMemoryMb: 256 },
    });
    const doc = (await (await small.request('/openapi.json')).json()) as {
      components: { schemas: { ExecuteRequest: { properties: { timeout: { maximum: number; default: number } } } } };
    };
    expect(doc.components.schemas.ExecuteRequest.properties.timeout).toMatchObject({ maximum: 10_000, default: 5_000 });
  });
});

describe('GET /docs', () => {
  it('serves the interactive reference for /openapi.json', async () => {
    const res = await app.request('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('/openapi.json');
  });
});

describe('GET /health', () => {
  it('answers ok without a key', async () => {
    const res = await app.request('/health');
    expect(await res.json()).toEqual({ status: 'ok' });
  });
});
