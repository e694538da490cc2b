import path from 'node:path';
import { goCacheOverlay, goCacheSnapshot } from '../gocache.js';
import { goCacheMaster } from '../paths.js';
import { firstExecutable, toolchainAt, which } from './locate.js';
import { defineHost, type CommandContext } from './types.js';

const BINARY = 'app';

/** The environment every Go command runs with: offline, local toolchain, no cgo. */
export function goEnv(cacheDir: string, tmpDir: string): Record<string, string> {
  return {
    GOCACHE: cacheDir,
    GOPATH: `${tmpDir}/go`,
    GOMODCACHE: `${tmpDir}/go/pkg/mod`,
    GOTOOLCHAIN: 'local',
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GOFLAGS: '-buildvcs=false',
    GO111MODULE: 'on',
    CGO_ENABLED: '0',
    GOTELEMETRY: 'off',
  };
}

function packageDir(ctx: CommandContext): string {
  const dir = path.posix.dirname(ctx.entry);
  return dir === '.' ? '.' : `./${dir}`;
}

/**
 * Go 1.23, building the entry's package over the prebuilt build cache (an overlay, or a symlink
 * farm, per compile: the shared cache is never written).
 */
export default defineHost({
  async locate(override) {
    const bin = firstExecutable([override, '/usr/lib/go-1.23/bin/go']) ?? which('go');
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, 'env', 'GOVERSION'],
    parse: (out) => out.trim().replace(/^go/, ''),
  },
  scaffold: ({ files }): Record<string, string> =>
    files.some((f) => f === 'go.mod' || f.endsWith('/go.mod')) ? {} : { 'go.mod': 'module main\n\ngo 1.23\n' },
  // The prebuilt master underneath, this build's entries on top: an overlay where the sandbox
  // can mount one (a mount, ~1 ms), else a farm of 2,100 symlinks (~50-100 ms).
  async prepareCompile(host) {
    const target = path.join(host.hostOutDir, 'gocache');
    if (!host.overlays) return void (await goCacheSnapshot(target));
    return [await goCacheOverlay(target, path.join(host.hostTmpDir, 'gocache'))];
  },
  compileReadOnlyPaths: () => [goCacheMaster()],
  compile: (ctx) => ({
    argv: [ctx.tool.bin, 'build', '-o', `${ctx.outDir}/${BINARY}`, packageDir(ctx)],
    env: { ...goEnv(`${ctx.outDir}/gocache`, ctx.tmpDir), PATH: `${ctx.tool.root}/bin` },
  }),
  compiledBinary: (ctx, stdout) => ({ binary: `${ctx.outDir}/${BINARY}`, stdout }),
  run: (ctx) => ({ argv: [ctx.binary!, ...ctx.args] }),
});
