/**
 * Builds the runner bundle every runtime image copies in: the Lambda handler, the Fargate task
 * entry, the Go cache builder, the C++ header precompiler and the javac archive builder, each one
 * self-contained ESM file for Node 22, plus the sources of the sandbox's C helpers (the images
 * compile the launcher with its seccomp filters, and the preload that makes the Lambda runner
 * non-dumpable).
 * Run by `npm run build:runner` and by `infra/app.ts` before every synth.
 */
import { buildSync } from 'esbuild';
import { cpSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where the bundle lands: inside the images' build context. */
export const RUNNER_BUNDLE_DIR = path.join(ROOT, 'runtime-layers', 'dist');

/** The C helpers' sources and their build script (functions/runner/sandbox/launcher/build.sh). */
const HELPERS = 'functions/runner/sandbox/launcher';

const ENTRIES = {
  lambda: 'functions/runner/lambda.ts',
  task: 'functions/runner/task.ts',
  'build-go-cache': 'scripts/build-go-cache.ts',
  'build-cpp-pch': 'scripts/build-cpp-pch.ts',
  'build-javac-cds': 'scripts/build-javac-cds.ts',
};

/** Writes by rename: a runner started while another process rebuilds never reads half a file. */
function writeAtomically(file: string, write: (tmp: string) => void): void {
  const tmp = `${file}.${process.pid}.tmp`;
  write(tmp);
  renameSync(tmp, file);
}

/** Bundles the runner entries into `outDir` (default RUNNER_BUNDLE_DIR); returns the files written. */
export function buildRunnerBundle(outDir = RUNNER_BUNDLE_DIR): string[] {
  mkdirSync(outDir, { recursive: true });
  const result = buildSync({
    absWorkingDir: ROOT,
    entryPoints: Object.entries(ENTRIES).map(([out, input]) => ({ in: input, out })),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __runtoolsRequire } from 'node:module'; const require = __runtoolsRequire(import.meta.url);" },
    write: false,
  });
  for (const out of result.outputFiles) writeAtomically(out.path, (tmp) => writeFileSync(tmp, out.contents));
  const helpers = path.join(outDir, 'launcher');
  const staged = `${helpers}.${process.pid}.tmp`;
  cpSync(path.join(ROOT, HELPERS), staged, { recursive: true });
  rmSync(helpers, { recursive: true, force: true });
  renameSync(staged, helpers);
  return [...result.outputFiles.map((f) => f.path), helpers];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const file of buildRunnerBundle()) console.error(`built ${path.relative(ROOT, file)}`);
}
