import { firstExecutable, toolchainAt, which } from './locate.js';
import { defineHost } from './types.js';

/** Ruby (MRI), with its standard library and bundled gems; runs as the registry says. */
export default defineHost({
  async locate(override) {
    const bin = firstExecutable([override, '/usr/bin/ruby']) ?? which('ruby');
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => /ruby (\d+\.\d+\.\d+)/.exec(out)?.[1] ?? out.trim(),
  },
});
