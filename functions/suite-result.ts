/**
 * How a test suite's result is put together (API.md "Test cases", "Response"): shared by the
 * runner, which judges a suite itself, and the API on AWS, which judges a suite whose checker ran
 * in another runtime's function (dispatch/checker-suite.ts). Plain functions over the contract's
 * types: nothing of the runner.
 */
import type { CompileResult, ExecuteResult, RuntimeId, SuiteSummary, TestResult } from './contract.js';

/** The program of a suite, after its (single) compile. */
export interface SuiteProgram {
  runtime: RuntimeId;
  version: string;
  compile?: CompileResult;
  /** The compile failed: every test is skipped. */
  failed?: { signal: string | null; truncated: boolean };
}

/**
 * What a test's stdout and stderr keep in the response, bytes each: a suite of 100 tests would
 * otherwise answer up to 200 MiB. Comparison and checkers see the whole output (up to the cap).
 */
export const SUITE_OUTPUT_BYTES = 64 * 1024;

/** A checker's message, bytes. */
export const CHECKER_MESSAGE_BYTES = 1024;

/** Why a test did not run after an earlier one failed. */
export const STOPPED = 'not run: an earlier test failed (stopOnFailure)';

/** `text` cut to at most `bytes` of UTF-8, never inside a code point. */
export function cutUtf8(text: string, bytes: number): { text: string; cut: boolean } {
  if (text.length <= bytes / 3 || Buffer.byteLength(text) <= bytes) return { text, cut: false };
  const buf = Buffer.from(text, 'utf8');
  let end = bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the code point that does not fit.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return { text: buf.subarray(0, end).toString('utf8'), cut: true };
}

/** A test that never ran (skipped, or failed by us): no exit status (-1), empty output, zero times. */
export function notRun(name: string, verdict: 'skipped' | 'internal_error', status: TestResult['status'], message: string): TestResult {
  return {
    name,
    verdict,
    message,
    stdout: '',
    stderr: '',
    exitCode: -1,
    signal: null,
    status,
    executionTime: 0,
    cpuTime: 0,
    memoryPeak: 0,
    timedOut: false,
    truncated: false,
  };
}

/** The verdict a checker's run gives (0 accepts, 1 rejects, anything else is checker_error) and its message. */
export function checkerVerdict(c: Pick<TestResult, 'status' | 'signal' | 'exitCode' | 'stdout' | 'stderr'>): Pick<TestResult, 'verdict' | 'message'> {
  const message = cutUtf8(c.stdout, CHECKER_MESSAGE_BYTES).text;
  if (c.status === 'ok') return { verdict: 'passed', ...(message ? { message } : {}) };
  if (c.status === 'runtime_error' && c.signal === null && c.exitCode === 1) return { verdict: 'wrong_answer', ...(message ? { message } : {}) };
  const why = c.status === 'runtime_error' ? (c.signal ? `was killed by ${c.signal}` : `exited with ${c.exitCode}`) : `ended with ${c.status}`;
  const detail = cutUtf8(c.stderr, CHECKER_MESSAGE_BYTES).text.trim();
  return { verdict: 'checker_error', message: `the checker ${why} (exit 0 accepts, 1 rejects)${detail ? `: ${detail}` : ''}${message ? `\n${message}` : ''}` };
}

/** A suite's whole result from its tests' results, in request order (API.md "Test cases", "Response"). */
export function assembleSuite(program: SuiteProgram, results: TestResult[], executionTime: number): ExecuteResult {
  const passed = results.filter((r) => r.verdict === 'passed').length;
  const summary: SuiteSummary = {
    passed,
    total: results.length,
    maxExecutionTime: Math.max(0, ...results.map((r) => r.executionTime)),
    maxMemoryPeak: Math.max(0, ...results.map((r) => r.memoryPeak)),
  };
  const compile = program.compile;
  return {
    stdout: compile?.stdout ?? '',
    stderr: compile?.stderr ?? '',
    exitCode: program.failed ? (compile && compile.exitCode !== 0 ? compile.exitCode : 1) : passed === results.length ? 0 : 1,
    executionTime,
    timedOut: results.some((r) => r.timedOut),
    signal: null,
    truncated: results.some((r) => r.truncated) || (program.failed?.truncated ?? false),
    status: program.failed ? 'compile_error' : 'ok',
    cpuTime: results.reduce((n, r) => n + r.cpuTime, 0),
    memoryPeak: summary.maxMemoryPeak,
    ...(compile ? { compile } : {}),
    runtime: program.runtime,
    version: program.version,
    tests: results,
    summary,
  };
}
