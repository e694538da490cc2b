/**
 * The built CLI: esbuild bundles cli/index.ts into dist/cli.mjs, and the parts the commands load
 * when they run (the runner, the API, each runtime) into dist/cli-*.mjs chunks beside it, so a
 * start (`runtools --help`) reads one small file instead of compiling TypeScript. Packages stay
 * imports (node_modules resolves them as before; native modules such as better-sqlite3 load
 * as ever).
 *
 * dist/cli.mjs starts with a manifest line: when it was built, and the size and mtime of every
 * source file it was built from. It is current while each of them is unchanged; otherwise
 * bin/runtools.mjs rebuilds it (a few hundred ms) before running, so an edited source always runs.
 * Every file is written by rename and chunks are named by their content, so a CLI started while
 * another one rebuilds reads either the old bundle or the new one, never half of one.
 *
 * Plain JavaScript: bin/runtools.mjs loads it before anything can compile TypeScript.
 */
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MANIFEST = '// runtools-cli-bundle ';
/** Files that shape the bundle besides its sources: the build itself, the TypeScript settings, the packages. */
const BUILD_INPUTS = ['bin/cli-bundle.mjs', 'tsconfig.json', 'package.json'];
const CHUNK = /^cli-[\w-]+-[A-Z0-9]{8}\.mjs$/;
/** Chunks no current bundle names are removed once this old (a CLI started before the rebuild may still load them). */
const STALE_CHUNK_MS = 60 * 60 * 1000;

/** Where the bundle of the checkout at `root` lives. */
export const bundlePath = (root = ROOT) => path.join(root, 'dist', 'cli.mjs');

/** The bundle's manifest, or null when there is no bundle or it has none. */
export function readManifest(root = ROOT) {
  let text;
  try {
    text = readFileSync(bundlePath(root), 'utf8');
  } catch {
    return null;
  }
  if (!text.startsWith(MANIFEST)) return null;
  try {
    return JSON.parse(text.slice(MANIFEST.length, text.indexOf('\n')));
  } catch {
    return null;
  }
}

/** dist/cli.mjs when it was built from the sources as they are now; otherwise null. */
export function currentBundle(root = ROOT) {
  const manifest = readManifest(root);
  if (!manifest || typeof manifest.builtAt !== 'number' || typeof manifest.inputs !== 'object') return null;
  for (const [file, [mtimeMs, size]] of Object.entries(manifest.inputs)) {
    let stats;
    try {
      stats = statSync(path.join(root, file));
    } catch {
      return null;
    }
    // Changed since, or changed while the build ran (its mtime is not before the build started).
    if (stats.mtimeMs !== mtimeMs || stats.size !== size || mtimeMs >= manifest.builtAt) return null;
  }
  return bundlePath(root);
}

/**
 * Keeps each module's own `import.meta.url` (the runner finds its helpers and the Python start-up
 * hook next to its sources): rewritten relative to the bundle, which sits with its chunks in dist/.
 */
function sourceUrls(root, outDir) {
  return {
    name: 'runtools-source-urls',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.')) return undefined;
        const relative = path.relative(outDir, args.path).split(path.sep).join('/');
        const url = `new URL(${JSON.stringify(relative)}, import.meta.url)`;
        const contents = source
          .replace(/\bimport\.meta\.url\b/g, `${url}.href`)
          .replace(/\bimport\.meta\.filename\b/g, `decodeURIComponent(${url}.pathname)`)
          .replace(/\bimport\.meta\.dirname\b/g, `decodeURIComponent(new URL('.', ${url}).pathname).slice(0, -1)`);
        return { contents, loader: LOADERS[path.extname(args.path)] ?? 'js', resolveDir: path.dirname(args.path) };
      });
    },
  };
}

const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.tsx': 'tsx', '.jsx': 'jsx' };

/** Writes by rename: a reader sees the old file or the new one. */
function writeAtomically(file, contents) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

/**
 * Builds dist/cli.mjs and its chunks (esbuild, in this process). Returns the entry, the files
 * written and how long it took.
 */
export async function buildCliBundle(root = ROOT) {
  const started = performance.now();
  const outDir = path.join(root, 'dist');
  // Where the bundle cannot be written (a read-only checkout) fail before building, not after.
  mkdirSync(outDir, { recursive: true });
  accessSync(outDir, constants.W_OK);
  const { build } = await import('esbuild');
  // Taken before anything is read: a source saved during the build leaves the bundle stale.
  const builtAt = Date.now();
  const result = await build({
    absWorkingDir: root,
    entryPoints: { cli: 'cli/index.ts' },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'cli-[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Every package (the root package.json's dependencies among them) stays an import.
    packages: 'external',
    plugins: [sourceUrls(root, outDir)],
    metafile: true,
    write: false,
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const inputs = {};
  for (const file of [...BUILD_INPUTS, ...Object.keys(result.metafile.inputs)].sort()) {
    const stats = statSync(path.join(root, file));
    inputs[file] = [stats.mtimeMs, stats.size];
  }
  const manifest = `${MANIFEST}${JSON.stringify({ builtAt, inputs })}\n`;
  const entry = bundlePath(root);
  // Chunks first, the entry (which names them) last.
  const files = [...result.outputFiles].sort((a, b) => Number(a.path === entry) - Number(b.path === entry));
  for (const out of files) writeAtomically(out.path, out.path === entry ? Buffer.concat([Buffer.from(manifest), out.contents]) : out.contents);
  const written = new Set(files.map((f) => path.basename(f.path)));
  for (const name of readdirSync(outDir)) {
    if (!CHUNK.test(name) || written.has(name)) continue;
    const file = path.join(outDir, name);
    try {
      if (Date.now() - statSync(file).mtimeMs > STALE_CHUNK_MS) rmSync(file, { force: true });
    } catch {
      // Removed by another build meanwhile.
    }
  }
  return { entry, files: files.map((f) => f.path), ms: Math.round(performance.now() - started) };
}
