import { StringDecoder } from 'node:string_decoder';
import { executeRequestSchema, type ExecuteRequest, type ExecuteResult, type RuntimeInfo } from '../functions/contract.js';
import { ConfigError, limitsOf, loadConfig, outputBoundsOf } from '../functions/api/config.js';
import { createRunner, RuntimeUnavailableError } from '../functions/runner/index.js';
import { executionBound, seconds } from '../sdk/client.js';
import { APIError, InvalidRequestError, Runtools, RuntoolsError } from '../sdk/index.js';
import { CliFailure, UsageError } from './errors.js';

/** Where the CLI runs code: a runtools API, or this machine's runner. */
export interface Backend {
  readonly kind: 'remote' | 'local';
  /** With `live`, output goes to it as the program writes it (the result still carries all of it). */
  execute(request: ExecuteRequest, signal: AbortSignal, live?: LiveOutput): Promise<ExecuteResult>;
  runtimes(): Promise<RuntimeInfo[]>;
  /** The status line shown on a terminal while the answer is awaited (no request: `runtimes`); null for none. */
  waiting(request?: ExecuteRequest): string | null;
}

/** Receives output as it is written, as text cut between UTF-8 code points. */
export interface LiveOutput {
  onOutput(stream: 'stdout' | 'stderr', text: string): void;
}

/** The API at RUNTOOLS_API_URL unless `local` is set or the variable is absent; then this machine. */
export function chooseBackend(local: boolean, env: Record<string, string | undefined> = process.env): Backend {
  const url = env.RUNTOOLS_API_URL?.trim();
  return !local && url ? remoteBackend(url, env.RUNTOOLS_API_KEY?.trim() || null, marginOf(env)) : localBackend(env);
}

/** RUNTOOLS_CLIENT_MARGIN_MS: what a wait may last beyond the execution's own bound (undefined: the SDK's default). */
function marginOf(env: Record<string, string | undefined>): number | undefined {
  const raw = env.RUNTOOLS_CLIENT_MARGIN_MS?.trim();
  if (!raw) return undefined;
  if (!/^\d+$/.test(raw)) {
    throw new UsageError(`invalid RUNTOOLS_CLIENT_MARGIN_MS=${JSON.stringify(raw.slice(0, 100))}: must be a whole number of milliseconds`, 'see the CLI section of docs/api-cli.md');
  }
  return Number(raw);
}

function remoteBackend(baseUrl: string, apiKey: string | null, timeoutMargin: number | undefined): Backend {
  // No per-call timeout: the SDK bounds each wait by the execution's own timeout plus the margin.
  const client = new Runtools({ baseUrl, apiKey, ...(timeoutMargin !== undefined ? { timeoutMargin } : {}) });
  const translate = (error: unknown): never => {
    if (error instanceof InvalidRequestError) throw new UsageError(describeInvalid(error.message, error.issues));
    if (error instanceof APIError || error instanceof RuntoolsError) throw new CliFailure(error.message);
    throw error;
  };
  return {
    kind: 'remote',
    execute: (request, signal, live) =>
      client
        .execute(request, {
          signal,
          ...(live ? { onStdout: (text: string) => live.onOutput('stdout', text), onStderr: (text: string) => live.onOutput('stderr', text) } : {}),
        })
        .catch(translate),
    runtimes: () => client.runtimes().catch(translate),
    waiting: (request) =>
      `waiting for ${client.baseUrl} (${request ? executionBound(request, client.timeoutMargin).label : `limit ${seconds(client.timeoutMargin)}`})…`,
  };
}

function localBackend(env: Record<string, string | undefined>): Backend {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message, 'see the configuration variables in docs/api-cli.md');
    throw error;
  }
  const runner = createRunner({
    sandbox: config.sandbox,
    network: config.network === 'internet',
    outputLimitBytes: config.outputLimitBytes,
    compileTimeoutMs: config.compileTimeoutMs,
    limits: { memoryBytes: config.memoryMb * 1024 * 1024, pids: config.pidsMax },
    outputBounds: outputBoundsOf(config),
  }).catch((error: unknown) => {
    throw new CliFailure(error instanceof Error ? error.message : String(error));
  });
  const schema = executeRequestSchema(limitsOf(config));
  return {
    kind: 'local',
    async execute(request, signal, live) {
      const parsed = schema.safeParse(request);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
        throw new UsageError(describeInvalid('invalid request', issues));
      }
      try {
        const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
        const onOutput = live && ((stream: 'stdout' | 'stderr', chunk: Buffer) => {
          const text = decoders[stream].write(chunk);
          if (text) live.onOutput(stream, text);
        });
        const result = await (await runner).execute(parsed.data, { signal, ...(onOutput ? { onOutput } : {}) });
        if (live) for (const stream of ['stdout', 'stderr'] as const) {
          const rest = decoders[stream].end();
          if (rest) live.onOutput(stream, rest);
        }
        return result;
      } catch (error) {
        if (error instanceof RuntimeUnavailableError) throw new CliFailure(error.message);
        throw error;
      }
    },
    runtimes: async () => (await runner).runtimes(),
    waiting: (request) => (request ? `running ${request.runtime} locally…` : null),
  };
}

function describeInvalid(message: string, issues: { path: string; message: string }[] | undefined): string {
  if (!issues?.length) return message;
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}
