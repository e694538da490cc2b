import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExecuteRequestSchema, type ExecuteRequest, type ExecuteResult } from '../../functions/contract.js';
import { createRunner, type Runner, type RunnerOptions } from '../../functions/runner/index.js';
import type { SandboxKind } from '../../functions/runner/index.js';
import type { Sandbox } from '../../functions/runner/sandbox/types.js';

/** A runner over a private work root, plus helpers to run requests the way the API does. */
export interface TestRunner {
  runner: Runner;
  workRoot: string;
  run(request: ExecuteRequest): Promise<ExecuteResult>;
  /** Names left in the work root once finished executions are cleaned up (should be none). */
  leftovers(): Promise<string[]>;
  dispose(): void;
}

/** Creates a runner for tests; `sandbox` defaults to bwrap, the local default. */
export async function testRunner(
  options: Omit<RunnerOptions, 'sandbox' | 'workRoot'> & { sandbox?: SandboxKind | Sandbox; poolSize?: number } = {},
): Promise<TestRunner> {
  const workRoot = mkdtempSync(path.join(os.tmpdir(), 'runtools-test-'));
  // A private build cache: every test run compiles for real, and no test sees another's builds.
  const buildCache = mkdtempSync(path.join(os.tmpdir(), 'runtools-test-builds-'));
  const runner = await createRunner({ compileCacheDir: buildCache, ...options, workRoot });
  return {
    runner,
    workRoot,
    run: (request) => runner.execute(ExecuteRequestSchema.parse(request)),
    leftovers: async () => {
      await runner.idle();
      return readdirSync(workRoot);
    },
    dispose: () => {
      rmSync(workRoot, { recursive: true, force: true });
      rmSync(buildCache, { recursive: true, force: true });
    },
  };
}

/** Processes on this host whose command line contains `needle`. */
export function processesMatching(needle: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ');
      if (cmd.includes(needle)) found.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return found;
}
