import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goCacheOverlay, goCacheSnapshot } from '../../functions/runner/gocache.js';
import { goCacheMaster } from '../../functions/runner/paths.js';
import { BwrapSandbox } from '../../functions/runner/sandbox/bwrap.js';
import { createWorkspace, removeWorkspace } from '../../functions/runner/workspace.js';
import type { TestRunner } from '../helpers/runner.js';
import { asCompiler, expectContained, hostileRunner, newTag, treeFingerprint } from './harness.js';

/*
 * Go build cache poisoning. Every Go compile gets a private cache: an overlay with the prebuilt
 * master as its read-only lower layer (root), or directories of symlinks to the master bound
 * read-only during the compile; the master is not there at all during the run.
 * An attacker who could change the master would make a later, different execution link their
 * object files. `go build` runs no user code, so the compile-phase attack is played by a program
 * given exactly the compile phase's sandbox (a compromised compiler); the run-phase attack is a
 * real Go execution.
 */

const master = goCacheMaster();
const hasMaster = existsSync(master) && readdirSync(master).length > 0;

/** The master is large: every entry's metadata, one file's content in twenty. */
const fingerprint = () => treeFingerprint(master, 20);

const GO_HELLO = (text: string) => `package main

import "fmt"

func main() { fmt.Println(${JSON.stringify(text)}) }
`;

describe.runIf(hasMaster)('Go build cache poisoning', () => {
  let t: TestRunner;
  let before: string;
  beforeAll(async () => {
    t = await hostileRunner();
    before = fingerprint();
  });
  afterAll(() => t.dispose());

  it('a compromised compile cannot change the master through the symlink farm, chmod, rename or remount', async () => {
    const ws = await createWorkspace(t.workRoot);
    try {
      await goCacheSnapshot(path.join(ws.dirs.out, 'gocache'));
      const code = `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
master = ${JSON.stringify(master)}
farm = "/out/gocache"
done = {"write": 0, "chmod": 0, "utime": 0, "create": 0, "rename": 0, "unlink": 0, "replace": 0}
for d in sorted(os.listdir(farm))[:64]:
    for f in os.listdir(os.path.join(farm, d)):
        link = os.path.join(farm, d, f)
        target = os.readlink(link)
        for what, op in [
            ("write", lambda: open(link, "r+b").write(b"POISON")),
            ("chmod", lambda: os.chmod(link, 0o777)),
            ("utime", lambda: os.utime(link, (0, 0))),
            ("create", lambda: open(os.path.join(os.path.dirname(target), "poison-" + f), "wb").write(b"x")),
            ("rename", lambda: os.rename(target, target + "-moved")),
            ("unlink", lambda: os.unlink(target)),
        ]:
            try:
                op(); done[what] += 1
            except OSError:
                pass
        # Replacing the link itself is allowed: the farm is this compile's own.
        os.unlink(link)
        open(link, "wb").write(b"POISON")
        done["replace"] += 1
MS_REMOUNT, MS_BIND = 32, 4096
print("remount", libc.mount(b"none", master.encode(), None, MS_REMOUNT | MS_BIND, None))
print(done)`;
      const outcome = await asCompiler(t, ws, code, { readOnlyPaths: [master] });
      expect(outcome.stderr).toBe('');
      expect(outcome.stdout).toMatch(/^remount -1\n/);
      expect(outcome.stdout).toMatch(/'write': 0, 'chmod': 0, 'utime': 0, 'create': 0, 'rename': 0, 'unlink': 0, 'replace': [1-9]/);
    } finally {
      await removeWorkspace(ws);
    }
    expect(fingerprint()).toBe(before);
  });

  it.runIf(new BwrapSandbox().overlays)('a compile adds its new entries to its own layer over the master (the sandbox root has no CAP_DAC_OVERRIDE)', async () => {
    const ws = await createWorkspace(t.workRoot);
    try {
      const overlay = await goCacheOverlay(path.join(ws.dirs.out, 'gocache'), path.join(ws.dirs.tmp, 'gocache'));
      const dirs = readdirSync(master).filter((d) => /^[0-9a-f]{2}$/.test(d));
      const code = `import os
made = 0
for d in ${JSON.stringify(dirs)}:
    with open(os.path.join("/out/gocache", d, "new-entry-d"), "wb") as f:
        f.write(b"entry")
    made += 1
print(made)`;
      const outcome = await asCompiler(t, ws, code, { readOnlyPaths: [], overlays: [overlay] });
      expect(outcome.stderr).toBe('');
      expect(outcome.stdout).toBe(`${dirs.length}\n`);
      expect(readFileSync(path.join(overlay.upper, dirs[0]!, 'new-entry-d'), 'utf8')).toBe('entry');
    } finally {
      await removeWorkspace(ws);
    }
    expect(fingerprint()).toBe(before);
  });

  it.runIf(new BwrapSandbox().overlays)('a compromised compile cannot change the master through the overlay, and the next compile sees none of it', async () => {
    const ws = await createWorkspace(t.workRoot);
    try {
      const overlay = await goCacheOverlay(path.join(ws.dirs.out, 'gocache'), path.join(ws.dirs.tmp, 'gocache'));
      const code = `import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
cache = "/out/gocache"
done = {"write": 0, "chmod": 0, "utime": 0, "create": 0, "rename": 0, "unlink": 0}
for d in sorted(os.listdir(cache))[:64]:
    if not os.path.isdir(os.path.join(cache, d)):
        continue
    for f in os.listdir(os.path.join(cache, d)):
        p = os.path.join(cache, d, f)
        for what, op in [
            ("write", lambda: open(p, "r+b").write(b"POISON")),
            ("chmod", lambda: os.chmod(p, 0o777)),
            ("utime", lambda: os.utime(p, (0, 0))),
            ("create", lambda: open(os.path.join(cache, d, "poison-" + f), "wb").write(b"x")),
            ("rename", lambda: os.rename(p, p + "-moved")),
            ("unlink", lambda: os.unlink(p + "-moved")),
        ]:
            try:
                op(); done[what] += 1
            except OSError:
                pass
MS_REMOUNT, MS_BIND = 32, 4096
print("remount", libc.mount(b"none", cache.encode(), None, MS_REMOUNT | MS_BIND, None))
print("upper visible", os.path.exists(${JSON.stringify(overlay.upper)}), os.path.exists(${JSON.stringify(master)}))
print(done)`;
      const outcome = await asCompiler(t, ws, code, { readOnlyPaths: [], overlays: [overlay] });
      expect(outcome.stderr).toBe('');
      // What the entries' modes allow (chmod, utime: copied up) lands in this compile's own upper
      // layer; the master never changes, and neither it nor the upper layer is visible by path.
      expect(outcome.stdout).toMatch(/^remount -1\nupper visible False False\n\{'write': \d+, 'chmod': [1-9]/);
    } finally {
      await removeWorkspace(ws);
    }
    expect(fingerprint()).toBe(before);
    // A later compile of the same program builds and runs normally over a clean master.
    const tag = newTag();
    const result = await t.run({ runtime: 'go', code: GO_HELLO(tag) });
    expect(result).toMatchObject({ stdout: `${tag}\n`, exitCode: 0 });
    expect(fingerprint()).toBe(before);
  });

  it('a Go program cannot reach the master or its own farm at run time', async () => {
    const tag = newTag();
    const result = await t.run({
      runtime: 'go',
      args: [tag],
      code: `package main

import (
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	for _, p := range []string{${JSON.stringify(master)}, "/var/cache/runtools", "/out/gocache"} {
		_, err := os.Stat(p)
		fmt.Println("stat", p, err == nil)
	}
	written := 0
	filepath.Walk("/out/gocache", func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
				f.Write([]byte("POISON"))
				f.Close()
				written++
			}
			if os.Remove(p) == nil {
				written++
			}
		}
		return nil
	})
	fmt.Println("written", written)
}
`,
    });
    expect(result.stdout).toContain(`stat ${master} false`);
    expect(result.stdout).toContain('written 0');
    await expectContained(t, tag);
    expect(fingerprint()).toBe(before);
  });

  it('a later, different Go execution builds and runs its own code', async () => {
    const tag = newTag();
    const result = await t.run({ runtime: 'go', code: GO_HELLO(`clean ${tag}`) });
    expect(result.compile?.exitCode).toBe(0);
    expect(result.stdout).toBe(`clean ${tag}\n`);
    expect(fingerprint()).toBe(before);
    await expectContained(t, tag);
  });
});
