import { firstExecutable, toolchainAt, which } from './locate.js';
import { defineHost } from './types.js';

/** GNU bash (never /bin/sh, which is dash on Debian: the alias `sh` runs bash too); runs as the registry says. */
export default defineHost({
  async locate(override) {
    const bin = firstExecutable([override, '/usr/bin/bash', '/bin/bash']) ?? which('bash');
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => /version (\d+\.\d+\.\d+)/.exec(out)?.[1] ?? out.split('\n')[0]!.trim(),
  },
});
