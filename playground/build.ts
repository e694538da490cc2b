/**
 * Builds the playground (index.html, style.css and src/ of this folder) with esbuild into
 * playground/dist/, a static site:
 *
 *   index.html                 the page, pointing at the hashed files below (relative URLs)
 *   favicon.svg
 *   playground/main-<hash>.js  the editor and the page's code (ES module)
 *   playground/chunk-<hash>.js shared code and one chunk per language, loaded when a file needs it
 *   playground/style-<hash>.css
 *
 * The API server serves it at `/` (functions/api/routes/playground.ts builds it on the first
 * request when it is missing or older than its sources); any static host can serve it too
 * (`npx tsx playground/build.ts`, then copy dist/).
 */
import { build } from 'esbuild';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PLAYGROUND_DIR = path.dirname(fileURLToPath(import.meta.url));
const DIST_DIR = path.join(PLAYGROUND_DIR, 'dist');
const ROOT = path.dirname(PLAYGROUND_DIR);
/** Where the hashed assets go, inside dist/ (and the URL path they are served under). */
const ASSETS_PREFIX = 'playground/';

/** A built playground: paths relative to dist/ (`index.html`, `playground/main-….js`) → contents. */
export type PlaygroundFiles = Map<string, Uint8Array>;

export interface BuildOptions {
  /** Where to write the site; null keeps it in memory only. @default playground/dist */
  outDir?: string | null;
}

/** Bundles the playground; returns its files (and writes them to outDir). */
export async function buildPlayground(options: BuildOptions = {}): Promise<PlaygroundFiles> {
  const outDir = options.outDir === undefined ? DIST_DIR : options.outDir;
  const assetsDir = path.join(outDir ?? DIST_DIR, ASSETS_PREFIX);
  const result = await build({
    absWorkingDir: PLAYGROUND_DIR,
    entryPoints: { main: 'src/main.ts', style: 'style.css' },
    outdir: assetsDir,
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    target: ['es2022', 'chrome100', 'firefox100', 'safari15.4'],
    minify: true,
    charset: 'utf8',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });

  const files: PlaygroundFiles = new Map();
  for (const output of result.outputFiles) files.set(ASSETS_PREFIX + path.relative(assetsDir, output.path).split(path.sep).join('/'), output.contents);
  const entryOf = (source: string) => {
    const [output] = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === source) ?? [];
    if (!output) throw new Error(`esbuild built no output for ${source}`);
    return ASSETS_PREFIX + path.relative(assetsDir, path.resolve(PLAYGROUND_DIR, output)).split(path.sep).join('/');
  };
  const template = await readFile(path.join(PLAYGROUND_DIR, 'index.html'), 'utf8');
  const html = template.replace('{{script}}', entryOf('src/main.ts')).replace('{{style}}', entryOf('style.css'));
  files.set('favicon.svg', await readFile(path.join(PLAYGROUND_DIR, 'favicon.svg')));
  files.set('index.html', new TextEncoder().encode(html));

  if (outDir === DIST_DIR) {
    // What the bundle read, for dist/'s staleness check (sourcesTime): written before index.html.
    await mkdir(path.dirname(INPUTS), { recursive: true });
    await writeFile(INPUTS, JSON.stringify(Object.keys(result.metafile.inputs).map((p) => path.resolve(PLAYGROUND_DIR, p))));
  }
  if (outDir !== null) await writeSite(outDir, files);
  return files;
}

/** The files dist/'s build read: kept out of the site (which is hosted as it is). */
const INPUTS = path.join(ROOT, 'node_modules', '.cache', 'runtools-playground', 'inputs.json');

/**
 * Writes each file through a temporary name and a rename, index.html last (its time says when the
 * site was complete), then removes what an older build left: a server building at the same time
 * writes the same files, and one reading sees whole files only.
 */
async function writeSite(outDir: string, files: PlaygroundFiles): Promise<void> {
  await mkdir(path.join(outDir, ASSETS_PREFIX), { recursive: true });
  const names = [...files.keys()].sort((a, b) => Number(a === 'index.html') - Number(b === 'index.html'));
  for (const name of names) {
    const target = path.join(outDir, name);
    const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
    await writeFile(temporary, files.get(name)!);
    await rename(temporary, target);
  }
  for (const name of await readdir(path.join(outDir, ASSETS_PREFIX))) {
    if (!files.has(ASSETS_PREFIX + name) && !name.startsWith('.')) await rm(path.join(outDir, ASSETS_PREFIX, name), { force: true });
  }
}

/**
 * Newest modification time of what the build reads: this folder (but dist/), every file the last
 * bundle read (esbuild's inputs: the SDK's and the registry's too) and the lockfile (the
 * dependencies). Without the list of inputs, the site is stale.
 */
async function sourcesTime(): Promise<number> {
  const inputs = await readFile(INPUTS, 'utf8').then((t) => JSON.parse(t) as string[], () => null);
  if (!inputs) return Infinity;
  const entries = (await readdir(PLAYGROUND_DIR, { recursive: true })).filter((p) => p.split(path.sep)[0] !== 'dist');
  const paths = [PLAYGROUND_DIR, ...entries.map((p) => path.join(PLAYGROUND_DIR, p)), ...inputs, path.join(ROOT, 'package-lock.json')];
  const times = await Promise.all(paths.map((p) => stat(p).then((s) => s.mtimeMs, () => 0)));
  return Math.max(...times);
}

async function readSite(dir: string): Promise<PlaygroundFiles> {
  const files: PlaygroundFiles = new Map();
  for (const name of await readdir(dir, { recursive: true })) {
    const relative = name.split(path.sep).join('/');
    if (relative.split('/').some((part) => part.startsWith('.'))) continue;
    const full = path.join(dir, name);
    if ((await stat(full)).isFile()) files.set(relative, await readFile(full));
  }
  return files;
}

/** The built playground: dist/ when it is newer than every source, else a fresh build (written to dist/). */
export async function loadPlayground(): Promise<PlaygroundFiles> {
  const built = await stat(path.join(DIST_DIR, 'index.html')).then((s) => s.mtimeMs, () => -1);
  if (built >= (await sourcesTime())) {
    const files = await readSite(DIST_DIR);
    if (files.has('index.html')) return files;
  }
  return buildPlayground();
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const started = Date.now();
  const files = await buildPlayground();
  for (const [name, contents] of files) process.stdout.write(`${String(contents.length).padStart(9)}  ${path.join(path.relative(process.cwd(), DIST_DIR), name)}\n`);
  process.stdout.write(`built in ${Date.now() - started} ms\n`);
}
