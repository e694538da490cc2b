/**
 * Builds the shared Go build cache ahead of executions: compiles the standard library with exactly the
 * environment executions use, then publishes the cache read-only (see publish.ts). Idempotent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { goEnv } from '../functions/runner/runtimes/go.js';
import { findToolchain, getRuntime } from '../functions/runner/runtimes/index.js';
import { goCacheMaster } from '../functions/runner/paths.js';
import { publishDir } from './publish.js';

const STAMP = '.runtools-warm';
/** Bumped when the published layout changes, so existing caches are built again. */
const LAYOUT = 'dirs-0755';

const tool = await findToolchain(getRuntime('go'));
if (!tool) {
  console.error('build-go-cache: Go is not installed; skipping');
  process.exit(0);
}
const master = goCacheMaster();
const version = execFileSync(tool.bin, ['env', 'GOVERSION'], { env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), GOTOOLCHAIN: 'local' } })
  .toString()
  .trim();
const stampFile = path.join(master, STAMP);
if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === `${version} ${tool.bin} ${LAYOUT}`) process.exit(0);

console.error(`build-go-cache: building the ${version} standard library into ${master} (about a minute, once)`);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'runtools-go-cache-'));
try {
  publishDir(master, (staging) => {
    const env = { ...goEnv(staging, scratch), PATH: `${path.dirname(tool.bin)}:/usr/bin:/bin`, HOME: scratch };
    execFileSync(tool.bin, ['build', 'std'], { env, cwd: scratch, stdio: ['ignore', 'inherit', 'inherit'] });
    writeFileSync(path.join(scratch, 'go.mod'), 'module main\n\ngo 1.23\n');
    writeFileSync(path.join(scratch, 'main.go'), 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("prebuilt") }\n');
    execFileSync(tool.bin, ['build', '-o', path.join(scratch, 'app'), '.'], { env, cwd: scratch, stdio: 'inherit' });
    writeFileSync(path.join(staging, STAMP), `${version} ${tool.bin} ${LAYOUT}\n`);
  });
  const files = readdirSync(master).filter((d) => statSync(path.join(master, d)).isDirectory()).length;
  console.error(`build-go-cache: done (${files} cache directories)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
