import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pchDir } from '../../functions/runner/runtimes/cpp.js';
import { getRuntime } from '../../functions/runner/runtimes/index.js';
import { createWorkspace, removeWorkspace } from '../../functions/runner/workspace.js';
import type { TestRunner } from '../helpers/runner.js';
import { asCompiler, expectContained, hostileRunner, newTag, treeFingerprint } from './harness.js';

/*
 * Poisoning the precompiled bits/stdc++.h: every C++ compile that includes it would take in
 * whatever a changed file says. Compiles see its directory read-only, runs not at all. g++ runs no
 * user code, so the compile-phase attack is played by a program given exactly the compile phase's
 * sandbox (a compromised compiler); the run-phase one is a real C++ execution.
 */

const dir = pchDir();
const hasPch = existsSync(path.join(dir, 'stamp.json'));

const fingerprint = () => treeFingerprint(dir);

describe.runIf(hasPch)('C++ precompiled header poisoning', () => {
  let t: TestRunner;
  let before: string;
  beforeAll(async () => {
    t = await hostileRunner();
    before = fingerprint();
  });
  afterAll(() => t.dispose());

  it('a compromised compile cannot write, chmod, touch, add to, rename, remove or remount it', async () => {
    // What a C++ compile is given once the runner has located g++ (which checks the header).
    const cpp = await t.runner.locate('cpp');
    expect(cpp).not.toBeNull();
    const readOnlyPaths = getRuntime('cpp').compileReadOnlyPaths!(cpp!.tool);
    expect(readOnlyPaths).toEqual([dir]);
    const code = `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
top = ${JSON.stringify(dir)}
done = {"write": 0, "chmod": 0, "utime": 0, "create": 0, "rename": 0, "unlink": 0}
seen = 0
for d, _, files in os.walk(top):
    for f in files:
        p = os.path.join(d, f)
        seen += 1
        for what, op in [
            ("write", lambda: open(p, "r+b").write(b"POISON")),
            ("chmod", lambda: os.chmod(p, 0o777)),
            ("utime", lambda: os.utime(p, (0, 0))),
            ("create", lambda: open(os.path.join(d, "poison-" + f), "wb").write(b"x")),
            ("rename", lambda: os.rename(p, p + "-moved")),
            ("unlink", lambda: os.unlink(p)),
        ]:
            try:
                op(); done[what] += 1
            except OSError:
                pass
MS_REMOUNT, MS_BIND = 32, 4096
print("remount", libc.mount(b"none", top.encode(), None, MS_REMOUNT | MS_BIND, None))
print(seen, done)`;
    const ws = await createWorkspace(t.workRoot);
    try {
      const outcome = await asCompiler(t, ws, code, { readOnlyPaths });
      expect(outcome.stderr).toBe('');
      expect(outcome.stdout).toBe("remount -1\n3 {'write': 0, 'chmod': 0, 'utime': 0, 'create': 0, 'rename': 0, 'unlink': 0}\n");
    } finally {
      await removeWorkspace(ws);
    }
    expect(fingerprint()).toBe(before);
  });

  it('a C++ program cannot reach it at run time', async () => {
    const tag = newTag();
    const code = `#include <fstream>
#include <iostream>
#include <sys/stat.h>

int main() {
    struct stat st;
    std::ofstream poison("${dir}/bits/stdc++.h.gch", std::ios::binary | std::ios::app);
    std::cout << (stat("${dir}", &st) == 0 ? "visible" : "absent") << (poison ? " writable" : "") << "\\n";
}
`;
    const result = await t.run({ runtime: 'cpp', code, args: [tag] });
    expect(result).toMatchObject({ stdout: 'absent\n', exitCode: 0 });
    await expectContained(t, tag);
    expect(fingerprint()).toBe(before);
  });
});
