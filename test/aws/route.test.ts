import { describe, expect, it } from 'vitest';
import { lambdaTenantId } from '../../functions/dispatch/lambda.js';
import { DEFAULT_ROUTE_POLICY, routeFor, staticRuntimes } from '../../functions/dispatch/route.js';
import { RUNTIME_IDS } from '../../functions/runtimes.js';

describe('route policy', () => {
  it('runs what fits the synchronous budget on Lambda, the rest as tasks', () => {
    expect(routeFor({ runtime: 'python', timeout: 25_000 })).toBe('sync');
    expect(routeFor({ runtime: 'python', timeout: 25_001 })).toBe('task');
    expect(routeFor({ runtime: 'python', timeout: 30_000 })).toBe('task');
    // Compiled runtimes carry the compile allowance.
    expect(routeFor({ runtime: 'go', timeout: 15_000 })).toBe('sync');
    expect(routeFor({ runtime: 'rust', timeout: 15_001 })).toBe('task');
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
