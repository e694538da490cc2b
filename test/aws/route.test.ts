import { describe, expect, it } from 'vitest';
import { lambdaTenantId } from '../../functions/dispatch/lambda.js';
import { DEFAULT_ROUTE_POLICY, routeFor, staticRuntimes } from '../../functions/dispatch/route.js';
import { RUNTIME_IDS } from '../../functions/runtimes.js';

describe('route policy', () => {
  it('runs on Lambda what a runner function can hold (the default request included), the rest as tasks', () => {
    expect(routeFor({ runtime: 'python', timeout: 30_000 })).toBe('sync');
    expect(routeFor({ runtime: 'python', timeout: 55_000 })).toBe('sync');
    expect(routeFor({ runtime: 'python', timeout: 55_001 })).toBe('task');
    // Compiled runtimes carry the compile allowance.
    expect(routeFor({ runtime: 'go', timeout: 45_000 })).toBe('sync');
    expect(routeFor({ runtime: 'rust', timeout: 45_001 })).toBe('task');
    // A deployment that says nothing of its functions routes by the window, as before.
    const legacy = { syncBudgetMs: 25_000, compileAllowanceMs: 10_000, taskRuntimes: [] };
    expect(routeFor({ runtime: 'python', timeout: 25_001 }, legacy)).toBe('task');
  });

  it('always uses tasks for the configured runtimes', () => {
    const policy = { ...DEFAULT_ROUTE_POLICY, taskRuntimes: ['rust' as const] };
    expect(routeFor({ runtime: 'rust', timeout: 1 }, policy)).toBe('task');
    expect(routeFor({ runtime: 'go', timeout: 1 }, policy)).toBe('sync');
  });

  it('reports deployed runtimes with their configured versions', () => {
    const list = staticRuntimes({ python: '3.12.12' }, ['python']);
    expect(list).toHaveLength(RUNTIME_IDS.length);
    expect(list.find((r) => r.runtime === 'python')).toMatchObject({ available: true, version: '3.12.12' });
    expect(list.find((r) => r.runtime === 'rust')).toMatchObject({ available: false, version: null });
  });
});

describe('Lambda tenant ids', () => {
  it('passes API key ids through and maps anything else into the allowed alphabet', () => {
    expect(lambdaTenantId('a1b2c3d4e5')).toBe('a1b2c3d4e5');
    const odd = lambdaTenantId('ключ#1'.repeat(60));
    expect(odd).toMatch(/^[a-zA-Z0-9._:/=+\-@ ]{1,256}$/);
    expect(lambdaTenantId('ключ#1'.repeat(60))).toBe(odd);
    expect(lambdaTenantId('ключ#2')).not.toBe(lambdaTenantId('ключ#3'));
  });
});
