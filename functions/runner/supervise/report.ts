import type { Readable } from 'node:stream';
import { parseReport, type LaunchReport } from '../status.js';

/**
 * Reads the launcher's one-line report (bounded: a line past 256 bytes is no report) and hands it
 * over once. Resolves when the stream is over (the launcher is gone): a report not in by then never comes.
 */
export function readReport(stream: Readable | null | undefined, onReport: (report: LaunchReport) => void): Promise<void> {
  let line = '';
  let done = false;
  const over = new Promise<void>((resolve) => {
    if (!stream) return resolve();
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
  stream?.on('data', (chunk: Buffer) => {
    if (done) return;
    line += chunk.toString('latin1');
    if (line.length > 256) line = '';
    if (!line.endsWith('\n')) return;
    const report = parseReport(line);
    if (report) {
      done = true;
      onReport(report);
    }
  });
  return over;
}
