import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstExecutable, toolchainAt, which } from './locate.js';
import { defineHost } from './types.js';

/** CPython 3; prefers the system interpreter, which carries Debian's numpy. Runs as the registry says. */
export default defineHost({
  async locate(override) {
    const bin = firstExecutable([override, '/usr/bin/python3']) ?? which('python3');
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => out.replace(/^Python\s+/, '').trim(),
  },
  // python-ahead/sitecustomize.py holds the interpreter in start-up until the spec comes, then
  // lets it open main.py as a fresh `python3 -u main.py` would.
  startAhead: {
    hostDir: path.join(path.dirname(fileURLToPath(import.meta.url)), 'python-ahead'),
    env: (hookDir, specFd) => ({ PYTHONPATH: hookDir, RUNTOOLS_SPEC_FD: String(specFd) }),
    accepts: (env) => Object.keys(env).every((k) => !STARTUP_ENV.test(k)),
  },
});

/**
 * Variables read while the interpreter (or the C library under it) starts: the interpreter's own,
 * locale, time zone (time is imported at start-up), HOME (the user site directory), the dynamic
 * loader and malloc. A request that sets one gets a fresh interpreter.
 */
const STARTUP_ENV = /^(PYTHON.*|LC_.*|LANG|LANGUAGE|TZ|HOME|PATH|TMPDIR|PWD|LD_.*|MALLOC_.*|GLIBC_.*)$/;
