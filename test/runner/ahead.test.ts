import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecuteRequestSchema, type ExecuteRequest, type ExecuteResult } from '../../functions/contract.js';
import { createRunner, type Runner } from '../../functions/runner/index.js';
import type { BwrapSandbox } from '../../functions/runner/sandbox/bwrap.js';
import { launcherPath } from '../../functions/runner/sandbox/launcher.js';

/**
 * Python interpreters started ahead of requests (functions/runner/runtimes/python-ahead): a program
 * must not be able to tell one from a fresh `python3 -u main.py`. Every probe runs in an interpreter started ahead
 * interpreter (checked) and in a fresh one, and everything it prints must be the same.
 */
const PROBE = `import os, sys
print(sys.argv, sys.orig_argv, sys.executable, sys.path, os.getcwd())
print(list(os.environ.items()))
print(sys.flags, sys.stdout.encoding, sys.stdout.line_buffering, sys.stdin.encoding, sys.getfilesystemencoding())
print(sorted(sys.modules))
print(sorted(globals()), __name__, __file__, __spec__, type(__loader__).__name__, __loader__.path, __package__, __cached__, __doc__, type(__builtins__).__name__)
print(sys._getframe().f_back, "sitecustomize" in sys.modules, sorted(sys.path_importer_cache))
print(sorted(os.listdir("/proc/self/fd")), open("/proc/self/cmdline").read().split("\\0"))
import traceback
traceback.print_stack()
import warnings
warnings.warn("top level", stacklevel=2)
print(repr(input()))
`;

const comparable = (r: ExecuteResult) => ({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut });

describe.runIf(launcherPath() !== null)('python interpreters started ahead', () => {
  let ahead: Runner;
  let fresh: Runner;
  const roots = [mkdtempSync(path.join(os.tmpdir(), 'runtools-ahead-')), mkdtempSync(path.join(os.tmpdir(), 'runtools-cold-'))];
  const sandbox = () => ahead.sandbox as unknown as BwrapSandbox;
  const parse = (req: ExecuteRequest) => ExecuteRequestSchema.parse(req);

  /** Runs req once in a waiting interpreter (asserting it was one) and once fresh. */
  async function both(req: ExecuteRequest) {
    for (let i = 0; i < 200 && !sandbox().pooled().python; i++) await new Promise((r) => setTimeout(r, 25));
    const before = sandbox().interpreterStarts;
    const a = await ahead.execute(parse(req));
    expect(sandbox().interpreterStarts, 'ran in a waiting interpreter').toBe(before + 1);
    const b = await fresh.execute(parse(req));
    return { ahead: a, fresh: b };
  }

  beforeAll(async () => {
    ahead = await createRunner({ workRoot: roots[0], poolSize: 2 });
    fresh = await createRunner({ workRoot: roots[1] });
    // Python requests turn the pool over to waiting interpreters.
    for (let i = 0; i < 20 && !sandbox().pooled().python; i++) {
      await ahead.execute(parse({ runtime: 'python', code: 'pass' }));
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  afterAll(async () => {
    await ahead.close();
    await fresh.close();
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  it.each<[string, ExecuteRequest]>([
    ['argv, path, environment, flags, modules, __main__, stack, descriptors, stdin', { runtime: 'python', code: PROBE, stdin: 'line\n', env: { EXTRA: 'a=b', EMPTY: '' } }],
    ['an uncaught exception and its traceback', { runtime: 'python', code: 'import json\ndef f(x):\n    return json.loads(x)\nf("{")\n' }],
    ['a syntax error', { runtime: 'python', code: 'print("a"\n' }],
    ['sys.exit with a code', { runtime: 'python', code: 'import sys\nprint("out")\nsys.exit(3)' }],
    ['sys.exit with a message', { runtime: 'python', code: 'import sys\nsys.exit("bye")' }],
    ['KeyboardInterrupt', { runtime: 'python', code: 'raise KeyboardInterrupt' }],
    ['a chained exception after atexit registration', { runtime: 'python', code: 'import atexit\natexit.register(print, "at exit")\ntry:\n    1/0\nexcept ZeroDivisionError as e:\n    raise ValueError("v") from e\n' }],
    ['pickling a class of __main__ and importing a sibling module', {
      runtime: 'python',
      files: { 'main.py': 'import pickle, helper\nclass P:\n    x = 1\nprint(pickle.loads(pickle.dumps(P())).__class__, helper.__file__, helper.who())\n', 'helper.py': 'def who():\n    import __main__\n    return __main__.__name__, __name__\n' },
    }],
    ['a coding cookie and a BOM', { runtime: 'python', code: '\ufeff# -*- coding: utf-8 -*-\nprint("é", __doc__)\n' }],
  ])('%s: the same as a fresh start', async (_name, req) => {
    const r = await both(req);
    expect(comparable(r.ahead)).toEqual(comparable(r.fresh));
  });

  it('prints the same probe a fresh interpreter prints (sanity of the probe itself)', async () => {
    const r = await both({ runtime: 'python', code: PROBE, stdin: 'x\n' });
    expect(r.ahead.exitCode).toBe(0);
    expect(r.ahead.stdout).toMatch(/^\['main.py'\] \['\/usr\/bin\/python3[.0-9]*', '-u', 'main.py'\]/);
    expect(r.ahead.stdout).not.toContain('RUNTOOLS_SPEC_FD');
    expect(r.ahead.stdout).not.toContain('/opt/runtools/.ahead');
    expect(r.ahead.stdout).toContain('None False');
  });

  it.each<[string, ExecuteRequest]>([
    ['args', { runtime: 'python', code: 'import sys; print(sys.argv)', args: ['a'] }],
    ['PYTHONPATH', { runtime: 'python', code: 'import sys; print(sys.path[1])', env: { PYTHONPATH: '/work/lib' } }],
    ['TZ', { runtime: 'python', code: 'import time; print(time.tzname)', env: { TZ: 'UTC0' } }],
    ['LANG', { runtime: 'python', code: 'import sys; print(sys.stdout.encoding)', env: { LANG: 'C' } }],
    ['LD_PRELOAD', { runtime: 'python', code: 'print(1)', env: { LD_PRELOAD: '' } }],
    ['another entry file', { runtime: 'python', files: { 'app.py': 'print(__file__)' }, entrypoint: 'app.py' }],
  ])('a request with %s starts a fresh interpreter, with the same result', async (_name, req) => {
    for (let i = 0; i < 200 && !sandbox().pooled().python; i++) await new Promise((r) => setTimeout(r, 25));
    const before = sandbox().interpreterStarts;
    const a = await ahead.execute(parse(req));
    expect(sandbox().interpreterStarts).toBe(before);
    const b = await fresh.execute(parse(req));
    expect(comparable(a)).toEqual(comparable(b));
  });

  it('carries nothing from one execution to the next', async () => {
    const first = await both({ runtime: 'python', code: 'import os, builtins\nos.environ["LEAK"] = "1"\nbuiltins.leak = 1\nopen("/tmp/leak", "w").write("1")\nopen("left.txt", "w").write("1")\nprint("set")' });
    expect(first.ahead.stdout).toBe('set\n');
    const second = await both({ runtime: 'python', code: 'import os, builtins\nprint(os.environ.get("LEAK"), hasattr(builtins, "leak"), os.path.exists("/tmp/leak"), os.listdir("."))' });
    expect(second.ahead.stdout).toBe("None False False ['main.py']\n");
  });

  it('other runtimes still get a prepared sandbox, and the pool follows the requests', async () => {
    for (let i = 0; i < 3; i++) expect((await ahead.execute(parse({ runtime: 'node', code: 'console.log(1)' }))).stdout).toBe('1\n');
    for (let i = 0; i < 200 && !sandbox().pooled().launcher; i++) await new Promise((r) => setTimeout(r, 25));
    expect(sandbox().pooled().launcher).toBeGreaterThan(0);
  });
});
