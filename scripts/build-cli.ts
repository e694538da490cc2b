/**
 * Builds the CLI (`npm run build:cli`): cli/index.ts bundled into dist/cli.mjs and its chunks
 * (bin/cli-bundle.mjs says how). bin/runtools.mjs also builds it by itself when it is missing or
 * older than the sources, so this is only needed to build ahead of time (an image, a benchmark).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCliBundle, ROOT } from '../bin/cli-bundle.mjs';

export { buildCliBundle };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { entry, files, ms } = await buildCliBundle();
  console.error(`built ${path.relative(ROOT, entry)} and ${files.length - 1} chunks in ${ms} ms`);
}
