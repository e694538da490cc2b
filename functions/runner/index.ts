import { Runner, type RunnerOptions } from './execute.js';
import { BwrapSandbox } from './sandbox/bwrap.js';
import { ProcessSandbox, type ProcessSandboxOptions } from './sandbox/process.js';
import type { Sandbox } from './sandbox/types.js';

export type SandboxKind = 'bwrap' | 'process';

/** The sandbox of the given kind. */
export function createSandbox(kind: SandboxKind, options: ProcessSandboxOptions = {}): Sandbox {
  return kind === 'bwrap' ? new BwrapSandbox() : new ProcessSandbox(options);
}

/**
 * A runner whose sandbox has been checked: throws with a how-to-fix message when the sandbox
 * cannot work here (the local server then refuses to run code).
 */
export async function createRunner(
  options: Omit<RunnerOptions, 'sandbox'> & {
    sandbox?: SandboxKind | Sandbox;
    /** Sandboxes kept prepared ahead of requests (bwrap only). @default 0 */
    poolSize?: number;
    /** Process mode: programs may open inet sockets. @default false */
    network?: boolean;
  } = {},
): Promise<Runner> {
  const sandbox =
    typeof options.sandbox === 'object' ? options.sandbox : createSandbox(options.sandbox ?? 'bwrap', { network: options.network });
  await sandbox.check();
  const runner = new Runner({ ...options, sandbox });
  await runner.keepPrepared(options.poolSize ?? 0);
  return runner;
}

export { Runner, RuntimeUnavailableError, DEFAULT_RUN_LIMITS, DEFAULT_COMPILE_LIMITS } from './execute.js';
export type { RunnerOptions } from './execute.js';
export type { Sandbox } from './sandbox/types.js';
