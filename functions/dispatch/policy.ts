import { RUNTIME_FACTS, type RuntimeId } from '../contract.js';

/** How long a deployment may hold a request open, and what a compile is expected to add. */
export interface SyncBudget {
  /** null or undefined: every request is answered synchronously. */
  syncBudgetMs?: number | null;
  compileAllowanceMs: number;
}

/** The longest a request may take: its timeout, plus the compile allowance for compiled runtimes. */
export function worstCaseMs(req: { runtime: RuntimeId; timeout: number }, compileAllowanceMs: number): number {
  const compiled = RUNTIME_FACTS.find((r) => r.runtime === req.runtime)?.compiled ?? false;
  return req.timeout + (compiled ? compileAllowanceMs : 0);
}

/** Whether a request must run in the background (202) because it may outlast the synchronous budget. */
export function exceedsSyncBudget(req: { runtime: RuntimeId; timeout: number }, budget: SyncBudget): boolean {
  if (budget.syncBudgetMs === null || budget.syncBudgetMs === undefined) return false;
  return worstCaseMs(req, budget.compileAllowanceMs) > budget.syncBudgetMs;
}
