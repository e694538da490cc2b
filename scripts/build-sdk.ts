/**
 * Builds the SDK package (`@runtools/sdk`, the `sdk/` workspace) into sdk/dist: ESM and CommonJS
 * for its two entries, declarations for both module systems.
 *   index.js / index.cjs   the client (any platform with fetch: Node 18+, Bun, Deno, browsers)
 *   node.js / node.cjs     the Node-only helpers (`@runtools/sdk/node`)
 *   *.d.ts / *.d.cts       from `tsc -p sdk/tsconfig.build.json`; the .d.cts copies point at each other
 * Run by `npm run build:sdk`, and by `npm pack` / `npm publish` in sdk/ (its prepack script).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = path.resolve(import.meta.dirname, '..');
export const SDK_DIR = path.join(ROOT, 'sdk');
export const SDK_DIST = path.join(SDK_DIR, 'dist');

const ENTRIES = [
  // The client runs wherever fetch does: no platform assumptions.
  { name: 'index', platform: 'neutral', target: 'es2022' },
  { name: 'node', platform: 'node', target: 'node18' },
] as const;

/** `from './x.js'` → `from './x.cjs'` in a declaration file (its CommonJS twin's imports). */
const toCjsSpecifiers = (dts: string) => dts.replace(/(from\s+['"]\.\/[\w-]+)\.js(['"])/g, '$1.cjs$2').replace(/(import\(['"]\.\/[\w-]+)\.js(['"]\))/g, '$1.cjs$2');

/** Builds sdk/dist (replaced whole, so a concurrent reader never sees a half-built folder); returns the files' names. */
export async function buildSdk(): Promise<string[]> {
  const staging = `${SDK_DIST}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    for (const entry of ENTRIES) {
      for (const format of ['esm', 'cjs'] as const) {
        const options: BuildOptions = {
          absWorkingDir: ROOT,
          entryPoints: [path.join(SDK_DIR, `${entry.name}.ts`)],
          outfile: path.join(staging, `${entry.name}.${format === 'esm' ? 'js' : 'cjs'}`),
          bundle: true,
          format,
          platform: entry.platform,
          target: entry.target,
          // No dependencies: anything imported that is not the SDK's own (node: built-ins) stays an import.
          packages: 'external',
          external: ['node:*'],
          minify: false,
          sourcemap: false,
          legalComments: 'none',
          logLevel: 'warning',
        };
        await build(options);
      }
    }
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', path.join(SDK_DIR, 'tsconfig.build.json'), '--outDir', staging], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    for (const file of readdirSync(staging).filter((f) => f.endsWith('.d.ts'))) {
      writeFileSync(path.join(staging, file.replace(/\.d\.ts$/, '.d.cts')), toCjsSpecifiers(readFileSync(path.join(staging, file), 'utf8')));
    }
    rmSync(SDK_DIST, { recursive: true, force: true });
    renameSync(staging, SDK_DIST);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return readdirSync(SDK_DIST).sort();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = await buildSdk();
  console.error(`built ${files.map((f) => `sdk/dist/${f}`).join(', ')}`);
}
