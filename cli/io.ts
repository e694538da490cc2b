import type { ExecuteRequest, ExecuteResult } from '../functions/contract.js';
import type { Backend, LiveOutput } from './backend.js';

/** Writes to a stream and resolves once the data is flushed (so exiting afterwards loses nothing). */
export function write(stream: NodeJS.WriteStream, data: string): Promise<void> {
  if (data === '') return Promise.resolve();
  return new Promise((resolve, reject) => stream.write(data, (error) => (error ? reject(error) : resolve())));
}

/** All of stdin as UTF-8. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A status line on stderr while waiting (a spinner and `label`), only when stderr is a terminal and
 * there is a label; returns the function that clears it. Nothing is written when stderr is a file or
 * a pipe: the program's stderr goes there. Clearing twice clears once.
 */
export function spinner(label: string | null, delayMs = 300): () => void {
  const stream = process.stderr;
  if (!stream.isTTY || label === null) return () => {};
  let frame = 0;
  let shown = false;
  let interval: NodeJS.Timeout | undefined;
  const delay = setTimeout(() => {
    interval = setInterval(() => {
      shown = true;
      // One line: a label wider than the terminal would wrap, and \r would clear only its last row.
      const width = Math.max(10, (stream.columns || 80) - 3);
      const text = label.length > width ? `${label.slice(0, width - 1)}…` : label;
      stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${text}`);
    }, 80);
  }, delayMs);
  return () => {
    clearTimeout(delay);
    clearInterval(interval);
    // Once: a second call must not erase a line written after the first (live output).
    if (shown) stream.write('\r\x1b[2K');
    shown = false;
  };
}

/**
 * Runs `request` on `backend` as a command waits for it: the spinner on a terminal until the
 * answer (or the first live output), Ctrl-C aborting the run. Null when it was interrupted (the
 * command then exits 130).
 */
export async function runInterruptibly(backend: Backend, request: ExecuteRequest, live?: LiveOutput): Promise<ExecuteResult | null> {
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  const stop = spinner(backend.waiting(request));
  const onOutput = live && ((stream: 'stdout' | 'stderr', text: string) => {
    stop();
    live.onOutput(stream, text);
  });
  try {
    const result = await backend.execute(request, controller.signal, onOutput ? { onOutput } : undefined);
    return controller.signal.aborted ? null : result;
  } catch (error) {
    if (controller.signal.aborted) return null;
    throw error;
  } finally {
    stop();
    process.off('SIGINT', interrupt);
  }
}
