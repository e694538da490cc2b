import { statSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { runtimeChoices } from '../../functions/runtimes.js';
import type { ExecuteRequest, ExecuteResult, TestResult } from '../../functions/contract.js';
import { testsFromDirectory, type TestCase } from '../../sdk/node.js';
import { CliFailure, UsageError } from '../errors.js';
import { readStdin, runInterruptibly, write } from '../io.js';
import { readSource, type Source } from '../source.js';
import { parseMs } from './exec.js';

interface TestOptions {
  runtime: string;
  cases: string;
  entry?: string;
  compare?: 'exact' | 'lines' | 'tokens' | 'float';
  absTol?: number;
  relTol?: number;
  checker?: string;
  checkerRuntime?: string;
  stopOnFailure?: boolean;
  timeout?: number;
  json?: boolean;
  local?: boolean;
}

/** Exit status when a test did not pass (or the program did not compile). */
const EXIT_TESTS_FAILED = 1;
/** Lines of a failing test's stderr (or message) shown under its row. */
const DETAIL_LINES = 5;
/** Characters of one detail line. */
const DETAIL_WIDTH = 200;

const MIB = 1024 * 1024;
const HINT = 'runtools test --help';

function parseTolerance(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number ≥ 0, e.g. 1e-6');
  return n;
}

/** `runtools test`: runs a program against a folder of test cases and prints a verdict per test. */
export function registerTest(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('test')
    .description('run a program against test cases (<name>.in / <name>.out in a folder); exit 0 when every test passes')
    .argument('<source>', 'inline code, a file, a folder, or - to read the code from stdin')
    .argument('[args...]', 'arguments for the program in every test (put them after --)')
    .requiredOption('-r, --runtime <runtime>', runtimeChoices())
    .requiredOption('--cases <dir>', 'folder of test cases: <name>.in (stdin) and <name>.out or <name>.ans (expected output)')
    .option('-e, --entry <file>', 'entry file inside the folder')
    .addOption(new Option('--compare <mode>', "how outputs are compared (default: lines)").choices(['exact', 'lines', 'tokens', 'float']))
    .option('--abs-tol <n>', 'absolute tolerance for --compare float (default 1e-6)', parseTolerance)
    .option('--rel-tol <n>', 'relative tolerance for --compare float (default 1e-6)', parseTolerance)
    .option('--checker <file>', 'a checker program (a file or a folder): gets input, expected and output; exit 0 accepts, 1 rejects')
    .option('--checker-runtime <runtime>', 'runtime of the checker')
    .option('--stop-on-failure', 'skip the tests not yet started after the first failure')
    .option('-t, --timeout <ms>', 'run-phase timeout of each test in milliseconds', parseMs)
    .option('--json', 'print the whole result as one JSON document')
    .option('--local', 'run on this machine even when RUNTOOLS_API_URL is set')
    .showHelpAfterError('hint: runtools test --help')
    .action((source: string, args: string[], options: TestOptions) => run(() => test(source, args, options)));
}

async function test(sourceArg: string, args: string[], options: TestOptions): Promise<number> {
  const compare = compareOf(options);
  const source: Source = sourceArg === '-' ? { code: await readStdin() } : readSource(sourceArg, options.entry);
  const tests = await readCases(options.cases);
  const request: ExecuteRequest = {
    runtime: options.runtime,
    ...source,
    tests,
    ...(compare !== undefined ? { compare } : {}),
    ...(options.stopOnFailure ? { stopOnFailure: true } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...(args.length ? { args } : {}),
  };
  const { chooseBackend } = await import('../backend.js');
  const backend = chooseBackend(options.local ?? false);
  const result = await runInterruptibly(backend, request);
  if (!result) return 130;
  if (!result.tests || !result.summary) throw new CliFailure('the answer has no test results (does the server support tests?)');
  const allPassed = result.status !== 'compile_error' && result.summary.passed === result.summary.total;
  if (options.json) {
    await write(process.stdout, `${JSON.stringify(result, null, 2)}\n`);
  } else if (result.status === 'compile_error') {
    const output = `${result.stdout}${result.stderr}`;
    await write(process.stderr, `${output}${output && !output.endsWith('\n') ? '\n' : ''}compile error: every test skipped\n`);
  } else {
    await write(process.stdout, report(result.tests, result.summary, colours(process.stdout.isTTY === true)));
  }
  return allPassed ? 0 : EXIT_TESTS_FAILED;
}

/** The request's `compare` from --compare, the tolerances and --checker (undefined: the API's default). */
function compareOf(options: TestOptions): ExecuteRequest['compare'] {
  const tolerances = options.absTol !== undefined || options.relTol !== undefined;
  if (options.checker !== undefined) {
    if (options.compare !== undefined || tolerances) throw new UsageError('--checker decides by itself; leave out --compare, --abs-tol and --rel-tol', HINT);
    if (options.checkerRuntime === undefined) throw new UsageError('--checker needs --checker-runtime', 'e.g. --checker check.py --checker-runtime python');
    if (!statSync(options.checker, { throwIfNoEntry: false })) throw new UsageError(`no such checker file or folder: ${options.checker}`, HINT);
    return { mode: 'checker', runtime: options.checkerRuntime, ...readSource(options.checker, undefined) };
  }
  if (options.checkerRuntime !== undefined) throw new UsageError('--checker-runtime goes with --checker', HINT);
  if (tolerances && options.compare !== 'float') throw new UsageError('--abs-tol and --rel-tol need --compare float', HINT);
  if (options.compare === 'float') {
    return {
      mode: 'float',
      ...(options.absTol !== undefined ? { absTol: options.absTol } : {}),
      ...(options.relTol !== undefined ? { relTol: options.relTol } : {}),
    };
  }
  return options.compare;
}

async function readCases(dir: string): Promise<TestCase[]> {
  const stats = statSync(dir, { throwIfNoEntry: false });
  if (!stats?.isDirectory()) throw new UsageError(`--cases ${dir} is not a folder`, 'pass a folder of <name>.in / <name>.out files');
  let tests: TestCase[];
  try {
    tests = await testsFromDirectory(dir);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), 'pass a folder of <name>.in / <name>.out files');
  }
  if (tests.length === 0) throw new UsageError(`no test cases in ${dir}`, 'add <name>.in and <name>.out (or <name>.ans) files, e.g. 1.in and 1.out');
  return tests;
}

interface Colours {
  pass(text: string): string;
  fail(text: string): string;
  dim(text: string): string;
}

/** ANSI colours on a terminal (unless NO_COLOR is set), plain text otherwise. */
function colours(tty: boolean): Colours {
  const on = tty && !process.env.NO_COLOR;
  const paint = (code: number) => (text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { pass: paint(32), fail: paint(31), dim: paint(2) };
}

const verdictLabel = (t: TestResult) => (t.verdict === 'passed' ? 'PASS' : t.verdict.toUpperCase());
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
const clip = (line: string) => (line.length > DETAIL_WIDTH ? `${line.slice(0, DETAIL_WIDTH - 1)}…` : line);

/** The table: one row per test, details under failures, then the summary line. */
function report(tests: TestResult[], summary: NonNullable<ExecuteResult['summary']>, c: Colours): string {
  const header = ['TEST', 'VERDICT', 'TIME', 'MEMORY'];
  const rows = tests.map((t) => {
    const ran = t.verdict !== 'skipped';
    return [t.name, verdictLabel(t), ran ? `${t.executionTime} ms` : '-', ran ? mib(t.memoryPeak) : '-'];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], paint: (i: number, text: string) => string = (_i, text) => text) =>
    cells
      .map((cell, i) => {
        // Time and memory are right-aligned; the last column carries no padding.
        const padded = i >= 2 ? cell.padStart(widths[i]!) : i === cells.length - 1 ? cell : cell.padEnd(widths[i]!);
        return paint(i, padded);
      })
      .join('  ')
      .trimEnd();
  let out = `${line(header)}\n`;
  tests.forEach((t, index) => {
    const paint = t.verdict === 'passed' ? c.pass : t.verdict === 'skipped' ? c.dim : c.fail;
    out += `${line(rows[index]!, (i, text) => (i === 1 ? paint(text) : text))}\n`;
    for (const detail of details(t)) out += `    ${c.dim(clip(detail))}\n`;
  });
  const slowest = `slowest ${summary.maxExecutionTime} ms`;
  const text = `${summary.passed}/${summary.total} passed, ${slowest}, peak ${mib(summary.maxMemoryPeak)}`;
  out += `${summary.passed === summary.total ? c.pass(text) : c.fail(text)}\n`;
  return out;
}

/** What explains a test that did not pass: its first difference, the message, the end of the program. */
function details(t: TestResult): string[] {
  if (t.verdict === 'passed') return [];
  const lines: string[] = [];
  if (t.diff) lines.push(`line ${t.diff.line}: expected ${JSON.stringify(t.diff.expected)} got ${JSON.stringify(t.diff.actual)}`);
  if (t.message) lines.push(...firstLines(t.message));
  if (t.verdict === 'runtime_error') {
    lines.push(t.signal ? `killed by ${t.signal}` : `exit code ${t.exitCode}`);
    lines.push(...firstLines(t.stderr));
  }
  return lines;
}

function firstLines(text: string): string[] {
  const lines = text.replace(/\r\n/g, '\n').trimEnd().split('\n');
  if (lines.length === 1 && lines[0] === '') return [];
  return lines.length > DETAIL_LINES ? [...lines.slice(0, DETAIL_LINES), `… (${lines.length - DETAIL_LINES} more lines)`] : lines;
}
