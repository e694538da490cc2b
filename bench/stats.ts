/** Percentile of a sample (nearest-rank), in the sample's unit. */
export function percentile(sample: readonly number[], p: number): number {
  if (sample.length === 0) return Number.NaN;
  const sorted = [...sample].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Timing {
  p50: number;
  p95: number;
  runs: number;
}

/** Runs `fn` `warmup` times untimed, then `runs` times timed (ms). */
export async function time(fn: (i: number) => Promise<unknown>, runs: number, warmup = 3): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const sample: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn(i);
    sample.push(performance.now() - t);
  }
  return { p50: round(percentile(sample, 50)), p95: round(percentile(sample, 95)), runs };
}

/** Like `time`, for a figure the run measures itself (e.g. the time to a first event), ms. */
export async function measure(fn: (i: number) => Promise<number>, runs: number, warmup = 3): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn(-1 - i);
  const sample: number[] = [];
  for (let i = 0; i < runs; i++) sample.push(await fn(i));
  return { p50: round(percentile(sample, 50)), p95: round(percentile(sample, 95)), runs };
}

/** Completed operations per second when `total` operations run `concurrency` at a time. */
export async function throughput(fn: () => Promise<unknown>, concurrency: number, total: number): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        await fn();
      }
    }),
  );
  return round((total * 1000) / (performance.now() - t));
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
