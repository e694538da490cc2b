/**
 * The runner as a Fargate task (same image as Lambda, different command). The task has no AWS
 * permissions: it reads its request from a presigned GET URL, runs it, and writes the outcome to
 * a presigned PUT URL that can create exactly one object. Exit status 0 means the outcome was
 * stored; anything else means the dispatcher reports the execution as failed.
 */
import path from 'node:path';
import type { ExecuteResult } from '../contract.js';
import { createRunnerHandler, RunnerError, scrubEnvironment } from './lambda.js';

/** What a task stores as its result object. */
export type TaskOutcome = { result: ExecuteResult } | { error: { code: 'runtime_unavailable' | 'internal'; message: string } };

export interface TaskOptions {
  requestUrl: string;
  resultUrl: string;
  /** Upload attempts before giving up. @default 5 */
  attempts?: number;
  /** First retry delay, doubled each time. @default 500 */
  retryDelayMs?: number;
  handler?: ReturnType<typeof createRunnerHandler>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withRetries<T>(what: string, attempts: number, delayMs: number, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts) throw new Error(`${what} failed after ${attempts} attempts: ${(err as Error).message}`);
      console.error(JSON.stringify({ level: 'warn', msg: `${what} failed, retrying`, attempt, error: (err as Error).message }));
      await sleep(delayMs * 2 ** (attempt - 1));
    }
  }
}

/** Fetches the request, executes it and uploads the outcome; resolves to the process exit code. */
export async function runTask(options: TaskOptions): Promise<number> {
  const attempts = options.attempts ?? 5;
  const delay = options.retryDelayMs ?? 500;
  const handle = options.handler ?? createRunnerHandler();

  const event = await withRetries('fetching the request', attempts, delay, async () => {
    const res = await fetch(options.requestUrl);
    if (!res.ok) throw new Error(`GET answered ${res.status}`);
    return (await res.json()) as unknown;
  });

  let outcome: TaskOutcome;
  let code = 0;
  try {
    outcome = { result: await handle(event) };
  } catch (err) {
    const unavailable = err instanceof RunnerError && err.errorType === 'RuntimeUnavailableError';
    console.error(JSON.stringify({ level: 'error', msg: 'execution failed', error: (err as Error).message }));
    outcome = { error: { code: unavailable ? 'runtime_unavailable' : 'internal', message: unavailable ? (err as Error).message : 'the execution failed' } };
    code = unavailable ? 0 : 1;
  }

  const body = JSON.stringify(outcome);
  await withRetries('uploading the result', attempts, delay, async () => {
    const res = await fetch(options.resultUrl, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-none-match': '*' },
      body,
    });
    await res.arrayBuffer();
    // 412: an earlier attempt already stored it (its response was lost).
    if (!res.ok && res.status !== 412) throw new Error(`PUT answered ${res.status}`);
  });
  return code;
}

/** Task entry: URLs from the container overrides, then a scrubbed environment. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const requestUrl = env.RUNTOOLS_REQUEST_URL;
  const resultUrl = env.RUNTOOLS_RESULT_URL;
  if (!requestUrl || !resultUrl) {
    console.error('RUNTOOLS_REQUEST_URL and RUNTOOLS_RESULT_URL must be set (the dispatcher passes them as container overrides)');
    return 2;
  }
  delete env.RUNTOOLS_REQUEST_URL;
  delete env.RUNTOOLS_RESULT_URL;
  scrubEnvironment(env);
  return runTask({ requestUrl, resultUrl });
}

// Entry check by file name: the task bundle inlines this module, so import.meta.url cannot tell them apart.
if (process.argv[1] && /^task\.[cm]?[jt]s$/.test(path.basename(process.argv[1]))) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
