import path from 'node:path';
import { firstExecutable, npmBinary, which } from './locate.js';
import { defineHost } from './types.js';

/** Bun, from its npm package; TypeScript entry files run directly, package auto-install is off (the registry's command). */
export default defineHost({
  async locate(override) {
    const bin =
      firstExecutable([override]) ??
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
});
