import { RUNTIME_FACTS, type RuntimeId } from '../contract.js';

/** What a compile may add when the API waits on an execution it does not run itself (a duplicate's, a background one): the default compile timeout. */
export const COMPILE_WAIT_MS = 60_000;

/** How long a deployment may hold a request open, and what a compile is expected to add. */
export interface SyncBudget {
  /** null or undefined: every request is answered synchronously. */
  syncBudgetMs?: number | null;
  compileAllowanceMs: number;
  /** Tests of a suite that run at once. @default 1 */
  parallel?: number;
}

/** What the worst case of a request depends on. */
export interface Timing {
  runtime: RuntimeId;
  timeout: number;
  tests?: ReadonlyArray<{ timeout?: number | undefined }> | undefined;
}

/**
 * The longest a request may take: its timeout, plus the compile allowance for compiled runtimes.
 * A suite (API.md "Test cases"): the compile allowance plus the sum of its tests' timeouts spread
 * over the tests that run at once.
 */
export function worstCaseMs(req: Timing, compileAllowanceMs: number, parallel = 1): number {
  const compiled = RUNTIME_FACTS.find((r) => r.runtime === req.runtime)?.compiled ?? false;
  const allowance = compiled ? compileAllowanceMs : 0;
  if (!req.tests) return req.timeout + allowance;
  const total = req.tests.reduce((n, t) => n + (t.timeout ?? req.timeout), 0);
  return allowance + Math.ceil(total / Math.max(1, parallel));
}

/** Whether a request must run in the background (202) because it may outlast the synchronous budget. */
export function exceedsSyncBudget(req: Timing, budget: SyncBudget): boolean {
  if (budget.syncBudgetMs === null || budget.syncBudgetMs === undefined) return false;
  return worstCaseMs(req, budget.compileAllowanceMs, budget.parallel) > budget.syncBudgetMs;
}
