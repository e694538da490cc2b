import { execFile } from 'node:child_process';
import { mkdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CHECKER_TIMEOUT_MS,
  RUNTIME_FACTS,
  RuntimeUnavailableError,
  resolveEntrypoint,
  type CompileResult,
  type ExecuteResult,
  type RuntimeInfo,
  type ValidExecuteRequest,
} from '../contract.js';
import { runSuite, type TestRun } from './grading/suite.js';
import type { SuiteProgram } from '../suite-result.js';
import { CompileCache, MAX_TREE_ENTRIES } from './compile-cache.js';
import { CapacityError, ExecutionInterruptedError, isNoSpace, SandboxFault } from '../errors.js';
import { checkBeneath, checkTreeBeneath, copyOutOf, copyTreeOutOf, relativeBeneath, UnsafeFileError } from './hostile-fs.js';
import { collectOutputs, type OutputBounds } from './outputs.js';
import { defaultCompileCacheDir, defaultWorkRoot } from './paths.js';
import { findToolchain, getRuntime, RUNTIMES, type RuntimeId } from './runtimes/index.js';
import type { Command, CommandContext, RuntimeDefinition, Toolchain } from './runtimes/types.js';
import { baseEnv, type OutputListener, type ResourceLimits, type Sandbox, type SandboxSpawn, type SandboxView, type StartedInterpreter } from './sandbox/types.js';
import type { ProcessOutcome } from './supervise.js';
import { createWorkspace, removeWorkspace, setWorkspaceQuota, writeFiles, type Workspace, type WorkspaceQuota } from './workspace.js';
import { SuiteLanes } from './grading/lanes.js';

export { RuntimeUnavailableError };

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;

export interface RunnerOptions {
  sandbox: Sandbox;
  /** Parent of the per-execution directories. */
  workRoot?: string;
  /** Cap of stdout and of stderr, bytes. @default 1 MiB */
  outputLimitBytes?: number;
  /** Server-side limit of the compile phase, ms. @default 60000 */
  compileTimeoutMs?: number;
  /** Limits of the run phase. */
  limits?: Partial<ResourceLimits>;
  /** Limits of the compile phase (compilers need more memory than most programs). */
  compileLimits?: Partial<ResourceLimits>;
  /** What one execution may write: each workspace a tmpfs of this size of its own (where mounting is allowed). @default none */
  workspaceQuota?: WorkspaceQuota | null;
  /** Free bytes the work root must keep beyond a request's files for the request to start. @default 32 MiB */
  minFreeBytes?: number;
  /** Bytes of successful builds kept for identical programs; 0 turns the cache off. @default 256 MiB (bwrap), 0 (process) */
  compileCacheBytes?: number;
  /** Where the build cache lives. @default /dev/shm/runtools-builds */
  compileCacheDir?: string;
  /** How much of the work directory a request's `outputs` bring back (outputs.ts has the defaults). */
  outputBounds?: Partial<OutputBounds>;
}

export const DEFAULT_RUN_LIMITS: ResourceLimits = {
  memoryBytes: 512 * MiB,
  pids: 64,
  fileSizeBytes: 128 * MiB,
  openFiles: 1024,
  tmpBytes: 256 * MiB,
};

export const DEFAULT_COMPILE_LIMITS: ResourceLimits = {
  ...DEFAULT_RUN_LIMITS,
  memoryBytes: 2048 * MiB,
  pids: 512,
  fileSizeBytes: 512 * MiB,
};

/** A full work root is no room to run (503 capacity), not a failure of ours. */
function fullAsCapacity(err: unknown): never {
  throw isNoSpace(err) ? new CapacityError('the work root is full') : err;
}

/** How a request runs beside others: its share of the server, for test suites. */
export interface ExecuteOptions {
  signal?: AbortSignal;
  /** Tests of a suite run at once, at most. @default 1 */
  parallel?: number;
  /**
   * Takes one more of the server's execution slots for a suite's test when one is free right now
   * (never from a waiting request), or null; the function returned gives it back. Without it a
   * suite runs up to `parallel` tests at once.
   */
  extraSlot?: () => (() => void) | null;
  /** Live output of the run phase (not of a suite's tests), as it arrives, within the caps. */
  onOutput?: OutputListener;
  /** Called with the compile's result as soon as the compile phase ends (compiled runtimes). */
  onCompile?: (compile: CompileResult) => void;
  /** Internal (a suite judged elsewhere): each test's stdout and stderr kept up to this many bytes. @default SUITE_OUTPUT_BYTES */
  testOutputBytes?: number;
  /** Internal (checker runs sent as a suite): files beside the program for each test, in test order, their names its arguments' business. */
  testFiles?: ReadonlyArray<Record<string, string>>;
}

/** A program with its build made once, for the tests of a suite: each run gets a fresh workspace with the build copied in. */
interface Prepared {
  rt: RuntimeDefinition;
  found: Located;
  files: Record<string, string>;
  entry: string;
  compile?: CompileResult;
  /** The build failed: how. */
  failed?: { signal: string | null; truncated: boolean };
  /** Where the build is: the compile's workspace, kept until dispose(), and the binary in its out dir. */
  build?: { ws: Workspace; binary: string; directory: boolean };
  dispose(): void;
}

/** The toolchain a runtime resolved to on this host. */
interface Located {
  tool: Toolchain;
  version: string;
}

/** Result of one phase in the API's shape. */
function phaseResult(o: ProcessOutcome): CompileResult {
  return {
    stdout: o.stdout,
    stderr: o.stderr,
    exitCode: o.exitCode,
    executionTime: o.durationMs,
    timedOut: o.timedOut,
    status: o.status,
    cpuTime: o.cpuTimeMs,
    memoryPeak: o.memoryPeakBytes,
  };
}

/** How a compile ended: failed, or the binary (its sandbox path, and where it is in the out dir). */
type CompileOutcome = { compile: CompileResult; signal: string | null; truncated: boolean } & (
  | { failed: true; binary: undefined }
  | { failed: false; binary: string; built: { binary: string; directory: boolean } }
);

/** What a runtime's commands are built from, for one phase in one workspace (`view`: the paths as the sandbox shows them). */
function commandContext(
  view: Pick<CommandContext, 'workDir' | 'outDir' | 'tmpDir' | 'tool'>,
  entry: string,
  files: Record<string, string>,
  args: string[],
  memoryBytes: number,
): CommandContext {
  const { workDir, outDir, tmpDir, tool } = view;
  return { workDir, outDir, tmpDir, entry, files: Object.keys(files), args, tool, sources: files, memoryBytes };
}

/**
 * The runtime whose interpreter started ahead can serve this run, or undefined: it stands for the
 * default entry run with no args, and only when the environment does not change how it starts.
 */
function aheadFor(rt: RuntimeDefinition, entry: string, args: readonly string[], env: Record<string, string>): RuntimeId | undefined {
  return rt.startAhead && entry === rt.entrypoint && args.length === 0 && rt.startAhead.accepts(env) ? rt.id : undefined;
}

function searchPath(tool: Toolchain): string {
  return [...new Set([path.posix.dirname(tool.bin), '/usr/local/bin', '/usr/bin', '/bin'])].join(':');
}

/**
 * The engine: writes the request's files into a fresh directory, compiles when the runtime
 * needs it, runs the entry with timeout, stdin, env and output caps in the sandbox, and
 * always removes the directory.
 */
export class Runner {
  readonly sandbox: Sandbox;
  private readonly workRoot: string;
  private readonly outputLimitBytes: number;
  private readonly compileTimeoutMs: number;
  private readonly runLimits: ResourceLimits;
  private readonly compileLimits: ResourceLimits;
  private readonly located = new Map<RuntimeId, Promise<Located | null>>();
  private readonly cache: CompileCache | null;
  private readonly minFreeBytes: number;
  private readonly outputBounds: Partial<OutputBounds>;
  private readonly workspaceQuota: WorkspaceQuota | null;
  /** Workspaces of finished executions still being removed. */
  private readonly cleanups = new Set<Promise<void>>();

  constructor(options: RunnerOptions) {
    this.sandbox = options.sandbox;
    this.workRoot = options.workRoot ?? defaultWorkRoot();
    this.outputLimitBytes = options.outputLimitBytes ?? MiB;
    this.compileTimeoutMs = options.compileTimeoutMs ?? 60_000;
    this.minFreeBytes = options.minFreeBytes ?? 32 * MiB;
    this.outputBounds = options.outputBounds ?? {};
    this.workspaceQuota = options.workspaceQuota ?? null;
    setWorkspaceQuota(this.workRoot, this.workspaceQuota, this.sandbox.mounter);
    this.runLimits = { ...DEFAULT_RUN_LIMITS, ...options.limits };
    this.compileLimits = { ...DEFAULT_COMPILE_LIMITS, ...options.compileLimits };
    // Without namespaces a program could reach the cache directory itself, so process mode does not share builds.
    const cacheBytes = options.compileCacheBytes ?? (this.sandbox.kind === 'bwrap' ? 256 * MiB : 0);
    this.cache = cacheBytes > 0 ? new CompileCache(options.compileCacheDir ?? defaultCompileCacheDir(), cacheBytes) : null;
  }

  /** The installed toolchain and its real version, probed once. */
  locate(id: RuntimeId): Promise<Located | null> {
    let found = this.located.get(id);
    if (!found) {
      found = probe(getRuntime(id));
      this.located.set(id, found);
    }
    return found;
  }

  /**
   * Keeps `size` sandboxes prepared ahead of requests (bwrap), exposing every installed toolchain.
   * Each is used for exactly one execution, then destroyed; the pool refills in the background.
   */
  async keepPrepared(size: number): Promise<void> {
    if (!this.sandbox.keepPrepared || size <= 0) return;
    const tools = [];
    const interpreters: StartedInterpreter[] = [];
    for (const rt of RUNTIMES) {
      const found = await this.locate(rt.id);
      if (!found) continue;
      tools.push({ runtime: rt.id, tool: found.tool });
      if (rt.startAhead && !rt.compile) {
        const view = this.sandbox.view({ work: '', out: '', tmp: '' }, found.tool, rt.id);
        const ctx: CommandContext = {
          workDir: view.workDir, outDir: view.outDir, tmpDir: view.tmpDir, entry: rt.entrypoint, files: [rt.entrypoint], args: [], tool: view.tool,
          sources: {}, memoryBytes: this.runLimits.memoryBytes,
        };
        const cmd = rt.run(ctx);
        if (cmd.cwd !== undefined) continue;
        interpreters.push({
          runtime: rt.id,
          argv: cmd.argv,
          env: { ...baseEnv(view, searchPath(view.tool)), ...cmd.env },
          hostDir: rt.startAhead.hostDir,
          hookEnv: rt.startAhead.env,
        });
      }
    }
    this.sandbox.keepPrepared({ size, workRoot: this.workRoot, tools, limits: this.runLimits, interpreters });
  }

  /** Stops prepared sandboxes (executions in flight finish on their own), once every finished execution is cleaned up. */
  async close(): Promise<void> {
    await this.idle();
    await this.sandbox.close?.();
  }

  /**
   * Resolves once the workspace of every finished execution is gone. A result returns as soon as
   * its processes are: removing its files (and refilling the pool) happens right after.
   */
  async idle(): Promise<void> {
    while (this.cleanups.size > 0) await Promise.all(this.cleanups);
  }

  private release(ws: Workspace): void {
    // After the current turn of the event loop: the result goes out to its caller first.
    const done: Promise<void> = new Promise((resolve) => setImmediate(resolve))
      .then(() => this.sandbox.release(ws))
      .catch(() => {
        /* removal retries live in removeWorkspace; a failure here must not fail a finished execution */
      })
      .finally(() => this.cleanups.delete(done));
    this.cleanups.add(done);
  }

  /**
   * Why the work root has no room for `request` (its files plus the reserve that lets a program
   * start and write a little), or null when it has. Each program can fill only its own share
   * beyond that: its writes are bounded (SECURITY.md, "Disk").
   */
  async capacity(request?: Pick<ValidExecuteRequest, 'code' | 'files' | 'stdin'>): Promise<string | null> {
    let fs;
    try {
      // One thread-pool call per request; the directory is made only the first time.
      fs = await statfs(this.workRoot).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
        await mkdir(this.workRoot, { recursive: true, mode: 0o700 });
        return statfs(this.workRoot);
      });
    } catch (err) {
      return isNoSpace(err) ? 'the work root is full' : `the work root cannot be used (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    const sources = request ? (request.code?.length ?? 0) + Object.values(request.files ?? {}).reduce((n, c) => n + c.length, 0) : 0;
    const free = fs.bavail * fs.bsize;
    const needed = this.minFreeBytes + sources * 3;
    if (free < needed) return `the work root has ${Math.floor(free / MiB)} MiB free, ${Math.ceil(needed / MiB)} MiB needed`;
    // Filesystems without inode accounting (files = 0) never run out of them.
    if (fs.files > 0 && fs.ffree < 1024) return `the work root has ${fs.ffree} inodes free`;
    return null;
  }

  /** Every runtime with its version and availability on this host. */
  async runtimes(): Promise<RuntimeInfo[]> {
    return Promise.all(
      RUNTIME_FACTS.map(async (facts) => {
        const found = await this.locate(facts.runtime);
        return { ...facts, version: found?.version ?? null, available: found !== null };
      }),
    );
  }

  /** Runs one validated request; a failing program is a normal result, not an exception. */
  async execute(req: ValidExecuteRequest, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (req.tests) return this.executeSuite(req, options);
    const { rt, found, files, entry } = await this.program(req);
    const started = performance.now();
    const ws = await this.sandbox.workspace(this.workRoot, aheadFor(rt, entry, req.args, req.env)).catch(fullAsCapacity);
    try {
      await writeFiles(ws.dirs.work, files).catch(fullAsCapacity);
      const view = this.sandbox.view(ws.dirs, found.tool, rt.id);
      const ctx = commandContext(view, entry, files, req.args, this.limitsFor(req).memoryBytes);
      let compile: CompileResult | undefined;
      let binary: string | undefined;
      if (rt.compile) {
        const outcome = await this.compile(rt, ws, { ...ctx, memoryBytes: this.compileLimits.memoryBytes }, found, options.signal);
        compile = outcome.compile;
        options.onCompile?.(compile);
        if (outcome.failed) {
          return {
            stdout: compile.stdout,
            stderr: compile.stderr,
            exitCode: compile.exitCode === 0 ? 1 : compile.exitCode,
            executionTime: Math.round(performance.now() - started),
            timedOut: false,
            signal: outcome.signal,
            truncated: outcome.truncated,
            status: 'compile_error',
            cpuTime: 0,
            memoryPeak: 0,
            compile,
            runtime: rt.id,
            version: found.version,
          };
        }
        binary = outcome.binary;
      }
      const cmd = rt.run({ ...ctx, binary });
      const outcome = await this.phase(rt, ws, found, ctx, cmd, req.env, {
        writableOut: false,
        stdin: req.stdin,
        timeoutMs: req.timeout,
        limits: this.limitsFor(req),
        signal: options.signal,
        onOutput: options.onOutput,
      });
      const result: ExecuteResult = {
        stdout: outcome.stdout,
        stderr: outcome.stderr,
        exitCode: outcome.exitCode,
        executionTime: Math.round(performance.now() - started),
        timedOut: outcome.timedOut,
        signal: outcome.signal,
        truncated: outcome.truncated,
        status: outcome.status,
        cpuTime: outcome.cpuTimeMs,
        memoryPeak: outcome.memoryPeakBytes,
        ...(compile ? { compile } : {}),
        runtime: rt.id,
        version: found.version,
      };
      // What the program left in its work directory, read before the workspace goes (API.md "Files out").
      if (req.outputs) Object.assign(result, await collectOutputs(ws.dirs.work, req.outputs, this.outputBounds));
      return result;
    } finally {
      this.release(ws);
    }
  }


  /** The request's runtime (installed, else RuntimeUnavailableError), its files with the entry and the runtime's scaffold. */
  private async program(req: Pick<ValidExecuteRequest, 'runtime' | 'code' | 'files' | 'entrypoint'>) {
    const rt = getRuntime(req.runtime);
    const found = await this.locate(rt.id);
    if (!found) throw new RuntimeUnavailableError(rt.id);
    const files: Record<string, string> = { ...req.files };
    const resolved = resolveEntrypoint(rt.id, req.code !== undefined, Object.keys(files), req.entrypoint);
    if ('error' in resolved) throw new Error(resolved.error);
    const entry = resolved.entry;
    if (req.code !== undefined) files[entry] = req.code;
    const names = Object.keys(files);
    for (const [name, content] of Object.entries(rt.scaffold?.({ entry, files: names, sources: files }) ?? {})) {
      // A request folder of the same name wins over a scaffold file (writing both would fail).
      if (!names.some((f) => f.startsWith(`${name}/`))) files[name] ??= content;
    }
    return { rt, found, files, entry };
  }

  /**
   * A request with `tests` (API.md "Test cases"): the program (and a checker) built once, each test
   * run with nothing of another (in a lane, else a fresh sandbox), judged, in request order.
   */
  private async executeSuite(req: ValidExecuteRequest, options: ExecuteOptions): Promise<ExecuteResult> {
    const started = performance.now();
    const program = await this.prepare(req, options.signal);
    let checker: Prepared | null = null;
    let lanes: Awaited<ReturnType<Runner['lanesFor']>> = null;
    let checkerLanes: Awaited<ReturnType<Runner['lanesFor']>> = null;
    try {
      const compare = req.compare ?? 'lines';
      if (typeof compare === 'object' && compare.mode === 'checker' && !program.failed) {
        checker = await this.prepare(compare, options.signal);
      }
      const suiteProgram: SuiteProgram = {
        runtime: program.rt.id,
        version: program.found.version,
        ...(program.compile ? { compile: program.compile } : {}),
        ...(program.failed ? { failed: program.failed } : {}),
      };
      const limits = this.limitsFor(req);
      const testFiles = options.testFiles;
      const fresh = (test: TestRun) => this.runPrepared(program, { ...test, env: req.env, limits, extraFiles: testFiles?.[test.index] }, options.signal);
      lanes = program.failed ? null : await this.lanesFor(program, req.env, limits);
      const checkerRun = (files: Record<string, string>) => ({ stdin: '', args: Object.keys(files), timeout: CHECKER_TIMEOUT_MS, files });
      const freshCheck = (files: Record<string, string>) =>
        this.runPrepared(checker!, { ...checkerRun(files), env: {}, limits: this.runLimits, extraFiles: files }, options.signal);
      checkerLanes = checker && !checker.failed ? await this.lanesFor(checker, {}, this.runLimits) : null;
      return await runSuite(req, suiteProgram, {
        started,
        parallel: Math.max(1, options.parallel ?? 1),
        outputBytes: options.testOutputBytes,
        extraSlot: options.extraSlot,
        signal: options.signal,
        run: (test: TestRun) =>
          lanes ? lanes.run({ ...test, files: testFiles?.[test.index] }, () => fresh(test), options.signal) : fresh(test),
        ...(checker
          ? {
              checker: {
                failed: checker.failed ? `the checker did not compile:\n${(checker.compile?.stderr || checker.compile?.stdout || '').slice(0, 2000)}` : null,
                run: (files: Record<string, string>) =>
                  checkerLanes ? checkerLanes.run(checkerRun(files), () => freshCheck(files), options.signal) : freshCheck(files),
              },
            }
          : {}),
      });
    } finally {
      await Promise.all([lanes?.close(), checkerLanes?.close()]);
      program.dispose();
      checker?.dispose();
    }
  }

  /**
   * A suite's tests in lanes, where the sandbox has them (bwrap): the files and the build staged
   * once in a template workspace each test gets a fresh copy of, tests one after another in each
   * lane, nothing of one left for the next (launch.c -L). Else null: a fresh sandbox per test.
   */
  private async lanesFor(program: Prepared, env: Record<string, string>, limits: ResourceLimits) {
    if (!this.sandbox.lane) return null;
    const { rt, found, entry, files } = program;
    const ws = await createWorkspace(this.workRoot).catch(fullAsCapacity);
    try {
      await writeFiles(ws.dirs.work, files).catch(fullAsCapacity);
      const view = this.sandbox.view(ws.dirs, found.tool, rt.id);
      const binary = await this.stageBuild(program, ws, view);
      const quota = this.workspaceQuota;
      const lanes = new SuiteLanes(
        () =>
          this.sandbox.lane!({
            runtime: rt.id,
            tool: found.tool,
            dirs: ws.dirs,
            limits,
            workBytes: quota?.bytes ?? limits.tmpBytes,
            workInodes: quota?.inodes ?? 65_536,
            outputLimitBytes: this.outputLimitBytes,
          }),
      );
      return {
        /** One run in a lane (`files`: its own, over the staged ones); `fresh` runs it where no lane can start. */
        run: (run: { stdin: string; args: string[]; timeout: number; files?: Record<string, string> }, fresh: () => Promise<ProcessOutcome>, signal?: AbortSignal) => {
          const ctx = commandContext(view, entry, { ...files, ...run.files }, run.args, limits.memoryBytes);
          const cmd = rt.run({ ...ctx, binary });
          const runEnv = { ...baseEnv(ctx, searchPath(ctx.tool)), ...cmd.env, ...env };
          return lanes.run({ argv: cmd.argv, env: runEnv, cwd: cmd.cwd, stdin: run.stdin, files: run.files, timeoutMs: run.timeout, signal }, fresh);
        },
        close: async () => {
          await lanes.close();
          await removeWorkspace(ws);
        },
      };
    } catch (err) {
      await removeWorkspace(ws);
      throw err;
    }
  }

  /** Copies a prepared program's build into `ws`'s out dir (without following links, bounded); its path in the sandbox. */
  private async stageBuild(program: Prepared, ws: Workspace, view: SandboxView): Promise<string | undefined> {
    if (!program.build) return undefined;
    // The compile's out dir was the build's to write: copied without following links, bounded.
    const { ws: from, binary: rel, directory } = program.build;
    const dest = path.join(ws.dirs.out, rel);
    await mkdir(path.dirname(dest), { recursive: true });
    if (directory) await copyTreeOutOf(from.dirs.out, rel, dest, { maxEntries: MAX_TREE_ENTRIES, maxBytes: this.compileLimits.fileSizeBytes });
    else await copyOutOf(from.dirs.out, rel, dest, this.compileLimits.fileSizeBytes);
    return path.posix.join(view.outDir, rel);
  }

  /**
   * Makes a program ready for several runs: its files and entry, and for a compiled runtime its
   * build, compiled once in a workspace kept until dispose() (nothing runs there after the compile).
   */
  private async prepare(req: Pick<ValidExecuteRequest, 'runtime' | 'code' | 'files' | 'entrypoint'>, signal?: AbortSignal): Promise<Prepared> {
    const base = await this.program(req);
    const { rt, found, files, entry } = base;
    if (!rt.compile) return { ...base, dispose: () => {} };
    const ws = await this.sandbox.workspace(this.workRoot).catch(fullAsCapacity);
    let kept = false;
    try {
      await writeFiles(ws.dirs.work, files).catch(fullAsCapacity);
      const view = this.sandbox.view(ws.dirs, found.tool, rt.id);
      const outcome = await this.compile(rt, ws, commandContext(view, entry, files, [], this.compileLimits.memoryBytes), found, signal);
      if (outcome.failed) return { ...base, compile: outcome.compile, failed: { signal: outcome.signal, truncated: outcome.truncated }, dispose: () => {} };
      kept = true;
      return { ...base, compile: outcome.compile, build: { ws, ...outcome.built }, dispose: () => this.release(ws) };
    } finally {
      if (!kept) this.release(ws);
    }
  }

  /** One run of a prepared program in a fresh workspace: its files, its build copied in, `extraFiles` beside them. */
  private async runPrepared(
    program: Prepared,
    run: { stdin: string; args: string[]; timeout: number; env: Record<string, string>; limits: ResourceLimits; extraFiles?: Record<string, string> },
    signal?: AbortSignal,
  ): Promise<ProcessOutcome> {
    const { rt, found, entry } = program;
    const files = { ...program.files, ...run.extraFiles };
    const ahead = rt.compile || run.extraFiles ? undefined : aheadFor(rt, entry, run.args, run.env);
    const ws = await this.sandbox.workspace(this.workRoot, ahead).catch(fullAsCapacity);
    try {
      await writeFiles(ws.dirs.work, files).catch(fullAsCapacity);
      const view = this.sandbox.view(ws.dirs, found.tool, rt.id);
      const binary = await this.stageBuild(program, ws, view);
      const ctx = commandContext(view, entry, files, run.args, run.limits.memoryBytes);
      const cmd = rt.run({ ...ctx, binary });
      return await this.phase(rt, ws, found, ctx, cmd, run.env, {
        writableOut: false,
        stdin: run.stdin,
        timeoutMs: run.timeout,
        limits: run.limits,
        signal,
      });
    } finally {
      this.release(ws);
    }
  }

  /**
   * Runs one phase (compile or run) of an execution: its command in the sandbox, over the base
   * environment, then `env`, with the host paths the phase reads (`ctx.readOnlyPaths`) bound.
   */
  private phase(
    rt: RuntimeDefinition,
    ws: Workspace,
    found: Located,
    ctx: CommandContext,
    cmd: Command,
    env: Record<string, string>,
    phase: Pick<SandboxSpawn, 'overlays' | 'writableOut' | 'stdin' | 'timeoutMs' | 'limits' | 'signal' | 'onOutput'>,
  ): Promise<ProcessOutcome> {
    const spec: SandboxSpawn = {
      id: ws.id,
      runtime: rt.id,
      dirs: ws.dirs,
      tool: found.tool,
      argv: cmd.argv,
      env: { ...baseEnv(ctx, searchPath(ctx.tool)), ...cmd.env, ...env },
      cwd: cmd.cwd,
      readOnlyPaths: ctx.readOnlyPaths ?? [],
      outputLimitBytes: this.outputLimitBytes,
      ...phase,
    };
    return this.runOnce(spec);
  }

  /**
   * Runs a phase; a sandbox that failed before its program started is built once more (that cannot
   * run the program twice). An execution the server stopped (its signal) is an interruption, not a result.
   */
  private async runOnce(spec: SandboxSpawn): Promise<ProcessOutcome> {
    let outcome: ProcessOutcome;
    try {
      outcome = await this.sandbox.run(spec);
    } catch (err) {
      if (!(err instanceof SandboxFault && err.beforeStart) || spec.signal?.aborted) throw err;
      outcome = await this.sandbox.run(spec);
    }
    if (spec.signal?.aborted) throw spec.signal.reason instanceof Error ? spec.signal.reason : new ExecutionInterruptedError();
    return outcome;
  }

  /** The run phase's limits: the server's, with memory lowered to the request's memoryLimitMb. */
  private limitsFor(req: ValidExecuteRequest): ResourceLimits {
    if (req.memoryLimitMb === undefined) return this.runLimits;
    return { ...this.runLimits, memoryBytes: Math.min(this.runLimits.memoryBytes, req.memoryLimitMb * MiB) };
  }

  private async compile(
    rt: RuntimeDefinition,
    ws: Workspace,
    ctx: CommandContext,
    found: Located,
    signal?: AbortSignal,
  ): Promise<CompileOutcome> {
    const started = performance.now();
    ctx = { ...ctx, readOnlyPaths: rt.compileReadOnlyPaths?.(found.tool) ?? [] };
    // Files the toolchain cannot take as files: the compile fails with why, and no compiler runs.
    const refused = rt.refuse?.(ctx);
    if (refused) {
      const executionTime = Math.round(performance.now() - started);
      const compile: CompileResult = { stdout: '', stderr: `runtools: ${refused}\n`, exitCode: 1, executionTime, timedOut: false, status: 'runtime_error', cpuTime: 0, memoryPeak: 0 };
      return { compile, failed: true, binary: undefined, signal: null, truncated: false };
    }
    const cmd = rt.compile!(ctx);
    const key = this.cache && (await buildKey(rt, found, this.sandbox.kind, ctx, cmd));
    const hit = key ? await this.cache!.restore(key, ws.dirs.out) : null;
    if (hit) {
      const executionTime = Math.round(performance.now() - started);
      const compile: CompileResult = { ...hit.compile, exitCode: 0, executionTime, timedOut: false, status: 'ok', cpuTime: 0, memoryPeak: 0, cached: true };
      return { compile, failed: false, binary: path.posix.join(ctx.outDir, hit.binary), built: { binary: hit.binary, directory: hit.directory ?? false }, signal: null, truncated: false };
    }
    const overlays = (await rt.prepareCompile?.({ hostWorkDir: ws.dirs.work, hostOutDir: ws.dirs.out, hostTmpDir: ws.dirs.tmp, entry: ctx.entry, files: ctx.files, overlays: this.sandbox.overlays })) ?? [];
    const outcome = await this.phase(rt, ws, found, ctx, cmd, {}, {
      overlays,
      writableOut: true,
      stdin: '',
      timeoutMs: this.compileTimeoutMs,
      limits: this.compileLimits,
      signal,
    });
    // What the build printed and left in the out dir is the program's: build scripts run at compile time.
    const read = rt.compiledBinary!(ctx, outcome.stdout);
    const compile = phaseResult({ ...outcome, stdout: read.stdout });
    const ended = { signal: outcome.signal, truncated: outcome.truncated };
    if (outcome.exitCode !== 0 || outcome.timedOut) return { compile, failed: true, binary: undefined, ...ended };
    const binary = read.binary === null ? null : relativeBeneath(ctx.outDir, read.binary);
    const directory = read.directory ?? false;
    const problem = binary === null ? 'the build named no binary beneath its output directory' : await this.unusableBinary(ws.dirs.out, binary, directory);
    if (binary === null || problem) {
      compile.exitCode = 1;
      compile.status = 'runtime_error';
      compile.stderr += `runtools: ${problem}\n`;
      return { compile, failed: true, binary: undefined, ...ended };
    }
    if (key && !outcome.truncated) await this.cache!.store(key, ws.dirs.out, { binary, ...(directory ? { directory } : {}), compile: { stdout: compile.stdout, stderr: compile.stderr } });
    return { compile, failed: false, binary: path.posix.join(ctx.outDir, binary), built: { binary, directory }, ...ended };
  }

  /**
   * Why the built binary cannot be run or cached, or null: not a regular file beneath the out dir,
   * or too big; for a directory binary, anything in it but regular files and directories, or a
   * tree beyond the cache's bounds.
   */
  private async unusableBinary(hostOutDir: string, binary: string, directory: boolean): Promise<string | null> {
    try {
      if (directory) await checkTreeBeneath(hostOutDir, binary, { maxEntries: MAX_TREE_ENTRIES, maxBytes: this.compileLimits.fileSizeBytes });
      else await checkBeneath(hostOutDir, binary, this.compileLimits.fileSizeBytes);
      return null;
    } catch (err) {
      const detail = err instanceof UnsafeFileError ? err.detail : (err as Error).message;
      return directory
        ? `the build did not produce a directory of regular files at ${binary} (${detail})`
        : `the build did not produce a regular file at ${binary} (${detail})`;
    }
  }
}

/**
 * Everything that determines a build, with per-execution paths replaced by placeholders: the
 * sources, the command, the toolchain, and what the compile reads besides (the identity of each
 * read-only path: a shared cache or archive made again is another build's input).
 */
async function buildKey(rt: RuntimeDefinition, found: Located, sandbox: string, ctx: CommandContext, cmd: Command): Promise<string> {
  let command = JSON.stringify(cmd);
  for (const [dir, token] of [[ctx.outDir, '<out>'], [ctx.workDir, '<work>'], [ctx.tmpDir, '<tmp>']] as const) {
    command = command.replaceAll(dir, token);
  }
  const sources = Object.entries(ctx.sources).sort(([a], [b]) => (a < b ? -1 : 1));
  const reads = await Promise.all(
    (ctx.readOnlyPaths ?? []).map(async (p) => {
      const st = await stat(p).catch(() => null);
      return [p, st && [st.dev, st.ino, st.size, st.mtimeMs]];
    }),
  );
  return CompileCache.key({ format: 1, runtime: rt.id, version: found.version, tool: found.tool, sandbox, entry: ctx.entry, command, sources, reads });
}

/** Locates a runtime's toolchain and reads its version from the toolchain itself. */
async function probe(rt: RuntimeDefinition): Promise<Located | null> {
  const tool = await findToolchain(rt);
  if (!tool) return null;
  const argv = rt.version.argv(tool);
  try {
    const { stdout, stderr } = await execFileAsync(argv[0]!, argv.slice(1), {
      timeout: 15_000,
      env: { PATH: `${path.dirname(tool.bin)}:/usr/bin:/bin`, HOME: '/tmp', GOTOOLCHAIN: 'local' },
    });
    return { tool, version: rt.version.parse(stdout || stderr) };
  } catch {
    return null;
  }
}

