import type { Readable } from 'node:stream';
import { OutputCollector } from '../output.js';

/**
 * Collects stdout and stderr, each up to `limit` bytes; past it, calls `overflow` (the caller kills
 * the tree) and keeps nothing more: a flood is never buffered.
 */
export function captureOutput(streams: { stdout: Readable; stderr: Readable }, limit: number, overflow: () => void) {
  const stdout = new OutputCollector(limit);
  const stderr = new OutputCollector(limit);
  streams.stdout.on('data', (chunk: Buffer) => {
    if (!stdout.push(chunk)) overflow();
  });
  streams.stderr.on('data', (chunk: Buffer) => {
    if (!stderr.push(chunk)) overflow();
  });
  return {
    stdout,
    stderr,
    get truncated() {
      return stdout.overflowed || stderr.overflowed;
    },
  };
}
