import type { Readable } from 'node:stream';
import { OutputCollector } from '../output.js';

/**
 * Collects stdout and stderr, each up to `limit` bytes; past it, calls `overflow` (the caller kills
 * the tree) and keeps nothing more: a flood is never buffered.
 */
export function captureOutput(
  streams: { stdout: Readable; stderr: Readable },
  limit: number,
  overflow: () => void,
  listener?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
) {
  const stdout = new OutputCollector(limit);
  const stderr = new OutputCollector(limit);
  const take = (name: 'stdout' | 'stderr', collector: OutputCollector) => (chunk: Buffer) => {
    const before = collector.size;
    const fits = collector.push(chunk);
    // The listener gets what was kept: nothing past the cap reaches it either.
    if (listener && collector.size > before) listener(name, fits ? chunk : chunk.subarray(0, collector.size - before));
    if (!fits) overflow();
  };
  streams.stdout.on('data', take('stdout', stdout));
  streams.stderr.on('data', take('stderr', stderr));
  return {
    stdout,
    stderr,
    get truncated() {
      return stdout.overflowed || stderr.overflowed;
    },
  };
}
