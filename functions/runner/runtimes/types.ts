import type { RuntimeFacts, RuntimeId } from '../../runtimes.js';
import type { Overlay } from '../sandbox/types.js';

/** What a runtime file declares: identity, entry file, toolchain discovery and its commands. */

/** A located toolchain: `root` is the directory the sandbox exposes; `bin` is the executable inside it. */
export interface Toolchain {
  root: string;
  bin: string;
  /** Host paths outside `root` it reads (the registry's sandbox binds), bound read-only where they exist. */
  binds?: readonly string[];
}

/** Paths and inputs of one execution, as the program sees them (sandbox-mapped). */
export interface CommandContext {
  /** The program's working directory: holds the request's files. */
  workDir: string;
  /** Build outputs: writable during compile, read-only during run. */
  outDir: string;
  /** Private scratch space of this phase (HOME and caches live here). */
  tmpDir: string;
  /** Entry file, relative to workDir. */
  entry: string;
  /** Every request file, relative to workDir. */
  files: readonly string[];
  args: readonly string[];
  tool: Toolchain;
  /** The request's files (and the runtime's scaffold) by path: request data, never a program's output. */
  sources: Readonly<Record<string, string>>;
  /** The phase's memory cap, bytes (for toolchains that cannot see their cgroup). */
  memoryBytes: number;
  /** Host paths the phase sees read-only at their own path (compile: the runtime's compileReadOnlyPaths). */
  readOnlyPaths?: readonly string[];
}

/** A command to spawn: argv[0] is an absolute path (no shell, no PATH lookup). */
export interface Command {
  argv: string[];
  env?: Record<string, string>;
  /** Working directory relative to workDir (default: workDir itself). */
  cwd?: string;
}

/** Host-side inputs a runtime may need before compiling (paths on the host, not in the sandbox). */
export interface HostContext {
  hostWorkDir: string;
  hostOutDir: string;
  /** Host-side scratch of the execution (outside the sandbox's view where it has one). */
  hostTmpDir: string;
  entry: string;
  files: readonly string[];
  /** Whether the sandbox can mount overlays for the compile phase (else: plain directories). */
  overlays: boolean;
}

/**
 * The host side of a runtime (its file in this folder, found by the runtime's id): how to find its
 * toolchain here, and whatever the registry's data (functions/runtimes.ts) cannot say.
 */
export interface RuntimeHost {
  /** Finds the toolchain on this host, or null when it is not installed; `override` is the registry's toolVariable. */
  locate(override: string | undefined): Promise<Toolchain | null>;
  /** argv (inside the sandbox) printing the version, and how to read it. */
  version: { argv(tool: Toolchain): string[]; parse(output: string): string };
  /** Files to add to the work dir before compiling (e.g. go.mod), keyed by relative path; `sources` are the request's files. */
  scaffold?(ctx: { entry: string; files: readonly string[]; sources: Readonly<Record<string, string>> }): Record<string, string>;
  /** Host-side preparation before the compile phase (e.g. a per-execution build cache); overlays to mount for it. */
  prepareCompile?(host: HostContext): Promise<Overlay[] | void>;
  /**
   * Why the request's files cannot go to the compiler as files (API.md: a file name is always a
   * path to the toolchain), or null: the compile then fails with this, the user's to fix, and no
   * compiler runs. For names no argv can keep the toolchain from reading as something else.
   */
  refuse?(ctx: CommandContext): string | null;
  /** The compile command, when the registry has no template for it. */
  compile?(ctx: CommandContext): Command;
  /**
   * Host paths the compile phase reads at their own path (read-only), e.g. a shared cache, for the
   * toolchain as located on this host. Their identity is part of the build cache's key.
   */
  compileReadOnlyPaths?(tool: Toolchain): string[];
  /**
   * Reads what the compile phase printed (e.g. cargo's JSON): the binary path in outDir (null:
   * none named), whether it is a directory (e.g. Java's classes: a tree of regular files), and the
   * output for the user. Called whatever the compile's outcome.
   */
  compiledBinary?(ctx: CommandContext, compileStdout: string): { binary: string | null; directory?: boolean; stdout: string };
  /** The run command, when the registry has no template for it. */
  run?(ctx: CommandContext & { binary?: string }): Command;
  /**
   * An interpreter started ahead of a request in a prepared sandbox, as `run()` of the default
   * entry with no args. It waits during its start-up for the execution's spec and must then be
   * indistinguishable from a fresh start (see python.ts).
   */
  startAhead?: {
    /** Host directory of its start-up hook, bound read-only inside the sandbox. */
    hostDir: string;
    /** Environment added to the waiting interpreter (the hook removes it): where the hook is, where the spec comes. */
    env(hookDir: string, specFd: number): Record<string, string>;
    /** False when the request's environment would change how the interpreter starts (it already has). */
    accepts(env: Readonly<Record<string, string>>): boolean;
  };
}

/** A runtime as the runner uses it: its registry facts, its host side, and its commands. */
export type RuntimeDefinition<Id extends RuntimeId = RuntimeId> = RuntimeFacts &
  Omit<RuntimeHost, 'run' | 'compile'> & {
    id: Id;
    run(ctx: CommandContext & { binary?: string }): Command;
    compile?(ctx: CommandContext): Command;
  };

/** Declares a runtime's host side (the default export of its file). */
export function defineHost(host: RuntimeHost): RuntimeHost {
  return host;
}
