import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { executeRequestSchema, ExecuteResultSchema, type Limits } from '../../contract.js';
import { fingerprintOf, IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY, runOnce, type IdempotencyStore, type StoredResponse } from '../../dispatch/idempotency.js';
import { COMPILE_WAIT_MS, worstCaseMs } from '../../dispatch/policy.js';
import { UnsupportedRequestError, type DispatchOutcome, type Dispatcher } from '../../dispatch/types.js';
import type { AppEnv } from '../env.js';
import type { Logger } from '../log.js';
import { streamExecution, wantsEventStream } from './execute-stream.js';
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
      200: {
        description:
          'The program ran (whatever its exit code). With `Accept: text/event-stream`: Server-Sent Events `compile`, `stdout` and `stderr` (`{"data": "<chunk>"}`) as the program writes, `: ping` comments, then `result` (this object) or `error`',
        content: {
          'application/json': { schema: ExecuteResultSchema },
          'text/event-stream': { schema: z.string().meta({ description: 'Server-Sent Events (API.md "Live output")' }) },
        },
      },
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
/** How long a duplicate waits for the first request with its key, beyond that request's worst case. */
const DUPLICATE_WAIT_MARGIN_MS = 60_000;

/** The response a 200 or 202 outcome gets, as an idempotency key keeps it. */
function responseOf(outcome: DispatchOutcome): StoredResponse {
  if (outcome.kind === 'accepted') return { status: 202, body: { id: outcome.id, status: outcome.status }, location: `/v1/executions/${outcome.id}` };
  return { status: 200, body: outcome.result };
}

export function registerExecute(app: OpenAPIHono<AppEnv>, deps: { dispatcher: Dispatcher; limits: Limits; log: Logger; idempotency?: IdempotencyStore }): void {
  app.openapi(executeRoute(deps.limits), async (c) => {
    const request = c.req.valid('json');
    c.set('logFields', { ...c.get('logFields'), runtime: request.runtime, tenant: c.get('tenant') });
    const key = c.req.header(IDEMPOTENCY_HEADER);
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new UnsupportedRequestError('Idempotency-Key must be 1 to 255 visible ASCII characters', 'Idempotency-Key');
    }
    if (wantsEventStream(c.req.header('accept'))) {
      if (key !== undefined) {
        throw new UnsupportedRequestError('Idempotency-Key applies to JSON requests: a streamed request runs while its client listens', 'Idempotency-Key');
      }
      c.set('logFields', { ...c.get('logFields'), streamed: true });
      if (request.tests) throw new UnsupportedRequestError('tests cannot be streamed: send the suite without Accept: text/event-stream', 'tests');
      return streamExecution(c, deps, request) as never;
    }
    const run = async (): Promise<StoredResponse> => {
      const outcome = await deps.dispatcher.execute(request, { tenant: c.get('tenant'), requestId: c.get('requestId'), signal: c.req.raw.signal });
      const fields =
        outcome.kind === 'accepted'
          ? { executionId: outcome.id }
          : { exitCode: outcome.result.exitCode, timedOut: outcome.result.timedOut, executionTime: outcome.result.executionTime };
      c.set('logFields', { ...c.get('logFields'), ...fields });
      return responseOf(outcome);
    };
    let response: StoredResponse;
    if (key !== undefined && deps.idempotency) {
      const once = await runOnce(deps.idempotency, { owner: c.get('tenant'), key, fingerprint: fingerprintOf(request) }, run, {
        maxWaitMs: worstCaseMs(request, COMPILE_WAIT_MS) + DUPLICATE_WAIT_MARGIN_MS,
        signal: c.req.raw.signal,
      });
      response = once.response;
      c.header('Idempotency-Key', key);
      if (once.replayed) c.header('Idempotent-Replayed', 'true');
      c.set('logFields', { ...c.get('logFields'), idempotent: once.replayed ? 'replayed' : 'first' });
    } else response = await run();
    if (response.location) c.header('Location', response.location);
    return c.json(response.body as never, response.status as 200) as never;
  });
}
