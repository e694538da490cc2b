/**
 * Test suites (API.md "Test cases"): runs each test of a request through the runner's `run`
 * (a lane's fresh namespaces or a fresh sandbox per test, the build made once), as many at once as the request's share of
 * the server allows, judges each one (status first, then the comparison or the checker) and
 * assembles the result in request order.
 */
import type { ExecuteResult, TestResult, ValidExecuteRequest, Verdict } from '../../contract.js';
import { ExecutionInterruptedError } from '../../errors.js';
import type { ProcessOutcome } from '../supervise.js';
import { compareOutputs, type CompareMode } from './compare.js';
import { assembleSuite, checkerVerdict, cutUtf8, notRun, STOPPED, SUITE_OUTPUT_BYTES, type SuiteProgram } from '../../suite-result.js';

/** One test's run: what the program gets. */
export interface TestRun {
  /** The test's position in the request. */
  index: number;
  stdin: string;
  args: string[];
  timeout: number;
}

export interface SuiteOptions {
  /** performance.now() when the request started. */
  started: number;
  parallel: number;
  /** How much of each test's stdout and stderr the result keeps, bytes. @default SUITE_OUTPUT_BYTES */
  outputBytes?: number;
  extraSlot?: () => (() => void) | null;
  signal?: AbortSignal;
  run(test: TestRun): Promise<ProcessOutcome>;
  checker?: {
    /** Why the checker cannot run (its compile failed), or null. */
    failed: string | null;
    /** Runs the checker once with these files beside it (and their names as its arguments). */
    run(files: Record<string, string>): Promise<ProcessOutcome>;
  };
}

const VERDICT_OF_STATUS: Record<Exclude<ProcessOutcome['status'], 'ok'>, Verdict> = {
  runtime_error: 'runtime_error',
  timeout: 'timeout',
  memory_limit: 'memory_limit',
  output_limit: 'output_limit',
};

function fromOutcome(name: string, o: ProcessOutcome, bytes: number): TestResult {
  const stdout = cutUtf8(o.stdout, bytes);
  const stderr = cutUtf8(o.stderr, bytes);
  return {
    name,
    verdict: 'passed',
    stdout: stdout.text,
    stderr: stderr.text,
    exitCode: o.exitCode,
    signal: o.signal,
    status: o.status,
    executionTime: o.durationMs,
    cpuTime: o.cpuTimeMs,
    memoryPeak: o.memoryPeakBytes,
    timedOut: o.timedOut,
    truncated: o.truncated || stdout.cut || stderr.cut,
  };
}

/** Judges one finished run: its status first, then the checker or the comparison. */
async function judge(
  test: NonNullable<ValidExecuteRequest['tests']>[number],
  stdin: string,
  o: ProcessOutcome,
  result: TestResult,
  compare: CompareMode | 'checker',
  checker: SuiteOptions['checker'],
): Promise<void> {
  if (o.status !== 'ok') {
    result.verdict = VERDICT_OF_STATUS[o.status];
    return;
  }
  if (compare === 'checker') {
    if (!checker || checker.failed) {
      result.verdict = 'checker_error';
      result.message = checker?.failed ?? 'no checker';
      return;
    }
    let c: ProcessOutcome;
    try {
      c = await checker.run({ input: stdin, expected: test.expectedOutput ?? '', output: o.stdout });
    } catch (err) {
      if (err instanceof ExecutionInterruptedError) throw err;
      result.verdict = 'checker_error';
      result.message = `the checker could not run: ${(err as Error).message}`;
      return;
    }
    Object.assign(result, checkerVerdict(c));
    return;
  }
  if (test.expectedOutput === undefined) return;
  const comparison = compareOutputs(test.expectedOutput, o.stdout, compare);
  if (!comparison.equal) {
    result.verdict = 'wrong_answer';
    result.diff = comparison.diff;
  }
}

/** Runs `req.tests` and answers the suite's result (API.md "Test cases", "Response"). */
export async function runSuite(req: ValidExecuteRequest, program: SuiteProgram, options: SuiteOptions): Promise<ExecuteResult> {
  const tests = req.tests ?? [];
  const names = tests.map((t, i) => t.name ?? `test ${i + 1}`);
  const results: TestResult[] = new Array(tests.length);
  const mode = req.compare ?? 'lines';
  const compare: CompareMode | 'checker' = typeof mode === 'object' && mode.mode === 'checker' ? 'checker' : (mode as CompareMode);

  if (program.failed) {
    for (let i = 0; i < tests.length; i++) results[i] = notRun(names[i]!, 'skipped', 'compile_error', 'the program did not compile');
  } else {
    let next = 0;
    let stop = false;
    let lanes = 0;
    const runOne = async (i: number) => {
      const test = tests[i]!;
      const stdin = test.stdin ?? req.stdin;
      let outcome: ProcessOutcome;
      try {
        outcome = await options.run({ index: i, stdin, args: test.args ?? req.args, timeout: test.timeout ?? req.timeout });
      } catch (err) {
        if (err instanceof ExecutionInterruptedError || options.signal?.aborted) throw err;
        results[i] = notRun(names[i]!, 'internal_error', 'ok', `the test failed on the server: ${(err as Error).message}`);
        if (req.stopOnFailure) stop = true;
        return;
      }
      const result = fromOutcome(names[i]!, outcome, options.outputBytes ?? SUITE_OUTPUT_BYTES);
      await judge(test, stdin, outcome, result, compare, options.checker);
      results[i] = result;
      if (result.verdict !== 'passed' && req.stopOnFailure) stop = true;
    };
    // Lanes take the next test until none is left; the first runs on the request's own slot, more
    // start whenever the server has a slot free (and the request's share allows).
    let failure: unknown = null;
    const extra: Promise<void>[] = [];
    const widen = () => {
      while (lanes < options.parallel && next < tests.length && !stop) {
        const release = options.extraSlot ? options.extraSlot() : () => {};
        if (!release) return;
        extra.push(lane(release));
      }
    };
    const lane = async (release?: () => void): Promise<void> => {
      lanes++;
      try {
        while (next < tests.length && !stop) {
          const i = next++;
          widen();
          await runOne(i);
        }
      } catch (err) {
        failure ??= err;
        stop = true;
      } finally {
        lanes--;
        release?.();
      }
    };
    await lane();
    for (let k = 0; k < extra.length; k++) await extra[k];
    if (failure) throw failure;
    for (let i = 0; i < tests.length; i++) results[i] ??= notRun(names[i]!, 'skipped', 'ok', STOPPED);
  }
  return assembleSuite(program, results, Math.round(performance.now() - options.started));
}
