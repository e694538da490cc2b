/**
 * The runner as a Fargate task (same image as Lambda, different command). The task has no AWS
 * permissions: it reads its request from a presigned GET URL, runs it, and writes the outcome to
 * a presigned PUT URL that can create exactly one object. Exit status 0 means the outcome was
 * stored; anything else means the dispatcher reports the execution as failed.
 */
import path from 'node:path';
import { createRunnerHandler, scrubEnvironment } from './lambda.js';
import { failedOutcome, fetchStoredEvent, storeOutcome, type Outcome, type RetryOptions } from './outcome.js';

/** What a task stores as its result object. */
export type TaskOutcome = Outcome;

export interface TaskOptions extends RetryOptions {
  requestUrl: string;
  resultUrl: string;
  handler?: ReturnType<typeof createRunnerHandler>;
}

/** Fetches the request, executes it and uploads the outcome; resolves to the process exit code. */
export async function runTask(options: TaskOptions): Promise<number> {
  const handle = options.handler ?? createRunnerHandler();
  const event = await fetchStoredEvent(options.requestUrl, options);
  let outcome: Outcome;
  try {
    outcome = { result: await handle(event) };
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', msg: 'execution failed', error: (err as Error).message }));
    outcome = failedOutcome(err);
  }
  await storeOutcome(options.resultUrl, outcome, options);
  return 'error' in outcome && outcome.error.code === 'internal' ? 1 : 0;
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
