/**
 * The public contract (API.md): request and result schemas, error shapes and limits.
 * Everything else takes its types from here.
 */
import { z } from 'zod';
import { RUNTIME_IDS, RUNTIME_NAMES, RUNTIMES, runtimeFacts, type RuntimeId } from './runtimes.js';

export { RUNTIME_IDS, type RuntimeId };

/** Thrown when a request names a runtime whose toolchain is not installed on this deployment (→ 503). */
export class RuntimeUnavailableError extends Error {
  constructor(readonly runtime: string) {
    super(`the ${runtime} toolchain is not installed on this deployment`);
    this.name = 'RuntimeUnavailableError';
  }
}

/** Size limits a deployment enforces; every field has the API.md default. */
export interface Limits {
  /** Whole request body, bytes. */
  maxBodyBytes: number;
  maxFiles: number;
  /** stdin, bytes. */
  maxStdinBytes: number;
  /** Upper bound of `timeout`, ms. */
  maxTimeoutMs: number;
  /** Default `timeout`, ms. */
  defaultTimeoutMs: number;
  /** Upper bound of `memoryLimitMb`: the run phase's memory cap, MiB. */
  maxMemoryMb: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 6 * 1024 * 1024,
  maxFiles: 1000,
  maxStdinBytes: 1024 * 1024,
  maxTimeoutMs: 300_000,
  defaultTimeoutMs: 30_000,
  maxMemoryMb: 512,
};

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Test cases in one request (API.md "Test cases"). */
export const MAX_TESTS = 100;
/** An `expectedOutput`, bytes: no program output is longer (the output cap). */
export const MAX_EXPECTED_OUTPUT_BYTES = 1024 * 1024;
/** A checker's run-phase timeout, ms. */
export const CHECKER_TIMEOUT_MS = 10_000;
/** A test's `name`, characters. */
const MAX_TEST_NAME = 200;
const MAX_PATH_LENGTH = 1024;
/** Patterns in one request's `outputs` (API.md "Files out"). */
export const MAX_OUTPUT_PATTERNS = 32;
/** One `outputs` pattern, characters. */
export const MAX_OUTPUT_PATTERN_LENGTH = 256;
/** How much of the work directory `outputs` bring back by default (RUNTOOLS_MAX_OUTPUT_FILES, _FILE_BYTES, _TOTAL_BYTES). */
export const DEFAULT_OUTPUT_LIMITS = {
  /** Files listed, at most. */
  maxFiles: 100,
  /** Bytes of one file with content. */
  maxFileBytes: 10 * 1024 * 1024,
  /** Bytes of content of all files. */
  maxTotalBytes: 20 * 1024 * 1024,
} as const;
const MAX_ARGS = 1024;
/** Linux refuses to exec with one argument or `NAME=value` string longer than this (MAX_ARG_STRLEN: 32 pages, NUL included). */
export const MAX_ARG_BYTES = 128 * 1024 - 1;
/**
 * `args` and `env` together, bytes: an exec gets 2 MiB of strings (a quarter of the 8 MiB stack)
 * and the sandbox's own command line and base environment share it. Above it a request is a 400,
 * never an exec that fails.
 */
export const MAX_ARGV_ENV_BYTES = 1024 * 1024;

/** Why a relative file path is unacceptable, or null when it is fine. */
export function pathProblem(p: string): string | null {
  if (p.length === 0) return 'path is empty';
  if (p.length > MAX_PATH_LENGTH) return `path is longer than ${MAX_PATH_LENGTH} characters`;
  if (p.includes('\0')) return 'path contains NUL';
  if (p.includes('\\')) return 'path contains a backslash';
  if (p.startsWith('/')) return 'path is absolute';
  const segments = p.split('/');
  if (segments.some((s) => s === '')) return 'path has an empty segment';
  if (segments.some((s) => s === '..')) return "path contains '..'";
  if (segments.some((s) => s === '.')) return "path contains a '.' segment";
  if (segments.some((s) => Buffer.byteLength(s) > 255)) return 'a path segment is longer than 255 bytes';
  return null;
}

/** Why an `outputs` glob pattern is unacceptable, or null when it is fine: it must name paths beneath the work directory. */
export function outputPatternProblem(p: string): string | null {
  if (p.length === 0) return 'pattern is empty';
  if (p.length > MAX_OUTPUT_PATTERN_LENGTH) return `pattern is longer than ${MAX_OUTPUT_PATTERN_LENGTH} characters`;
  if (p.includes('\0')) return 'pattern contains NUL';
  if (p.includes('\\')) return 'pattern contains a backslash (use [*] or [?] for a literal * or ?)';
  if (p.startsWith('/')) return 'pattern is absolute; patterns are relative to the work directory';
  const segments = p.split('/');
  if (segments.some((s) => s === '..')) return "pattern contains '..'";
  if (segments.some((s) => s === '.')) return "pattern contains a '.' segment (write it without './')";
  if (segments.some((s) => s === '')) return 'pattern has an empty segment';
  return null;
}

const OutputPattern = z
  .string()
  .superRefine((p, ctx) => {
    const problem = outputPatternProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: `${problem}: ${JSON.stringify(p.slice(0, 200))}` });
  })
  .meta({ examples: ['*.png', 'out/**'] });

const RelativePath = z.string().superRefine((p, ctx) => {
  const problem = pathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: `${problem}: ${JSON.stringify(p.slice(0, 200))}` });
});

const RuntimeName = z
  .string()
  .transform((name, ctx) => {
    const id = RUNTIME_NAMES.get(name.toLowerCase());
    if (!id) {
      ctx.addIssue({
        code: 'custom',
        message: `unknown runtime ${JSON.stringify(name.slice(0, 100))}; expected one of ${[...RUNTIME_NAMES.keys()].join(', ')}`,
      });
      return z.NEVER;
    }
    return id;
  })
  .meta({
    description: `Runtime id; aliases accepted: ${RUNTIMES.flatMap((r) => r.aliases).join(', ')}`,
    examples: ['python'],
  })
  .pipe(z.enum(RUNTIME_IDS));

const ArgString = z
  .string()
  .refine((v) => !v.includes('\0'), { message: 'arguments cannot contain NUL' })
  .refine((v) => Buffer.byteLength(v) <= MAX_ARG_BYTES, { message: `an argument is at most ${MAX_ARG_BYTES} bytes` });
const Args = z.array(ArgString).max(MAX_ARGS);
const Files = z.record(RelativePath, z.string()).meta({ description: 'Relative paths (subfolders allowed) to UTF-8 contents' });
const Entrypoint = RelativePath.meta({ description: 'Entry file: a key of files, or the name code is written to' });

const argvBytes = (args: readonly string[], env: Record<string, string>) =>
  args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0) + Object.entries(env).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v) + 2, 0);

/** A program's files (code and/or files, entrypoint): the issues of an unusable set, under `at`. */
function checkProgram(
  req: { runtime: RuntimeId; code?: string | undefined; files?: Record<string, string> | undefined; entrypoint?: string | undefined },
  limits: Limits,
  ctx: z.RefinementCtx,
  at: (string | number)[] = [],
): void {
  const files = req.files ?? {};
  const names = Object.keys(files);
  if (req.code === undefined && req.files === undefined) {
    ctx.addIssue({ code: 'custom', path: [...at, 'code'], message: 'provide code, files, or both' });
    return;
  }
  if (names.length > limits.maxFiles) {
    ctx.addIssue({ code: 'custom', path: [...at, 'files'], message: `at most ${limits.maxFiles} files are accepted (got ${names.length})` });
    return;
  }
  const set = new Set(names);
  for (const name of names) {
    const segments = name.split('/');
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join('/');
      if (set.has(dir)) {
        ctx.addIssue({ code: 'custom', path: [...at, 'files', name], message: `${JSON.stringify(dir)} is both a file and a folder` });
      }
    }
  }
  const resolved = resolveEntrypoint(req.runtime, req.code !== undefined, names, req.entrypoint);
  if ('error' in resolved) ctx.addIssue({ code: 'custom', path: [...at, resolved.path], message: resolved.error });
}

/** How a test's output is judged (API.md "Test cases"). */
export const CompareSchema = z
  .union([
    z.enum(['exact', 'lines', 'tokens']),
    z.discriminatedUnion('mode', [
      z
        .object({
          mode: z.literal('float'),
          absTol: z.number().min(0).max(1e300).optional().meta({ description: 'Absolute tolerance (default 1e-6)' }),
          relTol: z.number().min(0).max(1e300).optional().meta({ description: 'Relative tolerance (default 1e-6)' }),
        })
        .strict(),
      z
        .object({
          mode: z.literal('checker'),
          runtime: RuntimeName,
          code: z.string().optional(),
          files: Files.optional(),
          entrypoint: Entrypoint.optional(),
        })
        .strict()
        .meta({ description: 'A checker program: gets input, expected and output as files and arguments; exit 0 accepts, 1 rejects' }),
    ]),
  ])
  .meta({ id: 'Compare', description: "How outputs are compared; default 'lines'" });
export type Compare = z.output<typeof CompareSchema>;

/** Builds the ExecuteRequest schema for the given limits (the server's maxima are configurable). */
export function executeRequestSchema(limits: Limits = DEFAULT_LIMITS) {
  const Stdin = z.string().refine((s) => Buffer.byteLength(s) <= limits.maxStdinBytes, {
    message: `stdin is larger than ${limits.maxStdinBytes} bytes`,
  });
  const Timeout = z
    .number()
    .int()
    .min(1)
    .max(limits.maxTimeoutMs, { message: `timeout must be at most ${limits.maxTimeoutMs} ms (the server maximum)` });
  const TestCase = z
    .object({
      name: z.string().min(1).max(MAX_TEST_NAME).optional().meta({ description: 'Shown in the result; default "test N"' }),
      stdin: Stdin.optional().meta({ description: "Default: the request's stdin" }),
      args: Args.optional().meta({ description: "Default: the request's args" }),
      expectedOutput: z
        .string()
        .refine((s) => Buffer.byteLength(s) <= MAX_EXPECTED_OUTPUT_BYTES, { message: `expectedOutput is larger than ${MAX_EXPECTED_OUTPUT_BYTES} bytes` })
        .optional()
        .meta({ description: 'Compared with stdout by `compare`; without it (and no checker) a test passes when its status is ok' }),
      timeout: Timeout.optional().meta({ description: "Default: the request's timeout" }),
    })
    .strict()
    .meta({ id: 'TestCase' });
  return z
    .object({
      runtime: RuntimeName,
      code: z.string().optional().meta({ description: 'Source of the entry file' }),
      files: Files.optional(),
      entrypoint: Entrypoint.optional(),
      stdin: Stdin.default(''),
      timeout: Timeout.default(limits.defaultTimeoutMs).meta({ description: 'Run-phase timeout in ms' }),
      env: z
        .record(
          z.string().regex(ENV_NAME, { message: 'environment variable names must match ^[A-Za-z_][A-Za-z0-9_]*$' }),
          z
            .string()
            .refine((v) => !v.includes('\0'), { message: 'environment values cannot contain NUL' })
            .refine((v) => Buffer.byteLength(v) <= MAX_ARG_BYTES, { message: `an environment value is at most ${MAX_ARG_BYTES} bytes` }),
        )
        .default({}),
      args: Args.default([]),
      memoryLimitMb: z
        .number()
        .int()
        .min(1)
        .max(limits.maxMemoryMb, { message: `memoryLimitMb must be at most ${limits.maxMemoryMb} (the server maximum)` })
        .optional()
        .meta({ description: 'Lowers the run phase memory cap, MiB' }),
      tests: z
        .array(TestCase)
        .min(1)
        .max(MAX_TESTS, { message: `at most ${MAX_TESTS} tests are accepted` })
        .optional()
        .meta({ description: 'Test cases: the program is compiled once and each test runs in a fresh sandbox; top-level stdin, args and timeout are their defaults' }),
      compare: CompareSchema.optional(),
      stopOnFailure: z.boolean().optional().meta({ description: 'Tests not started after the first failure are skipped' }),
      outputs: z
        .array(OutputPattern)
        .max(MAX_OUTPUT_PATTERNS, { message: `at most ${MAX_OUTPUT_PATTERNS} outputs patterns are accepted` })
        .optional()
        .meta({
          description:
            'Glob patterns, relative to the work directory, of files to return after the run: * and ? stay within a folder, ** crosses folders, [abc] is a character class; dotfiles only when the pattern names the leading dot. Only regular files; links are never followed',
        }),
    })
    .strict()
    .superRefine((req, ctx) => {
      for (const [i, args] of [req.args, ...(req.tests ?? []).map((t) => t.args ?? req.args)].entries()) {
        const bytes = argvBytes(args, req.env);
        if (bytes > MAX_ARGV_ENV_BYTES) {
          ctx.addIssue({
            code: 'custom',
            path: i === 0 ? ['args'] : ['tests', i - 1, 'args'],
            message: `args and env together are ${bytes} bytes; at most ${MAX_ARGV_ENV_BYTES} are accepted`,
          });
          break;
        }
      }
      if (!req.tests) {
        if (req.compare !== undefined) ctx.addIssue({ code: 'custom', path: ['compare'], message: 'compare applies to tests; send tests too' });
        if (req.stopOnFailure !== undefined) ctx.addIssue({ code: 'custom', path: ['stopOnFailure'], message: 'stopOnFailure applies to tests; send tests too' });
      }
      if (req.outputs !== undefined && req.tests) ctx.addIssue({ code: 'custom', path: ['outputs'], message: 'outputs applies to a single run; send it without tests' });
      if (typeof req.compare === 'object' && req.compare.mode === 'checker') checkProgram(req.compare, limits, ctx, ['compare']);
      checkProgram(req, limits, ctx);
    });
}

/** Picks the entry file (API.md rules), or explains why it cannot. */
export function resolveEntrypoint(
  runtime: RuntimeId,
  hasCode: boolean,
  files: readonly string[],
  entrypoint: string | undefined,
): { entry: string } | { error: string; path: string } {
  const rt = runtimeFacts(runtime);
  if (hasCode) {
    const entry = entrypoint ?? rt.entrypoint;
    if (files.includes(entry)) {
      return { path: 'files', error: `files also contains ${JSON.stringify(entry)}, the file code is written to; drop one or set entrypoint` };
    }
    return { entry };
  }
  if (entrypoint !== undefined) {
    return files.includes(entrypoint)
      ? { entry: entrypoint }
      : { path: 'entrypoint', error: `entrypoint ${JSON.stringify(entrypoint)} is not a key of files` };
  }
  for (const name of [rt.entrypoint, ...(rt.altEntrypoints ?? [])]) {
    if (files.includes(name)) return { entry: name };
  }
  if (files.length === 1) return { entry: files[0]! };
  if (files.length === 0) return { path: 'files', error: 'files is empty; provide code or at least one file' };
  return { path: 'entrypoint', error: `several files and no ${rt.entrypoint}: set entrypoint to the file to run` };
}

export const ExecuteRequestSchema = executeRequestSchema();
/** What clients send (aliases, optional fields). */
export type ExecuteRequest = z.input<typeof ExecuteRequestSchema>;
/** A validated request: canonical runtime, defaults applied. */
export type ValidExecuteRequest = z.output<typeof ExecuteRequestSchema>;

/** Why a phase ended: the first cause that ended it (timeout, OOM kill, output cap), else its wait status. */
export const PhaseStatusSchema = z
  .enum(['ok', 'runtime_error', 'timeout', 'memory_limit', 'output_limit'])
  .meta({ description: 'Why the phase ended: timeout, OOM kill or output cap first; else runtime_error for a non-zero exit or a signal; else ok' });

const PhaseResultShape = {
  stdout: z.string(),
  stderr: z.string(),
  exitCode: z.number().int(),
  executionTime: z.number().int().meta({ description: 'Wall time in ms' }),
  timedOut: z.boolean(),
  cpuTime: z.number().int().meta({ description: 'User + system CPU of the whole process tree, ms' }),
  memoryPeak: z.number().int().meta({ description: 'Peak memory, bytes (the cgroup peak, page cache included; else the largest process max RSS)' }),
};

export const CompileResultSchema = z
  .object({
    ...PhaseResultShape,
    status: PhaseStatusSchema,
    cached: z.boolean().optional().meta({ description: 'true when an identical earlier build was reused (cpuTime 0)' }),
  })
  .meta({ id: 'CompileResult' });
export type CompileResult = z.infer<typeof CompileResultSchema>;

const RunStatusSchema = z
  .enum([...PhaseStatusSchema.options, 'compile_error'])
  .meta({ description: 'Why it ended; compile_error when the compile failed or timed out (compile.status says which)' });

export const VERDICTS = [
  'passed',
  'wrong_answer',
  'timeout',
  'memory_limit',
  'output_limit',
  'runtime_error',
  'checker_error',
  'internal_error',
  'skipped',
] as const;
export type Verdict = (typeof VERDICTS)[number];

export const TestResultSchema = z
  .object({
    name: z.string(),
    verdict: z.enum(VERDICTS),
    message: z.string().optional().meta({ description: "The checker's stdout (≤ 1 KiB), or why the test was skipped or failed on our side" }),
    ...PhaseResultShape,
    signal: z.string().nullable(),
    status: RunStatusSchema,
    truncated: z.boolean(),
    diff: z
      .object({ line: z.number().int(), expected: z.string(), actual: z.string() })
      .optional()
      .meta({ description: 'First differing line (1-based), each side ≤ 200 characters' }),
  })
  .meta({ id: 'TestResult' });
export type TestResult = z.infer<typeof TestResultSchema>;

export const SuiteSummarySchema = z
  .object({
    passed: z.number().int(),
    total: z.number().int(),
    maxExecutionTime: z.number().int(),
    maxMemoryPeak: z.number().int(),
  })
  .meta({ id: 'SuiteSummary' });
export type SuiteSummary = z.infer<typeof SuiteSummarySchema>;

/** A file the program left in its work directory, returned for the request's `outputs` (API.md "Files out"). */
export const OutputFileSchema = z
  .object({
    path: z.string().meta({ description: 'Relative to the work directory' }),
    size: z.number().int().meta({ description: "The file's real size, bytes" }),
    encoding: z.enum(['utf8', 'base64']).meta({ description: 'utf8 when the bytes are valid UTF-8 without NUL, else base64' }),
    content: z.string().optional().meta({ description: 'The bytes, in `encoding`; absent when the file was not read (truncated)' }),
    truncated: z.boolean().optional().meta({ description: 'true when the file is over the per-file bound, or the total bound was reached before it: no content' }),
  })
  .meta({ id: 'OutputFile' });
export type OutputFile = z.infer<typeof OutputFileSchema>;

export const ExecuteResultSchema = z
  .object({
    ...PhaseResultShape,
    status: RunStatusSchema,
    signal: z.string().nullable().meta({ description: 'Signal that ended the program, e.g. SIGKILL' }),
    truncated: z.boolean().meta({ description: 'stdout or stderr hit the output cap' }),
    compile: CompileResultSchema.optional(),
    runtime: z.enum(RUNTIME_IDS),
    version: z.string(),
    tests: z.array(TestResultSchema).optional().meta({ description: 'With `tests`: each test in request order' }),
    summary: SuiteSummarySchema.optional(),
    files: z
      .array(OutputFileSchema)
      .optional()
      .meta({ description: 'With `outputs`, after a run: the matching regular files in path order' }),
    filesTruncated: z.boolean().optional().meta({ description: 'With `outputs`: the count or total bound was hit (files or content left out)' }),
  })
  .meta({ id: 'ExecuteResult' });
export type ExecuteResult = z.infer<typeof ExecuteResultSchema>;

export const ExecutionStatusSchema = z.enum(['queued', 'running', 'completed', 'failed']);
export type ExecutionStatus = z.infer<typeof ExecutionStatusSchema>;

export const ExecutionSchema = z
  .object({
    id: z.string(),
    status: ExecutionStatusSchema,
    result: ExecuteResultSchema.optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'Execution' });
export type Execution = z.infer<typeof ExecutionSchema>;

export const RuntimeInfoSchema = z
  .object({
    runtime: z.enum(RUNTIME_IDS),
    version: z.string().nullable(),
    aliases: z.array(z.string()),
    compiled: z.boolean(),
    entrypoint: z.string(),
    available: z.boolean(),
  })
  .meta({ id: 'RuntimeInfo' });
export type RuntimeInfo = z.infer<typeof RuntimeInfoSchema>;

export const RuntimesResponseSchema = z.object({ runtimes: z.array(RuntimeInfoSchema) });
export type RuntimesResponse = z.infer<typeof RuntimesResponseSchema>;

export const ERROR_CODES = [
  'invalid_request',
  'unauthorized',
  'not_found',
  'payload_too_large',
  'rate_limited',
  'runtime_unavailable',
  'capacity',
  'idempotency_mismatch',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** What GET /v1/runtimes says of every runtime before its toolchain is probed (functions/runtimes.ts). */
export const RUNTIME_FACTS = RUNTIMES.map((r) => ({
  runtime: r.id,
  aliases: [...r.aliases],
  compiled: r.compiled,
  entrypoint: r.entrypoint,
}));
