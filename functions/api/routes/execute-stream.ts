/**
 * `POST /v1/execute` with `Accept: text/event-stream` (API.md "Live output"): the program's
 * output as Server-Sent Events while it runs — `compile`, `stdout` / `stderr` chunks (cut only
 * between UTF-8 code points), `: ping` comments every 15 s, and last `result` (the same object
 * the JSON call returns) or `error`. Errors before the request is admitted stay plain JSON; a
 * client that goes away kills the execution. What is buffered for a slow client is bounded by the
 * output caps (1 MiB per stream).
 */
import { StringDecoder } from 'node:string_decoder';
import type { Context } from 'hono';
import { streamSSE, type SSEMessage } from 'hono/streaming';
import type { ErrorCode, ExecuteResult, ValidExecuteRequest } from '../../contract.js';
import type { Dispatcher, LiveOutput } from '../../dispatch/types.js';
import { describeError } from '../middleware/errors.js';
import type { AppEnv } from '../env.js';
import type { Logger } from '../log.js';

/** Comment lines keep proxies from closing a quiet stream. */
export const PING_INTERVAL_MS = 15_000;
/** How often a live request that a dispatcher could not stream is polled to its end. */
const POLL_MS = 500;

/** Whether the client asked for Server-Sent Events. */
export function wantsEventStream(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === 'text/event-stream');
}

/** The error event of a failure after the 200: the code and message the JSON answer would have had. */
function errorEvent(err: unknown, log: Logger, requestId: string): { code: ErrorCode; message: string } {
  const { code, message } = describeError(err, log, requestId, 'streamed request failed');
  return { code, message };
}

export async function streamExecution(
  c: Context<AppEnv>,
  deps: { dispatcher: Dispatcher; log: Logger },
  request: ValidExecuteRequest,
): Promise<Response> {
  const { dispatcher, log } = deps;
  const tenant = c.get('tenant');
  const requestId = c.get('requestId');
  const controller = new AbortController();
  c.req.raw.signal?.addEventListener('abort', () => controller.abort(), { once: true });

  const pending: SSEMessage[] = [];
  let wake: (() => void) | null = null;
  const push = (message: SSEMessage) => {
    pending.push(message);
    wake?.();
  };
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const chunk = (stream: 'stdout' | 'stderr', text: string) => {
    if (text) push({ event: stream, data: JSON.stringify({ data: text }) });
  };
  let admit!: () => void;
  let streamedLive = false;
  const admitted = new Promise<void>((resolve) => (admit = resolve));
  const live: LiveOutput = {
    onOutput: (stream, bytes) => chunk(stream, decoders[stream].write(bytes)),
    onCompile: (compile) => push({ event: 'compile', data: JSON.stringify(compile) }),
    onAdmitted: () => {
      streamedLive = true;
      admit();
    },
  };
  const run = dispatcher.execute(request, { tenant, requestId, signal: controller.signal, live });
  // Refused before it was admitted (queue full, no capacity, runtime missing): a plain JSON error.
  if (dispatcher.liveOutput) await Promise.race([admitted, run]);

  return streamSSE(c, async (stream) => {
    stream.onAbort(() => controller.abort());
    const ping = setInterval(() => void stream.write(': ping\n\n').catch(() => {}), PING_INTERVAL_MS);
    let finished = false;
    const outcome = run.then(
      (o) => ({ ok: o }) as const,
      (error: unknown) => ({ error }) as const,
    );
    void outcome.then(() => {
      finished = true;
      wake?.();
    });
    try {
      for (;;) {
        if (pending.length > 0) {
          await stream.writeSSE(pending.shift()!);
          continue;
        }
        if (finished) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (pending.length > 0 || finished) resolve();
        });
        wake = null;
      }
      chunk('stdout', decoders.stdout.end());
      chunk('stderr', decoders.stderr.end());
      const end = await outcome;
      let result: ExecuteResult | null = null;
      let failure: unknown = 'error' in end ? end.error : null;
      if ('ok' in end) {
        if (end.ok.kind === 'completed') result = end.ok.result;
        else {
          // A dispatcher that cannot hold the request (AWS past its window): polled to its end here.
          for (;;) {
            if (stream.aborted) return;
            const execution = await dispatcher.getExecution(end.ok.id, tenant);
            if (execution?.status === 'completed' && execution.result) {
              result = execution.result;
              break;
            }
            if (!execution || execution.status === 'failed') {
              failure = Object.assign(new Error(execution?.error?.message ?? 'the execution failed'), { code: execution?.error?.code });
              break;
            }
            await new Promise((r) => setTimeout(r, POLL_MS));
          }
        }
      }
      if (result) {
        if (!streamedLive) {
          // Its output came with the result only (a backend that does not stream): sent before it, in the same events.
          if (result.compile) pending.push({ event: 'compile', data: JSON.stringify(result.compile) });
          chunk('stdout', result.stdout);
          chunk('stderr', result.stderr);
        }
        pending.push({ event: 'result', data: JSON.stringify(result) });
      } else if (!stream.aborted) {
        const coded = failure as { code?: ErrorCode; message?: string } | null;
        const error = coded?.code ? { code: coded.code, message: coded.message ?? 'the execution failed' } : errorEvent(failure, log, requestId);
        pending.push({ event: 'error', data: JSON.stringify({ error }) });
      }
      while (pending.length > 0 && !stream.aborted) await stream.writeSSE(pending.shift()!);
    } finally {
      clearInterval(ping);
    }
  });
}
