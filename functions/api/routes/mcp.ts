import { setTimeout as sleep } from 'node:timers/promises';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { Context } from 'hono';
import type { ExecuteResult, Limits, ValidExecuteRequest } from '../../contract.js';
import type { Dispatcher, ExecutionContext } from '../../dispatch/types.js';
import { describeError, GENERIC_MESSAGES } from '../middleware/errors.js';
import { COMPILE_WAIT_MS, worstCaseMs } from '../../dispatch/policy.js';
import type { AppEnv } from '../env.js';
import type { Logger } from '../log.js';
import { createMcpServer } from '../mcp.js';

/** How long a background execution may wait in a queue or for a task to start, on top of its own bound. */
const START_MARGIN_MS = 300_000;
/** Room left before a Lambda invocation's end to answer with a tool error instead of being cut off. */
const LAMBDA_RESERVE_MS = 3_000;
const POLL_START_MS = 200;
const POLL_MAX_MS = 2_000;
/** A JSON-RPC envelope around an execute request is small next to the request itself. */
const ENVELOPE_BYTES = 64 * 1024;

/** A failure the caller should read as it is (no internal detail in it). */
class ToolFailure extends Error {}

/**
 * POST /mcp: the MCP server over Streamable HTTP, stateless (a fresh server and transport per
 * request), behind the same API-key auth as /v1 (app.ts). GET and DELETE (the standalone SSE
 * stream and session end of stateful servers) answer 405.
 */
export function registerMcp(app: OpenAPIHono<AppEnv>, deps: { dispatcher: Dispatcher; limits: Limits; log: Logger }): void {
  app.post('/mcp', async (c) => {
    const tenant = c.get('tenant');
    const requestId = c.get('requestId');
    c.set('logFields', { ...c.get('logFields'), tenant });
    const httpSignal = c.req.raw.signal;
    const server = createMcpServer({
      limits: deps.limits,
      execute: (request, signal) =>
        executeToCompletion(deps.dispatcher, request, {
          tenant,
          requestId,
          signal: signal ? AbortSignal.any([signal, httpSignal]) : httpSignal,
        }, deadlineOf(c, request)),
      runtimes: () => deps.dispatcher.runtimes(),
      errorMessage: (error) => describe(error, deps.log, requestId),
    });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      maxRequestBodySize: deps.limits.maxBodyBytes + ENVELOPE_BYTES,
    });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw);
  });

  const notAllowed = (c: Context<AppEnv>) => {
    c.header('Allow', 'POST');
    return c.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP server is stateless; send POST' }, id: null }, 405);
  };
  app.get('/mcp', notAllowed);
  app.delete('/mcp', notAllowed);
}

/**
 * When to stop waiting for a background execution: its worst case (run timeouts, a compile
 * allowance, time to start) and, on Lambda, before the invocation ends.
 */
function deadlineOf(c: Context<AppEnv>, request: ValidExecuteRequest): number {
  let deadline = Date.now() + worstCaseMs(request, COMPILE_WAIT_MS) + START_MARGIN_MS;
  const lambda = (c.env as { lambdaContext?: { getRemainingTimeInMillis?: () => number } } | undefined)?.lambdaContext;
  const remaining = lambda?.getRemainingTimeInMillis?.();
  if (typeof remaining === 'number') deadline = Math.min(deadline, Date.now() + remaining - LAMBDA_RESERVE_MS);
  return deadline;
}

/** Runs the request; a background (202) execution is polled until it ends, so the tool always answers with the result. */
async function executeToCompletion(dispatcher: Dispatcher, request: ValidExecuteRequest, ctx: ExecutionContext, deadline: number): Promise<ExecuteResult> {
  const outcome = await dispatcher.execute(request, ctx);
  if (outcome.kind === 'completed') return outcome.result;
  const { id } = outcome;
  const started = Date.now();
  let delay = POLL_START_MS;
  for (;;) {
    await sleep(Math.max(0, Math.min(delay, deadline - Date.now())), undefined, ctx.signal ? { signal: ctx.signal } : {});
    delay = Math.min(delay * 2, POLL_MAX_MS);
    const execution = await dispatcher.getExecution(id, ctx.tenant);
    if (!execution) throw new ToolFailure(`execution ${id} is no longer available`);
    if (execution.status === 'completed' && execution.result) return execution.result;
    if (execution.status === 'failed') {
      throw new ToolFailure(`the execution failed on the server: ${execution.error?.message ?? 'unknown error'} (execution ${id})`);
    }
    if (Date.now() >= deadline) {
      const waited = Math.round((Date.now() - started) / 1000);
      throw new ToolFailure(`execution ${id} is still ${execution.status} after ${waited} s; its result will be at GET /v1/executions/${id}`);
    }
  }
}

/** The message of a tool error: what the HTTP API would say (describeError), details of our faults only in the log. */
function describe(error: unknown, log: Logger, requestId: string): string {
  if (error instanceof ToolFailure) return error.message;
  if (error instanceof Error && error.name === 'AbortError') return 'the request was cancelled';
  const e = describeError(error, log, requestId, 'MCP tool call failed');
  const issue = e.issues?.[0];
  if (issue) return `invalid request: ${issue.path}: ${issue.message}`;
  // A generic answer names the request, so the log line can be found.
  return e.code === 'internal' && e.message === GENERIC_MESSAGES[e.status] ? `${e.message} (request id ${requestId})` : e.message;
}
