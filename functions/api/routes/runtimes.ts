import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { RuntimesResponseSchema } from '../../contract.js';
import type { Dispatcher } from '../../dispatch/types.js';
import type { AppEnv } from '../env.js';
import { errorResponses, SECURITY } from './shared.js';

const route = createRoute({
  method: 'get',
  path: '/v1/runtimes',
  summary: 'List runtimes',
  description: 'Every runtime with its aliases, entry file name, toolchain version and whether it is installed here.',
  tags: ['runtimes'],
  security: SECURITY,
  responses: {
    200: { description: 'The runtimes', content: { 'application/json': { schema: RuntimesResponseSchema } } },
    ...errorResponses([401, 500] as const),
  },
});

/** GET /v1/runtimes. */
export function registerRuntimes(app: OpenAPIHono<AppEnv>, deps: { dispatcher: Dispatcher }): void {
  app.openapi(route, async (c) => c.json({ runtimes: await deps.dispatcher.runtimes() }, 200));
}
