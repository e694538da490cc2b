/**
 * The API's request and result types (API.md), as plain TypeScript: the published declarations
 * depend on nothing. The server validates with the zod schemas in functions/contract.ts;
 * test/sdk/types.test.ts keeps every type here equal to its schema's (requests: what clients may
 * send; results: what the server answers), so the two cannot drift apart.
 */

/** Canonical runtime ids (GET /v1/runtimes lists what a deployment has). */
export type RuntimeId = 'python' | 'node' | 'bun' | 'deno' | 'go' | 'rust' | 'c' | 'cpp' | 'java' | 'ruby' | 'php' | 'bash';

/**
 * A runtime as a request may name it: its id or an alias (`py`, `python3`, `js`, `javascript`,
 * `nodejs`, `golang`, `rs`, `c++`, `rb`, `sh`), in any case. The server rejects unknown names (400).
 */
export type RuntimeName = RuntimeId | (string & {});

/** One test case of a request's `tests` (API.md "Test cases"). */
export interface TestCase {
  /** Shown in the result. @default "test N" */
  name?: string;
  /** @default the request's stdin */
  stdin?: string;
  /** @default the request's args */
  args?: string[];
  /** Compared with stdout by `compare`; without it (and no checker) a test passes when its status is ok. */
  expectedOutput?: string;
  /** Run-phase timeout, ms. @default the request's timeout */
  timeout?: number;
}

/** A checker program (`compare: { mode: 'checker', … }`): gets input, expected and output as files and arguments; exit 0 accepts, 1 rejects. */
export interface CheckerCompare {
  mode: 'checker';
  runtime: RuntimeName;
  code?: string;
  files?: Record<string, string>;
  entrypoint?: string;
}

/** How a test's output is judged. @default 'lines' */
export type Compare =
  | 'exact'
  | 'lines'
  | 'tokens'
  | {
      mode: 'float';
      /** @default 1e-6 */
      absTol?: number;
      /** @default 1e-6 */
      relTol?: number;
    }
  | CheckerCompare;

/** `POST /v1/execute`'s body. At least one of `code` and `files`. */
export interface ExecuteRequest {
  runtime: RuntimeName;
  /** Source of the entry file. */
  code?: string;
  /** Relative paths (subfolders allowed) to UTF-8 contents. */
  files?: Record<string, string>;
  /** Entry file: a key of `files`, or the name `code` is written to. @default the runtime's (main.py, main.js, …) */
  entrypoint?: string;
  /** @default "" */
  stdin?: string;
  /** Run-phase timeout, ms (1 … the server's maximum). @default 30000 */
  timeout?: number;
  /** Variables merged over a minimal base (PATH, HOME, LANG, TMPDIR); names match ^[A-Za-z_][A-Za-z0-9_]*$. */
  env?: Record<string, string>;
  /** The program's command-line arguments. @default [] */
  args?: string[];
  /** Lowers the run phase's memory cap, MiB. */
  memoryLimitMb?: number;
  /** Test cases: compiled once, each test in a fresh sandbox; the top-level stdin, args and timeout are their defaults. */
  tests?: TestCase[];
  /** How outputs are compared (with `tests`). @default 'lines' */
  compare?: Compare;
  /** Tests not started after the first failure are skipped (with `tests`). */
  stopOnFailure?: boolean;
  /** Glob patterns, relative to the work directory, of files to bring back after the run (`result.files`). */
  outputs?: string[];
}

/** Why a phase ended: timeout, OOM kill or output cap first; else runtime_error for a non-zero exit or a signal; else ok. */
export type PhaseStatus = 'ok' | 'runtime_error' | 'timeout' | 'memory_limit' | 'output_limit';

/** Why a run ended; compile_error when the compile failed or timed out (`compile.status` says which). */
export type RunStatus = PhaseStatus | 'compile_error';

/** What every phase reports (the contract's PhaseResultShape): the compile, the run, each test. */
export interface PhaseResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Wall time, ms. */
  executionTime: number;
  timedOut: boolean;
  /** User + system CPU of the whole process tree, ms. */
  cpuTime: number;
  /** Peak memory, bytes. */
  memoryPeak: number;
}

/** The compile step of a compiled runtime. */
export interface CompileResult extends PhaseResult {
  status: PhaseStatus;
  /** true when an identical earlier build was reused (cpuTime 0). */
  cached?: boolean;
}

/** A test's verdict. */
export type Verdict =
  | 'passed'
  | 'wrong_answer'
  | 'timeout'
  | 'memory_limit'
  | 'output_limit'
  | 'runtime_error'
  | 'checker_error'
  | 'internal_error'
  | 'skipped';

/** One test's outcome, in request order. */
export interface TestResult extends PhaseResult {
  name: string;
  verdict: Verdict;
  /** The checker's stdout (≤ 1 KiB), or why the test was skipped or failed on the server's side. */
  message?: string;
  signal: string | null;
  status: RunStatus;
  truncated: boolean;
  /** First differing line (1-based), each side ≤ 200 characters. */
  diff?: { line: number; expected: string; actual: string };
}

/** A test suite's totals. */
export interface SuiteSummary {
  passed: number;
  total: number;
  maxExecutionTime: number;
  maxMemoryPeak: number;
}

/** A file the program left in its work directory, returned for the request's `outputs`. */
export interface OutputFile {
  /** Relative to the work directory. */
  path: string;
  /** The file's real size, bytes. */
  size: number;
  /** utf8 when the bytes are valid UTF-8 without NUL, else base64. */
  encoding: 'utf8' | 'base64';
  /** The bytes, in `encoding`; absent when the file was not read (truncated). */
  content?: string;
  /** The file is over the per-file bound, or the total bound was reached before it: no content. */
  truncated?: boolean;
}

/** What an execution did; also the answer when the program fails (check `exitCode` and `stderr`). */
export interface ExecuteResult extends PhaseResult {
  /** The program's exit status; 128+N when killed by signal N (the compiler's when compiling failed). */
  exitCode: number;
  /** Wall time of the whole execution (compile + run), ms. */
  executionTime: number;
  /** The run phase hit `timeout` and was killed. */
  timedOut: boolean;
  status: RunStatus;
  /** Signal that ended the program, e.g. SIGKILL. */
  signal: string | null;
  /** stdout or stderr hit the output cap. */
  truncated: boolean;
  /** The compile step, for compiled runtimes. */
  compile?: CompileResult;
  runtime: RuntimeId;
  /** The toolchain version that ran it. */
  version: string;
  /** With `tests`: each test in request order. */
  tests?: TestResult[];
  summary?: SuiteSummary;
  /** With `outputs`, after a run: the matching regular files in path order. */
  files?: OutputFile[];
  /** With `outputs`: the count or total bound was hit (files or content left out). */
  filesTruncated?: boolean;
}

export type ExecutionStatus = 'queued' | 'running' | 'completed' | 'failed';

/** A background (202) execution: `GET /v1/executions/{id}`. */
export interface Execution {
  id: string;
  status: ExecutionStatus;
  result?: ExecuteResult;
  error?: { code: string; message: string };
}

/** One entry of `GET /v1/runtimes`. */
export interface RuntimeInfo {
  runtime: RuntimeId;
  /** null when the toolchain is not installed. */
  version: string | null;
  aliases: string[];
  compiled: boolean;
  entrypoint: string;
  available: boolean;
}

export interface RuntimesResponse {
  runtimes: RuntimeInfo[];
}

/** The `code` of an API error. */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'not_found'
  | 'payload_too_large'
  | 'rate_limited'
  | 'runtime_unavailable'
  | 'capacity'
  | 'idempotency_mismatch'
  | 'internal';

/** The body of every error response. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** With invalid_request: each bad field by path. */
    issues?: { path: string; message: string }[];
  };
}
