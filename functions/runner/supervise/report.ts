import type { Readable } from 'node:stream';
import { parseReport, type LaunchReport } from '../status.js';

/** Reads the launcher's one-line report (bounded: a line past 256 bytes is no report) and hands it over once. */
export function readReport(stream: Readable | null | undefined, onReport: (report: LaunchReport) => void): void {
  let line = '';
  let done = false;
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
}
