import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { ExecutionSchema } from '../../contract.js';
import type { Dispatcher } from '../../dispatch/types.js';
import type { AppEnv } from '../env.js';
import { errorResponses, SECURITY } from './shared.js';

const route = createRoute({
  method: 'get',
  path: '/v1/executions/{id}',
  summary: 'Read a background execution',
  description: 'Status and, once finished, the result of an execution answered with 202. Only the key that created it can read it.',
  tags: ['executions'],
  security: SECURITY,
  request: {
    params: z.object({
      id: z.string().min(1).max(200).meta({ param: { name: 'id', in: 'path' }, examples: ['ex_3q2x9Jm0cQ1u7bJ2kV5t8A'] }),
    }),
  },
  responses: {
    200: { description: 'The execution', content: { 'application/json': { schema: ExecutionSchema } } },
    ...errorResponses([400, 401, 404, 500] as const),
  },
});

/** GET /v1/executions/{id}: the caller's own background execution, else 404. */
export function registerExecutions(app: OpenAPIHono<AppEnv>, deps: { dispatcher: Dispatcher }): void {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid('param');
    c.set('logFields', { ...c.get('logFields'), executionId: id.slice(0, 200), tenant: c.get('tenant') });
    const execution = await deps.dispatcher.getExecution(id, c.get('tenant'));
    if (!execution) {
      return c.json({ error: { code: 'not_found' as const, message: `no execution with id ${JSON.stringify(id.slice(0, 200))}` } }, 404);
    }
    return c.json(execution, 200);
  });
}
