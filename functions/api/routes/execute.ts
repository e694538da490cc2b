import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { executeRequestSchema, ExecuteResultSchema, type Limits } from '../../contract.js';
import type { Dispatcher } from '../../dispatch/types.js';
import type { AppEnv } from '../env.js';
import { errorResponses, SECURITY } from './shared.js';

const AcceptedSchema = z
  .object({ id: z.string(), status: z.enum(['queued', 'running']) })
  .meta({ id: 'Accepted', description: 'The execution runs in the background; poll GET /v1/executions/{id}' });

function executeRoute(limits: Limits) {
  return createRoute({
    method: 'post',
    path: '/v1/execute',
    summary: 'Run code',
    description: "Runs the program and returns its result. A program that fails is still a 200: check `exitCode` and `stderr`.",
    tags: ['executions'],
    security: SECURITY,
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: executeRequestSchema(limits).meta({ id: 'ExecuteRequest' }) } },
      },
    },
    responses: {
      200: { description: 'The program ran (whatever its exit code)', content: { 'application/json': { schema: ExecuteResultSchema } } },
      202: {
        description: 'Accepted to run in the background; `Location` points at the execution',
        headers: z.object({ Location: z.string() }),
        content: { 'application/json': { schema: AcceptedSchema } },
      },
      ...errorResponses([400, 401, 413, 429, 500, 503] as const),
    },
  });
}

/** POST /v1/execute: validates the request and hands it to the dispatcher. */
export function registerExecute(app: OpenAPIHono<AppEnv>, deps: { dispatcher: Dispatcher; limits: Limits }): void {
  app.openapi(executeRoute(deps.limits), async (c) => {
    const request = c.req.valid('json');
    c.set('logFields', { ...c.get('logFields'), runtime: request.runtime, tenant: c.get('tenant') });
    const outcome = await deps.dispatcher.execute(request, {
      tenant: c.get('tenant'),
      requestId: c.get('requestId'),
      signal: c.req.raw.signal,
    });
    if (outcome.kind === 'accepted') {
      c.set('logFields', { ...c.get('logFields'), executionId: outcome.id });
      c.header('Location', `/v1/executions/${outcome.id}`);
      return c.json({ id: outcome.id, status: outcome.status }, 202);
    }
    const { result } = outcome;
    c.set('logFields', {
      ...c.get('logFields'),
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      executionTime: result.executionTime,
    });
    return c.json(result, 200);
  });
}
