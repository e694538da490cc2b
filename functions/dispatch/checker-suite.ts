/**
 * A test suite whose checker is in another runtime than the program, on AWS, where each runner
 * image holds one toolchain (API.md "Test cases"; locally the runner does all of this itself):
 *  1. the program's function runs the tests, judged by their status only, each test's whole
 *     output kept (up to the runner's cap);
 *  2. the checker's function runs the checker once per test that ended `ok`, with that test's
 *     `input`, `expected` and `output` as files and arguments (one invocation: the checker is
 *     built once);
 *  3. the API judges each test from its checker's run, as the runner would, and assembles the result.
 * Answered 200 when both are done within the window, else 202: the API finishes in the background
 * (background.ts keeps the API function's invocation alive) and stores the outcome where a runner
 * would, so GET /v1/executions/{id} reads it the same way.
 */
import { CHECKER_TIMEOUT_MS, ExecuteRequestSchema, type ExecuteResult, type TestResult, type ValidExecuteRequest } from '../contract.js';
import { assembleSuite, checkerVerdict, cutUtf8, notRun, STOPPED, SUITE_OUTPUT_BYTES } from '../suite-result.js';
import { inBackground } from './background.js';
import { ExecutionObjects } from './execution-objects.js';
import type { LambdaDispatcher } from './lambda.js';
import { worstCaseMs } from './policy.js';
import { BackendError, RuntimeUnavailableError, UnsupportedRequestError, type DispatchOutcome, type ExecutionContext } from './types.js';

/** Each test's output the program's invocation keeps for the checker: all of it (the runner caps it first). */
const WHOLE_OUTPUT = 2 ** 31 - 1;

type Checker = Extract<NonNullable<ValidExecuteRequest['compare']>, { mode: 'checker' }>;

export interface CheckerSuitesOptions {
  lambda: LambdaDispatcher;
  /** How long the API waits before answering 202, ms. */
  windowMs: number;
  compileAllowanceMs: number;
  /** Longest invocation a runner function holds, ms: each phase must fit. */
  functionBudgetMs: number;
  log: (entry: Record<string, unknown>) => void;
}

/** Whether a request is a suite whose checker runs in another runtime than the program. */
export function crossRuntimeChecker(request: ValidExecuteRequest): Checker | null {
  const c = request.compare;
  return request.tests && typeof c === 'object' && c.mode === 'checker' && c.runtime !== request.runtime ? c : null;
}

export class CheckerSuites {
  constructor(private readonly o: CheckerSuitesOptions) {}

  async execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    const checker = crossRuntimeChecker(request)!;
    const checks = checkerRequest(checker, request.tests!.length);
    const program = { ...request, compare: 'exact' as const, tests: request.tests!.map(({ expectedOutput: _, ...t }) => t) };
    for (const [phase, r] of [['tests', program], ['compare.runtime', checks]] as const) {
      if (worstCaseMs(r, this.o.compileAllowanceMs) > this.o.functionBudgetMs) {
        throw new UnsupportedRequestError(
          `with a checker in another runtime, the program's tests and the checker's runs must each fit one runner invocation (${Math.round(this.o.functionBudgetMs / 1000)} s with compile allowance): lower the timeouts or the number of tests, or write the checker in ${request.runtime}`,
          phase,
        );
      }
    }
    // Until it is accepted the work follows the request; after, it is the API's own.
    const own = new AbortController();
    const follow = () => own.abort();
    ctx.signal?.addEventListener('abort', follow, { once: true });
    const work = this.run(request, program, checks, checker, { ...ctx, signal: own.signal });
    // Whoever ends up waiting for it (the answer, or the background) handles its failure; never unhandled.
    work.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const windowClosed = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), this.o.windowMs)));
    try {
      const done = await Promise.race([work, windowClosed]);
      if (done) return { kind: 'completed', result: done };
    } finally {
      clearTimeout(timer);
    }
    ctx.signal?.removeEventListener('abort', follow);
    const id = ExecutionObjects.newId();
    const worstMs = worstCaseMs(program, this.o.compileAllowanceMs) + worstCaseMs(checks, this.o.compileAllowanceMs);
    const accepted = await this.o.lambda.accepted(id, request.runtime, worstMs, ctx);
    inBackground(
      work.then(
        (result) => this.o.lambda.storeOutcome(id, { result }, ctx.requestId),
        (err: unknown) => {
          this.o.log({ level: 'error', msg: 'suite with a checker in another runtime failed', requestId: ctx.requestId, executionId: id, error: (err as Error).message });
          return this.o.lambda.storeOutcome(id, { error: describeFailure(err) }, ctx.requestId);
        },
      ),
    );
    return accepted;
  }

  private async run(request: ValidExecuteRequest, program: ValidExecuteRequest, checks: ValidExecuteRequest, checker: Checker, ctx: ExecutionContext): Promise<ExecuteResult> {
    const started = performance.now();
    const first = await this.o.lambda.run(program, ctx, { outputBytes: WHOLE_OUTPUT });
    if (first.status === 'compile_error' || !first.tests) return first;
    const tests = request.tests!;
    const results: TestResult[] = first.tests.map((t) => ({ ...t }));
    // Without an expected output a test passes when its status is ok: those are the ones to check.
    const checked = results.flatMap((t, i) => (t.verdict === 'passed' ? [i] : []));
    if (checked.length > 0) {
      const files = checked.map((i) => ({ input: tests[i]!.stdin ?? request.stdin, expected: tests[i]!.expectedOutput ?? '', output: results[i]!.stdout }));
      const second = await this.o.lambda.run({ ...checks, tests: checks.tests!.slice(0, checked.length), stopOnFailure: request.stopOnFailure }, ctx, { testFiles: files });
      if (second.status === 'compile_error' || !second.tests) {
        const why = `the checker did not compile:\n${(second.compile?.stderr || second.compile?.stdout || '').slice(0, 2000)}`;
        for (const i of checked) Object.assign(results[i]!, { verdict: 'checker_error', message: why });
      } else {
        checked.forEach((i, k) => {
          const run = second.tests![k];
          if (!run) throw new BackendError('the checker runs came back incomplete', 502);
          if (run.verdict === 'skipped') results[i] = notRun(results[i]!.name, 'skipped', 'ok', STOPPED);
          else if (run.verdict === 'internal_error') Object.assign(results[i]!, { verdict: 'checker_error', message: `the checker could not run: ${run.message ?? ''}` });
          else Object.assign(results[i]!, checkerVerdict(run));
        });
      }
    }
    // stopOnFailure: as if the tests had run one after another, none after the first failure.
    if (request.stopOnFailure) {
      const failed = results.findIndex((r) => r.verdict !== 'passed' && r.verdict !== 'skipped');
      if (failed >= 0) for (let j = failed + 1; j < results.length; j++) results[j] = notRun(results[j]!.name, 'skipped', 'ok', STOPPED);
    }
    for (const r of results) {
      const stdout = cutUtf8(r.stdout, SUITE_OUTPUT_BYTES);
      r.stdout = stdout.text;
      r.truncated ||= stdout.cut;
    }
    const suite = { runtime: request.runtime, version: first.version, ...(first.compile ? { compile: first.compile } : {}) };
    return assembleSuite(suite, results, Math.round(performance.now() - started));
  }
}

/** What a suite finished in the background stores when it fails: a missing toolchain says so, the rest is ours and generic. */
function describeFailure(err: unknown): { code: string; message: string } {
  if (err instanceof RuntimeUnavailableError) return { code: 'runtime_unavailable', message: err.message };
  return { code: 'internal', message: 'the execution failed' };
}

/** The checker as a suite of its own: one run per checked test, its files named as its arguments. */
function checkerRequest(checker: Checker, count: number): ValidExecuteRequest {
  return ExecuteRequestSchema.parse({
    runtime: checker.runtime,
    ...(checker.code !== undefined ? { code: checker.code } : {}),
    ...(checker.files ? { files: checker.files } : {}),
    ...(checker.entrypoint ? { entrypoint: checker.entrypoint } : {}),
    timeout: CHECKER_TIMEOUT_MS,
    tests: Array.from({ length: count }, () => ({ args: ['input', 'expected', 'output'] })),
  });
}
