#!/usr/bin/env node
// The runtools command. It runs the built CLI (dist/cli.mjs, see cli-bundle.mjs) when it is
// current, after building it when it is missing or older than the sources; where it cannot be
// built, it loads the TypeScript sources through tsx. RUNTOOLS_CLI_BUNDLE=0: always the sources.
import { pathToFileURL } from 'node:url';
import { buildCliBundle, currentBundle } from './cli-bundle.mjs';

let entry = null;
if (process.env.RUNTOOLS_CLI_BUNDLE !== '0') {
  entry = currentBundle();
  if (!entry) {
    try {
      entry = (await buildCliBundle()).entry;
    } catch {
      // Not buildable here (no esbuild, a read-only checkout, a syntax error tsx will report): the sources.
      entry = null;
    }
  }
}
let main;
if (entry) {
  ({ main } = await import(pathToFileURL(entry).href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/index.ts'));
}
await main(process.argv);
