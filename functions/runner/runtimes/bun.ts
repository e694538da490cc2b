import path from 'node:path';
import { firstExecutable, npmBinary, which } from './locate.js';
import { defineRuntime } from './types.js';

/** Bun; TypeScript entry files run directly, package auto-install is off. */
export default defineRuntime({
  id: 'bun',
  aliases: [],
  entrypoint: 'main.ts',
  compiled: false,
  async locate() {
    const bin =
      firstExecutable([process.env.RUNTOOLS_BUN]) ??
      npmBinary('bun', ['bin/bun.exe', 'bin/bun']) ??
      // Without its postinstall (npm's allowScripts), the binary stays in the platform package.
      npmBinary(`@oven/bun-linux-${process.arch === 'arm64' ? 'aarch64' : 'x64'}`, ['bin/bun']) ??
      npmBinary(`@oven/bun-linux-${process.arch === 'arm64' ? 'aarch64' : 'x64'}-baseline`, ['bin/bun']) ??
      which('bun');
    return bin ? { root: path.dirname(bin), bin } : null;
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => out.trim(),
  },
  run: (ctx) => ({
    argv: [ctx.tool.bin, '--no-install', ctx.entry, ...ctx.args],
    env: { BUN_INSTALL_CACHE_DIR: `${ctx.tmpDir}/.bun-cache`, BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0', DO_NOT_TRACK: '1' },
  }),
});
