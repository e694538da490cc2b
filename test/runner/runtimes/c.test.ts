import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRunner, type TestRunner } from '../../helpers/runner.js';

// What C programs meet beyond the registry's samples (test/runner/runtimes.test.ts runs those).
describe('c', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('a compile error is reported at the top level, as the compiler wrote it, and nothing runs', async () => {
    const result = await t.run({ runtime: 'c', code: '#include <stdio.h>\n\nint main(void) { puts("ran"); return missing; }\n' });
    expect(result).toMatchObject({ stdout: '', exitCode: 1, status: 'compile_error', compile: { exitCode: 1, status: 'runtime_error' } });
    expect(result.stderr).toMatch(/^main\.c:3:\d+: error: .missing. undeclared/m);
    expect(result.compile?.stderr).toBe(result.stderr);
  });

  it('a link error is a compile error too', async () => {
    const result = await t.run({ runtime: 'c', code: 'void helper(void);\n\nint main(void) { helper(); return 0; }\n' });
    expect(result).toMatchObject({ stdout: '', exitCode: 1, status: 'compile_error' });
    expect(result.stderr).toMatch(/undefined reference to .helper'/);
  });

  it("has the C library's POSIX names and M_PI (gnu17), and links libm", async () => {
    const code = `#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    char *copy = strdup(argv[1]);
    char *line = NULL;
    size_t size = 0;
    ssize_t n = getline(&line, &size, stdin);
    printf("%s %zd %.4f %.1f\\n", copy, n, M_PI, sqrt(atof(argv[2])));
    free(copy);
    free(line);
    return 0;
}
`;
    const result = await t.run({ runtime: 'c', code, args: ['copied', '2.25'], stdin: 'abc\n' });
    expect(result.compile?.stderr).toBe('');
    expect(result).toMatchObject({ stdout: 'copied 4 3.1416 1.5\n', stderr: '', exitCode: 0 });
  });

  it('calling an undeclared function is an error, as with GCC 14 (no pointer cut to an int)', async () => {
    const result = await t.run({ runtime: 'c', code: '#include <stdio.h>\n\nint main(void) {\n    char *s = strdup("x");\n    puts(s);\n    return 0;\n}\n' });
    expect(result).toMatchObject({ exitCode: 1, status: 'compile_error' });
    expect(result.stderr).toMatch(/main\.c:4:\d+: error: implicit declaration of function .strdup./);
  });

  it('files in subfolders are compiled and their headers found beside them; headers are not compiled', async () => {
    const result = await t.run({
      runtime: 'c',
      files: {
        'main.c': '#include <stdio.h>\n#include "geo/area.h"\n\nint main(void) { printf("%d\\n", area(6, 7)); return 0; }\n',
        'geo/area.h': '#pragma once\n#include "units.h"\n\nint area(int w, int h);\n',
        'geo/units.h': '#pragma once\n#define SCALE 1\n',
        'geo/area.c': '#include "area.h"\n\nint area(int w, int h) { return SCALE * w * h; }\n',
      },
    });
    expect(result).toMatchObject({ stdout: '42\n', stderr: '', exitCode: 0 });
  });

  it('a segmentation fault is the signal SIGSEGV, exit code 139', async () => {
    const result = await t.run({ runtime: 'c', code: 'int main(void) {\n    volatile int *p = 0;\n    return *p;\n}\n' });
    expect(result).toMatchObject({ exitCode: 139, signal: 'SIGSEGV', status: 'runtime_error', timedOut: false });
  });

  it('an abort is the signal SIGABRT (not its alias SIGIOT), exit code 134', async () => {
    const result = await t.run({ runtime: 'c', code: '#include <stdlib.h>\n\nint main(void) { abort(); }\n' });
    expect(result).toMatchObject({ exitCode: 134, signal: 'SIGABRT', status: 'runtime_error' });
  });

  it('the compiler cannot read host files: an #include of one fails', async () => {
    const dir = mkdtempSync(path.join(os.homedir(), '.runtools-c-secret-'));
    const secret = path.join(dir, 'secret.h');
    writeFileSync(secret, 'int secret = 42;\n');
    try {
      const result = await t.run({ runtime: 'c', code: `#include "${secret}"\n\nint main(void) { return secret; }\n` });
      expect(result).toMatchObject({ exitCode: 1, status: 'compile_error' });
      expect(result.stderr).toContain(`${secret}: No such file or directory`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an identical program comes from the build cache', async () => {
    const code = '#include <stdio.h>\n\nint main(int argc, char **argv) { printf("%d\\n", argc); return 0; }\n';
    const first = await t.run({ runtime: 'c', code });
    const second = await t.run({ runtime: 'c', code, args: ['x'] });
    expect(first).toMatchObject({ stdout: '1\n', compile: { status: 'ok' } });
    expect(first.compile?.cached).toBeUndefined();
    expect(second).toMatchObject({ stdout: '2\n', compile: { cached: true } });
  });
});
