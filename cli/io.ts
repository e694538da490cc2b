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

/** A spinner on stderr while waiting, only when stderr is a terminal; returns the function that clears it. */
export function spinner(label: string, delayMs = 300): () => void {
  const stream = process.stderr;
  if (!stream.isTTY) return () => {};
  let frame = 0;
  let shown = false;
  let interval: NodeJS.Timeout | undefined;
  const delay = setTimeout(() => {
    interval = setInterval(() => {
      shown = true;
      stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`);
    }, 80);
  }, delayMs);
  return () => {
    clearTimeout(delay);
    clearInterval(interval);
    if (shown) stream.write('\r\x1b[2K');
  };
}
