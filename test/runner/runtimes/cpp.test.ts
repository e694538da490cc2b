import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standardFor } from '../../../functions/runner/runtimes/cpp.js';
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
});
