import { firstExecutable, toolchainAt, which } from './locate.js';
import { defineHost } from './types.js';

/**
 * The PHP CLI; Debian's `php` is an alternative (/usr/bin/php → /etc/alternatives/php →
 * php8.2), resolved to the real binary. Its php.ini and extension list live in /etc/php (the
 * registry's bind). Runs as the registry says.
 */
export default defineHost({
  async locate(override) {
    const bin = firstExecutable([override, '/usr/bin/php']) ?? which('php');
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => /^PHP (\d+\.\d+\.\d+)/.exec(out)?.[1] ?? out.split('\n')[0]!.trim(),
  },
});
