import type { Toolchain } from '../runtimes/types.js';
import type { ProcessOutcome } from '../supervise.js';
import type { Workspace, WorkspaceMounter } from '../workspace.js';

/** Resource limits applied to every phase of an execution. */
export interface ResourceLimits {
  /** Memory cap per execution phase, bytes (the phase's memory cgroup; process mode has none: the function's memory bounds it). */
  memoryBytes: number;
  /** Processes + threads per execution. */
  pids: number;
  /** Largest file the program may write, bytes. */
  fileSizeBytes: number;
  /** Open file descriptors per process. */
  openFiles: number;
  /** Size of the private /tmp (bwrap), bytes. */
  tmpBytes: number;
}

/** Host directories of one execution. */
export interface ExecDirs {
  /** The request's files; the program's cwd. */
  work: string;
  /** Build outputs. */
  out: string;
  /** Scratch space for process mode (bwrap mounts a private tmpfs instead). */
  tmp: string;
}

/** Where things appear to the program inside a sandbox. */
export interface SandboxView {
  workDir: string;
  outDir: string;
  tmpDir: string;
  tool: Toolchain;
}

export interface SandboxSpawn {
  id: string;
  runtime: string;
  dirs: ExecDirs;
  tool: Toolchain;
  argv: string[];
  env: Record<string, string>;
  /** cwd relative to the work dir. */
  cwd?: string;
  /** Host paths exposed read-only at the same path (e.g. the Go cache master while compiling). */
  readOnlyPaths: readonly string[];
  /** overlayfs mounts inside the work or out dir (only where `Sandbox.overlays`). */
  overlays?: readonly Overlay[];
  /** The compile phase may write to the out dir; the run phase may not. */
  writableOut: boolean;
  stdin: string;
  timeoutMs: number;
  outputLimitBytes: number;
  limits: ResourceLimits;
  signal?: AbortSignal;
  /** Output as it arrives (live output), each chunk within the stream's cap. */
  onOutput?: OutputListener;
}

/** Receives a program's output as it is read: `stream` and the bytes (never past the cap). */
export type OutputListener = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

/** Sandboxes prepared ahead of requests: how many, where, and what they expose. */
export interface PoolOptions {
  size: number;
  workRoot: string;
  /** Every toolchain a prepared sandbox exposes (it does not know the runtime yet). */
  tools: Array<{ runtime: string; tool: Toolchain }>;
  limits: ResourceLimits;
  /** Interpreters a prepared sandbox may have started and waiting, by runtime. */
  interpreters: StartedInterpreter[];
}

/** An interpreter started ahead of a request (RuntimeHost.startAhead), in sandbox paths. */
export interface StartedInterpreter {
  runtime: string;
  /** The run command it stands for (default entry, no args), in the work dir, and its environment. */
  argv: string[];
  env: Record<string, string>;
  /** Its start-up hook's host directory, and the hook's own environment. */
  hostDir: string;
  hookEnv(hookDir: string, specFd: number): Record<string, string>;
}

/**
 * A directory seen through overlayfs: `lower` read-only underneath, every change landing in
 * `upper` (`work` is overlayfs' own scratch on upper's filesystem); host paths.
 */
export interface Overlay {
  lower: string;
  upper: string;
  work: string;
  target: string;
}

/** A lane of a test suite: the program's files and build, and the limits of every test. */
export interface LaneOptions {
  runtime: string;
  tool: Toolchain;
  /** Host dirs: `work` holds the files every test starts with (copied into its own /work), `out` the build (read-only /out). */
  dirs: ExecDirs;
  limits: ResourceLimits;
  /** Size and inodes of each test's /work. */
  workBytes: number;
  workInodes: number;
  outputLimitBytes: number;
}

/** One test in a lane: the command (sandbox paths) and what it gets. */
export interface LaneRun {
  argv: string[];
  env: Record<string, string>;
  /** Relative to the work dir (default: the work dir). */
  cwd?: string;
  stdin: string;
  /** Files of this run's own, written into its work dir over the staged ones (plain names: a checker's input, expected, output). */
  files?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A sandbox that runs tests one after another, each with nothing left of the one before (bwrap's lanes). */
export interface Lane {
  readonly usable: boolean;
  run(r: LaneRun): Promise<ProcessOutcome>;
  close(): Promise<void>;
}

/** Runs one process of an execution in isolation. */
export interface Sandbox {
  readonly kind: 'bwrap' | 'process';
  /** Whether a phase can have overlayfs mounts of its own (SandboxSpawn.overlays). */
  readonly overlays: boolean;
  /**
   * A fresh workspace for one execution (a prepared one when the sandbox keeps a pool). `interpreter`
   * names the runtime when the execution can use an interpreter started ahead of it.
   */
  workspace(workRoot: string, interpreter?: string): Promise<Workspace>;
  /** Disposes what the execution left: its prepared sandbox if unused, and its workspace. */
  release(ws: Workspace): Promise<void>;
  /** Keeps `size` sandboxes prepared ahead of requests, refilled in the background. */
  keepPrepared?(options: PoolOptions): void;
  /** Stops every prepared sandbox. */
  close?(): Promise<void>;
  /** How host paths appear inside this sandbox. */
  view(dirs: ExecDirs, tool: Toolchain, runtime: string): SandboxView;
  run(spec: SandboxSpawn): Promise<ProcessOutcome>;
  /** Starts a lane for a test suite's runs, where the sandbox has them. */
  lane?(options: LaneOptions): Promise<Lane>;
  /** Throws with a how-to-fix message when this sandbox cannot work on this host. */
  check(): Promise<void>;
  /** One line on which limits hold here (for logs and /health). */
  describe(): string;
  /** Mounts workspaces' own tmpfs cheaply (the spawner's mount(2)); absent: mount(8). */
  readonly mounter?: WorkspaceMounter;
}

/** The minimal environment every program starts from (API.md: PATH, HOME, LANG, TMPDIR). */
export function baseEnv(view: { tmpDir: string }, path: string): Record<string, string> {
  return { PATH: path, HOME: view.tmpDir, LANG: 'C.UTF-8', TMPDIR: view.tmpDir };
}
