import type { Readable } from 'node:stream';

/** How long to wait for pipes to drain after the process tree is gone. */
export const DRAIN_GRACE_MS = 200;

/**
 * Calls `done` once the process has exited and both output streams have ended, or DRAIN_GRACE_MS
 * after its exit when a stray descendant keeps a pipe open: never waits on such a pipe.
 * Waiting for the streams' handles to close as well ('close') would cost another turn of a busy
 * event loop. Returns what the caller signals the exit with.
 */
export function whenDrained(streams: { stdout: Readable; stderr: Readable }, done: () => void): { exited(): void; cancel(): void } {
  let ended = 0;
  let exited = false;
  let grace: NodeJS.Timeout | undefined;
  const onEnd = () => {
    if (++ended === 2 && exited) done();
  };
  streams.stdout.once('end', onEnd);
  streams.stderr.once('end', onEnd);
  return {
    exited() {
      exited = true;
      if (ended === 2) done();
      else grace = setTimeout(done, DRAIN_GRACE_MS);
    },
    cancel: () => clearTimeout(grace),
  };
}
