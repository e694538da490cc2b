/**
 * Smoke test of a runtools deployment (on AWS, or any server speaking the API):
 *
 *   npm run smoke -- --url <api url> --key <api key>
 *
 * Checks, one line each: GET /health; a wrong key is a 401; GET /v1/runtimes; in every runtime the
 * deployment says is available, the registry's sample programs (functions/runtimes.ts: the ones
 * the tests run every runtime through and the docs show) with their documented output; and a long
 * execution that outlives the synchronous budget: 202 with a Location, polled to completion.
 * Exits 1 when any check fails. Requests count against the key's usage plan (about 100 with
 * every runtime, plus the polls).
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import type { ExecuteResult, Execution, RuntimesResponse } from '../functions/contract.js';
import { RUNTIMES, type RuntimeFacts } from '../functions/runtimes.js';

export interface SmokeOptions {
  /** Base URL of the API (the stack's ApiUrl output, or http://127.0.0.1:8787). */
  url: string;
  key: string;
  /** The deployment's synchronous budget: the long execution runs 5 s past it. */
  syncBudgetMs: number;
  /** `timeout` of each sample program. */
  exampleTimeoutMs: number;
  /** How long a background execution may take to complete, polls included. */
  pollTimeoutMs: number;
  /** Bound of each HTTP request. */
  requestTimeoutMs: number;
  /** Sample programs in flight at once. */
  concurrency: number;
  /** Only these runtimes (default: every available one). */
  runtimes?: string[];
}

/** A check that did not hold: its message is the line's reason. */
class Failure extends Error {}

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** Sample programs of the registry and what each must print (functions/runtimes.ts documents them). */
const EXAMPLES: Array<{
  name: string;
  request: (facts: RuntimeFacts) => Record<string, unknown>;
  expect: (result: ExecuteResult, facts: RuntimeFacts) => string | undefined;
}> = [
  { name: 'hello', request: (f) => ({ code: f.hello }), expect: (r) => output(r, 'hello\n') },
  { name: 'files', request: (f) => ({ files: { ...f.samples.multi } }), expect: (r) => output(r, 'Hello, W!\n') },
  { name: 'stdin', request: (f) => ({ code: f.samples.stdin, stdin: 'line one\nline two\n' }), expect: (r) => output(r, 'LINE ONE\nLINE TWO\n') },
  { name: 'env', request: (f) => ({ code: f.samples.env, env: { GREETING: 'hi from env' } }), expect: (r) => output(r, 'hi from env\n') },
  { name: 'args', request: (f) => ({ code: f.samples.args, args: ['a', 'b c', '--flag'] }), expect: (r) => output(r, 'a|b c|--flag\n') },
  { name: 'exit code', request: (f) => ({ code: f.samples.exit }), expect: (r) => (r.exitCode === 3 ? undefined : `exitCode ${r.exitCode} (expected 3)${tail(r)}`) },
  {
    name: 'uncaught error',
    request: (f) => ({ code: f.samples.error.code }),
    expect: (r, f) =>
      r.exitCode === f.samples.error.exitCode && new RegExp(f.samples.error.stderr).test(r.stderr)
        ? undefined
        : `exitCode ${r.exitCode} (expected ${f.samples.error.exitCode}), stderr not /${f.samples.error.stderr}/${tail(r)}`,
  },
];

const clip = (s: string, n = 160) => JSON.stringify(s.length > n ? `${s.slice(0, n)}…` : s);
const tail = (r: ExecuteResult) => `; stdout ${clip(r.stdout)}, stderr ${clip(r.stderr)}`;

function output(r: ExecuteResult, stdout: string): string | undefined {
  if (r.stdout === stdout && r.exitCode === 0) return undefined;
  return `stdout ${clip(r.stdout)} exit ${r.exitCode} (expected ${clip(stdout)} exit 0); stderr ${clip(r.stderr)}`;
}

/** What an error answer says, for a line. */
function describe(reply: Reply): string {
  const error = reply.body?.error;
  return error ? `${reply.status} ${error.code}: ${error.message}` : `${reply.status} ${clip(reply.text)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The smoke test's HTTP client: JSON in and out, bounded, 429/503 retried after their Retry-After. */
class Client {
  private readonly base: URL;

  constructor(private readonly options: SmokeOptions) {
    this.base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  }

  async send(method: 'GET' | 'POST', path: string, init: { body?: unknown; key?: string | null } = {}): Promise<Reply> {
    const key = init.key === undefined ? this.options.key : init.key;
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(new URL(path, this.base), {
        method,
        headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'x-api-key': key }) },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      const text = await res.text();
      const retryAfter = Number(res.headers.get('retry-after'));
      if ((res.status === 429 || res.status === 503) && Number.isFinite(retryAfter) && retryAfter > 0 && attempt < 4) {
        await sleep(Math.min(retryAfter, 30) * 1000);
        continue;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: res.status, headers: res.headers, body, text };
    }
  }

  /** Polls a background execution until it has finished; its result, or a Failure saying why not. */
  async poll(id: string): Promise<{ result: ExecuteResult; polls: number }> {
    const deadline = Date.now() + this.options.pollTimeoutMs;
    let wait = 250;
    for (let polls = 1; ; polls++) {
      const reply = await this.send('GET', `v1/executions/${encodeURIComponent(id)}`);
      if (reply.status !== 200) throw new Failure(`GET v1/executions/${id}: ${describe(reply)}`);
      const execution = reply.body as Execution;
      if (execution.status === 'completed' && execution.result) return { result: execution.result, polls };
      if (execution.status === 'failed') throw new Failure(`execution ${id} failed: ${execution.error?.code}: ${execution.error?.message}`);
      if (Date.now() + wait > deadline) throw new Failure(`execution ${id} still ${execution.status} after ${this.options.pollTimeoutMs} ms`);
      await sleep(wait);
      wait = Math.min(wait * 2, 2000);
    }
  }

  /** Runs a request on whichever path the deployment picks (200, or 202 then polls). */
  async execute(request: Record<string, unknown>): Promise<{ result: ExecuteResult; path: string }> {
    const reply = await this.send('POST', 'v1/execute', { body: request });
    if (reply.status === 200) return { result: reply.body as ExecuteResult, path: '200' };
    if (reply.status === 202) {
      const { result, polls } = await this.poll(reply.body.id);
      return { result, path: `202, ${polls} polls` };
    }
    throw new Failure(describe(reply));
  }
}

/** Runs `tasks` with at most `limit` in flight. */
async function pool(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]!();
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
}

/** Runs every check, writing one line each through `print`; resolves with the counts. */
export async function smoke(options: SmokeOptions, print: (line: string) => void = console.log): Promise<{ passed: number; failed: number }> {
  const client = new Client(options);
  const counts = { passed: 0, failed: 0 };
  const check = async (name: string, body: () => Promise<string>): Promise<boolean> => {
    const started = Date.now();
    try {
      const detail = await body();
      counts.passed++;
      print(`PASS ${name}: ${detail} (${Date.now() - started} ms)`);
      return true;
    } catch (error) {
      counts.failed++;
      const reason = error instanceof Failure ? error.message : `${(error as Error).name}: ${(error as Error).message}${(error as Error).cause ? ` (${(error as Error).cause})` : ''}`;
      print(`FAIL ${name}: ${reason} (${Date.now() - started} ms)`);
      return false;
    }
  };

  await check('health', async () => {
    const reply = await client.send('GET', 'health', { key: null });
    if (reply.status !== 200 || reply.body?.status !== 'ok') throw new Failure(`GET /health: ${describe(reply)}`);
    return 'GET /health 200 {"status":"ok"}';
  });

  await check('wrong key', async () => {
    const reply = await client.send('POST', 'v1/execute', { key: `smoke-wrong-${randomUUID()}`, body: { runtime: 'python', code: 'print(1)' } });
    if (reply.status !== 401 || reply.body?.error?.code !== 'unauthorized') throw new Failure(`POST /v1/execute with a wrong key: ${describe(reply)} (expected 401 unauthorized)`);
    return '401 unauthorized';
  });

  let available: RuntimeFacts[] = [];
  const listed = await check('runtimes', async () => {
    const reply = await client.send('GET', 'v1/runtimes');
    if (reply.status !== 200) throw new Failure(`GET /v1/runtimes: ${describe(reply)}`);
    const runtimes = (reply.body as RuntimesResponse).runtimes.filter((r) => r.available && (!options.runtimes || options.runtimes.includes(r.runtime)));
    const unknown = runtimes.filter((r) => !RUNTIMES.some((f) => f.id === r.runtime));
    if (unknown.length > 0) throw new Failure(`this checkout has no sample programs for ${unknown.map((r) => r.runtime).join(', ')}: update it to the deployed version`);
    available = runtimes.map((r) => RUNTIMES.find((f) => f.id === r.runtime)!);
    if (available.length === 0) throw new Failure(`no available runtime${options.runtimes ? ` among ${options.runtimes.join(', ')}` : ''}`);
    return runtimes.map((r) => `${r.runtime} ${r.version}`).join(', ');
  });
  if (!listed) {
    print('FAIL examples: not run, the available runtimes are unknown');
    counts.failed++;
  }

  const long = available[0]
    ? check(`long execution (${available[0].id})`, async () => {
        const facts = available[0]!;
        const timeout = options.syncBudgetMs + 5000;
        const reply = await client.send('POST', 'v1/execute', { body: { runtime: facts.id, code: facts.samples.sleeper, timeout } });
        if (reply.status === 200) throw new Failure(`answered 200 for a program running ${timeout} ms; expected 202 past a sync budget of ${options.syncBudgetMs} ms (--sync-budget-ms)`);
        if (reply.status !== 202) throw new Failure(describe(reply));
        const id = reply.body?.id as string;
        if (!id || !['queued', 'running'].includes(reply.body.status)) throw new Failure(`202 body ${clip(reply.text)}`);
        const location = reply.headers.get('location') ?? '';
        if (!location.endsWith(`v1/executions/${id}`)) throw new Failure(`202 Location ${clip(location)} does not name execution ${id}`);
        const { result, polls } = await client.poll(id);
        if (!result.timedOut || result.status !== 'timeout') throw new Failure(`completed but not at its ${timeout} ms timeout: ${clip(JSON.stringify(result), 400)}`);
        return `202 ${reply.body.status}, ${polls} polls, completed (killed at its ${timeout} ms timeout as asked)`;
      })
    : Promise.resolve(false);

  const tasks = available.flatMap((facts) =>
    EXAMPLES.map((example) => async () => {
      await check(`${facts.id} ${example.name}`, async () => {
        const { result, path } = await client.execute({ runtime: facts.id, timeout: options.exampleTimeoutMs, ...example.request(facts) });
        const problem = example.expect(result, facts);
        if (problem) throw new Failure(problem);
        return `${path}, ${result.version}, ${result.executionTime} ms`;
      });
    }),
  );
  await Promise.all([long, pool(tasks, options.concurrency)]);
  print(`smoke: ${counts.passed} passed, ${counts.failed} failed`);
  return counts;
}

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/** The `npm run smoke` command line. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = new Command('smoke')
    .description('Smoke test a runtools deployment: health, a wrong key, every available runtime, the 202 path.')
    .requiredOption('--url <url>', 'base URL of the API (the stack output ApiUrl)', (value) => {
      if (!/^https?:\/\//.test(value)) throw new InvalidArgumentError('expected an http(s) URL');
      return value;
    })
    .requiredOption('--key <key>', 'an API key of the deployment')
    .option('--sync-budget-ms <ms>', "the deployment's synchronous budget (runtools:syncBudgetMs; locally RUNTOOLS_SYNC_BUDGET_MS)", positive, 25_000)
    .option('--example-timeout-ms <ms>', 'timeout of each sample program', positive, 10_000)
    .option('--poll-timeout-ms <ms>', 'how long a background execution may take (a Fargate cold start pulls its image)', positive, 300_000)
    .option('--request-timeout-ms <ms>', 'bound of each HTTP request', positive, 90_000)
    .option('--concurrency <n>', 'sample programs in flight at once', positive, 4)
    .option('--runtimes <list>', 'only these runtimes, comma-separated (default: every available one)', (value) => value.split(',').map((s) => s.trim()).filter(Boolean))
    .showHelpAfterError();
  await program.parseAsync(argv);
  const { failed } = await smoke(program.opts<SmokeOptions>());
  process.exitCode = failed > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
