/** Calls `expire` once `ms` have passed, unless cleared first (the program ended on its own). */
export function armTimeout(ms: number, expire: () => void): { clear(): void } {
  const timer = setTimeout(expire, ms);
  return { clear: () => clearTimeout(timer) };
}
