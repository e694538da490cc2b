/**
 * The runner inside each runtime image on Lambda. Started as the image's entry point it is a
 * custom runtime: it speaks the Lambda Runtime API itself (no runtime interface client), runs
 * one execution per invocation with the `process` sandbox, and between invocations kills every
 * process but itself and wipes its scratch space, because Lambda reuses warm environments.
 *
 * Event: `{ "request": ExecuteRequest }`. Response: the `ExecuteResult`. A toolchain that is
 * missing answers an error of type `RuntimeUnavailableError`; anything else that is our fault
 * is an error of type `RunnerError` with a message fit for logs, never for users.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import { executeRequestSchema, DEFAULT_LIMITS, type CompileResult, type ExecuteResult } from '../contract.js';
import { createRunner, createSandbox, RuntimeUnavailableError, type Runner } from './index.js';
import { defaultWorkRoot } from './paths.js';
import { failedOutcome, fetchStoredEvent, RunnerError, storeOutcome } from './outcome.js';
import { EXECUTION_MARKER, sweep } from './sandbox/process.js';
import { unlockTree } from './workspace.js';

/** The most a runner accepts as `timeout`; the API enforces the deployment's real maximum. */
const RUNNER_MAX_TIMEOUT_MS = 15 * 60_000;

const EventSchema = z.object({
  request: executeRequestSchema({ ...DEFAULT_LIMITS, maxTimeoutMs: RUNNER_MAX_TIMEOUT_MS, maxBodyBytes: Infinity, maxMemoryMb: Number.MAX_SAFE_INTEGER }),
  /**
   * A suite judged by the API (a checker in another runtime, dispatch/checker-suite.ts): how much
   * of each test's output to keep, and files of each test's own (the checker's input, expected, output).
   */
  suite: z
    .object({
      outputBytes: z.number().int().positive().optional(),
      testFiles: z.array(z.record(z.string(), z.string())).optional(),
    })
    .optional(),
});

/** The internal suite options an invocation event may carry beside its request. */
export type RunnerSuiteOptions = NonNullable<z.input<typeof EventSchema>['suite']>;

/**
 * Where the exchange goes through S3 (outcome.ts): `requestUrl` instead of `request` for a request
 * too big to invoke with, `resultUrl` when the API may stop waiting (it then polls the result object).
 */
const LinksSchema = z.object({ requestUrl: z.url().optional(), resultUrl: z.url().optional(), stream: z.boolean().optional() });

/**
 * One line of a streamed invocation's response (`stream: true` in the event; NDJSON through the
 * Runtime API's streaming response mode): the compile's result, output chunks (base64: a chunk
 * may end inside a UTF-8 sequence), then the result or the error.
 */
export type StreamLine =
  | { compile: CompileResult }
  | { out: 'stdout' | 'stderr'; data: string }
  | { result: ExecuteResult }
  | { error: { errorType: string; errorMessage: string } };

/** The invocation event the dispatcher sends: the request inline, or where to read it. */
export type RunnerEvent = z.input<typeof EventSchema> | (z.input<typeof LinksSchema> & { requestUrl: string });

/**
 * A result this big is stored and answered `{ stored: true }`: Lambda's response limit is 6 MiB
 * (+100 bytes; see test/aws/helpers/lambda-emulator.ts), and escaped output can be several times its size.
 */
export const MAX_INLINE_RESPONSE_BYTES = 6 * 1024 * 1024 - 64 * 1024;

export { RunnerError };

/** Environment variables the runner keeps for itself; everything else (credentials, the Runtime API address) is dropped at start. */
const KEPT_ENV = /^(PATH|HOME|LANG|LC_ALL|TZ|RUNTOOLS_[A-Z_]+|RUSTUP_HOME|CARGO_HOME|GOROOT)$/;


export interface RunnerHandlerOptions {
  /** Engine to use. @default a process-mode runner that sweeps every leftover process */
  runner?: Runner;
  /**
   * Directory emptied after every invocation: all a program could write to. On Lambda it is
   * `/tmp`, the only writable place. @default RUNTOOLS_SCRATCH_ROOT, else /tmp
   */
  scratchRoot?: string;
}

/**
 * Removes everything inside `dir` (not `dir` itself), including trees a program made unwritable.
 * Called once every process but the runner is swept: what is there is hostile but no longer changes.
 */
async function emptyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir)) {
    const p = path.join(dir, name);
    try {
      await rm(p, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      await unlockTree(p);
      await rm(p, { recursive: true, force: true, maxRetries: 2 });
    }
  }
}

/** Kills every process except this one and its ancestors (the environment belongs to the runner). */
function sweepEverything(): number {
  return sweep(-1, `${EXECUTION_MARKER}=`, true);
}

/**
 * The engine as the images run it: process sandbox that sweeps every leftover process, inet
 * sockets only in network mode `internet` (RUNTOOLS_NETWORK, set by the stack), no shared build cache.
 */
export function createEnvironmentRunner(): Promise<Runner> {
  return createRunner({
    sandbox: createSandbox('process', { sweepAll: true, network: process.env.RUNTOOLS_NETWORK === 'internet' }),
    workRoot: defaultWorkRoot(),
    // Nothing may outlive an execution in a shared environment, builds included.
    compileCacheBytes: 0,
  });
}

/** Builds the invocation handler: validate, reset the environment, execute, reset again. */
export function createRunnerHandler(options: RunnerHandlerOptions = {}) {
  const scratchRoot = options.scratchRoot ?? process.env.RUNTOOLS_SCRATCH_ROOT ?? '/tmp';
  let runner: Promise<Runner> | undefined = options.runner ? Promise.resolve(options.runner) : undefined;
  const getRunner = () => (runner ??= createEnvironmentRunner());

  const reset = async () => {
    sweepEverything();
    await emptyDir(scratchRoot);
  };

  return async function handle(
    event: unknown,
    signal?: AbortSignal,
    live?: { onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void; onCompile(compile: CompileResult): void },
  ): Promise<ExecuteResult> {
    const parsed = EventSchema.safeParse(event);
    if (!parsed.success) {
      throw new RunnerError(`invalid event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const engine = await getRunner();
    await reset();
    try {
      // A suite's tests run one after another: after each run the sandbox kills every process but
      // the runner's (sweepAll: a program here shares the runner's user and can leave its group,
      // session and marker), which would kill a test running beside it.
      const suite = parsed.data.suite;
      return await engine.execute(parsed.data.request, {
        signal,
        parallel: 1,
        ...(suite?.outputBytes ? { testOutputBytes: suite.outputBytes } : {}),
        ...(suite?.testFiles ? { testFiles: suite.testFiles } : {}),
        ...(live ? { onOutput: live.onOutput, onCompile: live.onCompile } : {}),
      });
    } catch (err) {
      if (err instanceof RuntimeUnavailableError) throw new RunnerError(err.message, 'RuntimeUnavailableError');
      throw err;
    } finally {
      await engine.idle();
      await reset();
    }
  };
}

/** Drops every environment variable the runner does not need, so nothing it starts can inherit them. */
export function scrubEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  for (const key of Object.keys(env)) if (!KEPT_ENV.test(key)) delete env[key];
}

interface RuntimeApi {
  next(): Promise<{ requestId: string; deadlineMs: number; event: unknown }>;
  /** `body` is the response's JSON text. */
  respond(requestId: string, body: string): Promise<void>;
  /** A response in the streaming mode: the lines `produce` writes, as it writes them. */
  stream(requestId: string, produce: (write: (line: StreamLine) => void) => Promise<void>): Promise<void>;
  fail(requestId: string | null, err: unknown): Promise<void>;
}

function runtimeApi(address: string): RuntimeApi {
  const base = `http://${address}/2018-06-01/runtime`;
  const errorBody = (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    return { errorType: e.name || 'Error', errorMessage: e.message };
  };
  const post = async (url: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    await res.arrayBuffer();
    if (!res.ok && res.status !== 413) throw new Error(`Runtime API ${url} answered ${res.status}`);
  };
  return {
    async next() {
      const res = await fetch(`${base}/invocation/next`);
      if (!res.ok) throw new Error(`Runtime API next answered ${res.status}`);
      const requestId = res.headers.get('lambda-runtime-aws-request-id') ?? '';
      const deadlineMs = Number(res.headers.get('lambda-runtime-deadline-ms') ?? Date.now() + 60_000);
      const text = await res.text();
      let event: unknown;
      try {
        event = JSON.parse(text);
      } catch {
        event = undefined;
      }
      return { requestId, deadlineMs, event };
    },
    respond: (requestId, result) => post(`${base}/invocation/${requestId}/response`, result),
    stream: (requestId, produce) =>
      new Promise<void>((resolve, reject) => {
        // The Runtime API's streaming response mode: chunked, its bytes passed on as they come
        // (docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming).
        const req = httpRequest(
          `${base}/invocation/${requestId}/response`,
          { method: 'POST', headers: { 'lambda-runtime-function-response-mode': 'streaming', 'transfer-encoding': 'chunked', 'content-type': 'application/x-ndjson' } },
          (res) => {
            res.resume();
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        const write = (line: StreamLine) => void req.write(`${JSON.stringify(line)}\n`);
        produce(write).then(
          () => req.end(),
          (err: unknown) => req.end(`${JSON.stringify({ error: { errorType: err instanceof RunnerError ? err.name : 'RunnerError', errorMessage: err instanceof RunnerError ? err.message : 'the runner failed' } })}\n`),
        );
      }),
    async fail(requestId, err) {
      const body = errorBody(err);
      const url = requestId === null ? `${base}/init/error` : `${base}/invocation/${requestId}/error`;
      await post(url, JSON.stringify(body), { 'lambda-runtime-function-error-type': body.errorType });
    },
  };
}

/**
 * The custom-runtime loop: reads the Runtime API address (`RUNTOOLS_RUNTIME_API`, set by the
 * image's bootstrap, which re-executes us with a clean environment), scrubs what is left of the
 * environment, then serves invocations one at a time until Lambda shuts the environment down.
 */
export async function serveRuntimeApi(
  address = process.env.RUNTOOLS_RUNTIME_API ?? process.env.AWS_LAMBDA_RUNTIME_API,
): Promise<never> {
  if (!address) throw new Error('AWS_LAMBDA_RUNTIME_API is not set: this entry point runs inside Lambda');
  scrubEnvironment();
  delete process.env.RUNTOOLS_RUNTIME_API;
  const api = runtimeApi(address);
  let handle: ReturnType<typeof createRunnerHandler>;
  try {
    handle = createRunnerHandler({ runner: await createEnvironmentRunner() });
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', msg: 'runner initialisation failed', error: (err as Error).message }));
    await api.fail(null, new RunnerError('the runner could not start'));
    process.exit(1);
  }
  for (;;) {
    const { requestId, deadlineMs, event } = await api.next();
    const abort = new AbortController();
    // Leave time to clean up and answer before Lambda's own deadline.
    const timer = setTimeout(() => abort.abort(), Math.max(0, deadlineMs - Date.now() - 1_500));
    const links = LinksSchema.safeParse(event);
    const { requestUrl, resultUrl } = links.success ? links.data : {};
    // The API may have stopped waiting: the stored outcome is what it reads then.
    const store = (outcome: Parameters<typeof storeOutcome>[1]) =>
      resultUrl ? storeOutcome(resultUrl, outcome, { attempts: 3 }) : Promise.resolve();
    if (links.success && links.data.stream) {
      // Live output (the API invoked with InvokeWithResponseStream): lines as the program writes.
      try {
        await api.stream(requestId, async (write) => {
          try {
            const result = await handle(requestUrl ? await fetchStoredEvent(requestUrl, { attempts: 3 }) : event, abort.signal, {
              onOutput: (out, chunk) => write({ out, data: chunk.toString('base64') }),
              onCompile: (compile) => write({ compile }),
            });
            write({ result });
          } catch (err) {
            console.error(JSON.stringify({ level: 'error', requestId, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
            throw err;
          }
        });
      } catch (err) {
        console.error(JSON.stringify({ level: 'error', requestId, msg: 'the streamed response failed', error: (err as Error).message }));
      } finally {
        clearTimeout(timer);
      }
      continue;
    }
    try {
      const result = await handle(requestUrl ? await fetchStoredEvent(requestUrl, { attempts: 3 }) : event, abort.signal);
      const body = JSON.stringify(result);
      if (resultUrl && Buffer.byteLength(body) > MAX_INLINE_RESPONSE_BYTES) {
        await store({ result });
        await api.respond(requestId, JSON.stringify({ stored: true }));
      } else {
        await api.respond(requestId, body);
        await store({ result }).catch(logStoreFailure(requestId));
      }
    } catch (err) {
      console.error(JSON.stringify({ level: 'error', requestId, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
      await api.fail(requestId, err instanceof RunnerError ? err : new RunnerError('the runner failed'));
      await store(failedOutcome(err)).catch(logStoreFailure(requestId));
    } finally {
      clearTimeout(timer);
    }
  }
}

const logStoreFailure = (requestId: string) => (err: unknown) =>
  console.error(JSON.stringify({ level: 'error', requestId, msg: 'storing the outcome failed', error: (err as Error).message }));

// Entry check by file name: the task bundle inlines this module, so import.meta.url cannot tell them apart.
if (process.argv[1] && /^lambda\.[cm]?[jt]s$/.test(path.basename(process.argv[1]))) {
  serveRuntimeApi().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
