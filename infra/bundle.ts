/**
 * Builds the runner bundle every runtime image copies in: the Lambda handler, the Fargate task
 * entry, the Go cache builder, the C++ header precompiler and the javac archive builder, each one
 * self-contained ESM file for Node 22, plus the sources of the sandbox's C helpers (the images
 * compile the launcher with its seccomp filters, and the preload that makes the Lambda runner
 * non-dumpable).
 * Run by `npm run build:runner` and by `infra/app.ts` before every synth.
 */
import { buildSync } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/**
 * Where files are staged before they are renamed into place: beside the repository's dependencies,
 * never inside the images' build context, which a concurrent synth may be fingerprinting (a
 * staged file that vanishes under its walk fails it).
 */
const STAGING = path.join(ROOT, 'node_modules', '.cache', 'runtools-bundle');

/** Writes by rename, and not at all when the file already holds `contents` (concurrent builds write the same). */
function writeAtomically(file: string, contents: Uint8Array): void {
  if (existsSync(file) && Buffer.from(readFileSync(file)).equals(Buffer.from(contents))) return;
  mkdirSync(STAGING, { recursive: true });
  const tmp = path.join(STAGING, `${path.basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

/** Whether two small trees hold the same files with the same bytes. */
function sameTree(a: string, b: string): boolean {
  if (!existsSync(b) || !statSync(b).isDirectory()) return false;
  const names = readdirSync(a).sort();
  if (names.join('\0') !== readdirSync(b).sort().join('\0')) return false;
  return names.every((name) => {
    const [x, y] = [path.join(a, name), path.join(b, name)];
    if (statSync(x).isDirectory()) return sameTree(x, y);
    return statSync(y).isFile() && readFileSync(x).equals(readFileSync(y));
  });
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
  for (const out of result.outputFiles) writeAtomically(out.path, out.contents);
  const helpers = path.join(outDir, 'launcher');
  if (!sameTree(path.join(ROOT, HELPERS), helpers)) {
    mkdirSync(STAGING, { recursive: true });
    const staged = path.join(STAGING, `launcher.${process.pid}.tmp`);
    rmSync(staged, { recursive: true, force: true });
    cpSync(path.join(ROOT, HELPERS), staged, { recursive: true });
    // Another build may have put the same tree in place meanwhile: then it stays as it is.
    if (sameTree(path.join(ROOT, HELPERS), helpers)) rmSync(staged, { recursive: true, force: true });
    else {
      rmSync(helpers, { recursive: true, force: true });
      renameSync(staged, helpers);
    }
  }
  return [...result.outputFiles.map((f) => f.path), helpers];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const file of buildRunnerBundle()) console.error(`built ${path.relative(ROOT, file)}`);
}
