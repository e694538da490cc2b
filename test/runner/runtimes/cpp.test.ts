import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFlags, PCH_FILES, pchDir, pchStamp, pchUsable, standardFor } from '../../../functions/runner/runtimes/cpp.js';
import { findToolchain, getRuntime } from '../../../functions/runner/runtimes/index.js';
import { testRunner, type TestRunner } from '../../helpers/runner.js';

// What C++ programs meet beyond the registry's samples (test/runner/runtimes.test.ts runs those).
describe('cpp', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('a compile error is reported at the top level, as the compiler wrote it, and nothing runs', async () => {
    const result = await t.run({ runtime: 'c++', code: '#include <string>\n\nint main() {\n    std::string s = 1.5;\n}\n' });
    expect(result).toMatchObject({ stdout: '', exitCode: 1, status: 'compile_error', runtime: 'cpp' });
    expect(result.stderr).toMatch(/^main\.cpp:4:\d+: error: /m);
  });

  it('compiles every .cpp, .cc and .cxx file, in subfolders too, into one program', async () => {
    const result = await t.run({
      runtime: 'cpp',
      files: {
        'main.cpp': '#include <iostream>\n#include "parts/parts.hpp"\n\nint main() { std::cout << one() + two() + three() << "\\n"; }\n',
        'parts/parts.hpp': '#pragma once\nint one();\nint two();\nint three();\n',
        'parts/one.cc': '#include "parts.hpp"\nint one() { return 1; }\n',
        'parts/two.cxx': '#include "parts.hpp"\nint two() { return 2; }\n',
        'three.cpp': '#include "parts/parts.hpp"\nint three() { return 3; }\n',
      },
    });
    expect(result).toMatchObject({ stdout: '6\n', stderr: '', exitCode: 0 });
  });

  it("compiles in the standard the compiler's version calls for: C++17 before g++ 14, C++20 from it", async () => {
    const result = await t.run({ runtime: 'cpp', code: '#include <iostream>\n\nint main() { std::cout << __cplusplus << "\\n"; }\n' });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(standardFor(Number.parseInt(result.version, 10)) === 'c++20' ? '202002\n' : '201703\n');
    expect([standardFor(12), standardFor(13), standardFor(14), standardFor(15)]).toEqual(['c++17', 'c++17', 'c++20', 'c++20']);
  });

  it('an out-of-range access through at() ends in an uncaught exception: SIGABRT, its what() on stderr', async () => {
    const result = await t.run({ runtime: 'cpp', code: '#include <vector>\n\nint main() {\n    std::vector<int> v(3);\n    return v.at(7);\n}\n' });
    expect(result).toMatchObject({ exitCode: 134, signal: 'SIGABRT', status: 'runtime_error' });
    expect(result.stderr).toMatch(/terminate called after throwing an instance of 'std::out_of_range'\s+what\(\):\s+vector::_M_range_check/);
  });

  it('bits/stdc++.h works, first or after a macro (then g++ reads the real header, not the precompiled one)', async () => {
    const body = 'using namespace std;\nint main() { vector<int> v{3, 1, 2}; sort(v.begin(), v.end()); cout << v[0] << gcd(12, 18) << "\\n"; }\n';
    for (const before of ['', '#define _GLIBCXX_DEBUG 1\n']) {
      const result = await t.run({ runtime: 'cpp', code: `${before}#include <bits/stdc++.h>\n${body}` });
      expect(result, before).toMatchObject({ stdout: '16\n', stderr: '', exitCode: 0 });
    }
  });
});

describe('cpp: the precompiled bits/stdc++.h', () => {
  it('set-up built it for the compiler found here, and g++ takes it with the flags every compile uses', async () => {
    const tool = await findToolchain(getRuntime('cpp'));
    expect(tool).not.toBeNull();
    const version = execFileSync(tool!.bin, ['-dumpfullversion']).toString().trim();
    expect(pchUsable(pchDir(), tool!.bin, version)).toBe(true);
    // -H lists every header read on stderr; a precompiled one used is marked "!", one refused "x".
    const trace = spawnSync(tool!.bin, [...compileFlags(), '-I', pchDir(), '-H', '-fsyntax-only', '-x', 'c++', '-'], {
      input: '#include <bits/stdc++.h>\nint main() {}\n',
      encoding: 'utf8',
    });
    expect(trace.status).toBe(0);
    expect(trace.stderr.split('\n')[0]).toBe(`! ${path.join(pchDir(), PCH_FILES.header)}`);
    // Every compile points g++ at it, and has it bound read-only in its sandbox.
    expect(getRuntime('cpp').compileReadOnlyPaths!(tool!)).toEqual([pchDir()]);
  });

  it('is not used once any header it was built from is newer, or it was built by another compiler or with other flags', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-pch-'));
    try {
      const header = path.join(dir, 'include', 'vector');
      mkdirSync(path.dirname(header));
      writeFileSync(header, '// a header\n');
      utimesSync(header, new Date(2000, 0, 1), new Date(2000, 0, 1));
      mkdirSync(path.join(dir, 'bits'));
      writeFileSync(path.join(dir, PCH_FILES.header), 'gch');
      writeFileSync(path.join(dir, PCH_FILES.deps), `${path.join(dir, PCH_FILES.header)}: \\\n ${header}\n`);
      writeFileSync(path.join(dir, PCH_FILES.stamp), pchStamp('/usr/bin/g++', '12.2.0'));
      expect(pchUsable(dir, '/usr/bin/g++', '12.2.0')).toBe(true);
      expect(pchUsable(dir, '/usr/bin/g++', '12.3.0')).toBe(false);
      expect(pchUsable(dir, '/opt/gcc/bin/g++', '12.2.0')).toBe(false);
      writeFileSync(path.join(dir, PCH_FILES.stamp), JSON.stringify({ ...JSON.parse(pchStamp('/usr/bin/g++', '12.2.0')), flags: ['-O0'] }));
      expect(pchUsable(dir, '/usr/bin/g++', '12.2.0')).toBe(false);
      writeFileSync(path.join(dir, PCH_FILES.stamp), pchStamp('/usr/bin/g++', '12.2.0'));
      utimesSync(header, new Date(), new Date(Date.now() + 60_000));
      expect(pchUsable(dir, '/usr/bin/g++', '12.2.0')).toBe(false);
      expect(readFileSync(path.join(dir, PCH_FILES.header), 'utf8')).toBe('gch');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the image precompiles it with its own g++ (C++20), with the same script', () => {
    const dockerfile = readFileSync(path.resolve(import.meta.dirname, '../../../runtime-layers/cpp/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUNTOOLS_CXX_PCH=\/opt\/runtools\/\S+/);
    expect(dockerfile).toMatch(/^RUN \/usr\/local\/bin\/node \/opt\/runtools\/build-cpp-pch\.mjs$/m);
  });
});
