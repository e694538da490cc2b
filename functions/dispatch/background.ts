/**
 * Work the API goes on with after it has answered (an execution it finishes itself after a 202).
 * On Lambda the invocation must not end before it: the API function's handler waits for
 * `backgroundSettled()` once its response stream is closed (the client already has the answer).
 * In a long-running server the work simply runs on.
 */
const pending = new Set<Promise<void>>();

export function inBackground(work: Promise<unknown>): void {
  const settled: Promise<void> = work.then(
    () => {},
    () => {},
  ).finally(() => pending.delete(settled));
  pending.add(settled);
}

/** Resolves once no background work is left (work started meanwhile included). */
export async function backgroundSettled(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending]);
}
