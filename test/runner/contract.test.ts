import { describe, expect, it } from 'vitest';
import { ExecuteRequestSchema, executeRequestSchema, pathProblem } from '../../functions/contract.js';
import { RUNTIMES } from '../../functions/runtimes.js';

const parse = (body: unknown) => ExecuteRequestSchema.safeParse(body);

describe('ExecuteRequest', () => {
  it('applies the documented defaults', () => {
    const r = ExecuteRequestSchema.parse({ runtime: 'python', code: 'print(1)' });
    expect(r).toEqual({ runtime: 'python', code: 'print(1)', stdin: '', timeout: 30_000, env: {}, args: [] });
  });

  it.each(RUNTIMES.flatMap((r) => [r.id, ...r.aliases, r.id.toUpperCase()].map((name) => [name, r.id])))('accepts the name %s for %s', (name, id) => {
    expect(ExecuteRequestSchema.parse({ runtime: name, code: '' }).runtime).toBe(id);
  });

  it('rejects an unknown runtime, naming the accepted ones', () => {
    const r = parse({ runtime: 'cobol', code: '' });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toContain('python');
  });

  it.each(['/etc/passwd', '../x.py', 'a/../b.py', 'a//b.py', 'a\\b.py', 'a\0b', 'dir/', './main.py', ''])(
    'rejects the path %j',
    (p) => {
      const problem = pathProblem(p);
      expect(problem).not.toBeNull();
      // Rejected for the path itself: the entrypoint names it, and the issue says what is wrong.
      for (const body of [{ runtime: 'python', files: { [p]: 'x' }, entrypoint: p }, { runtime: 'python', code: 'x', entrypoint: p }]) {
        const r = parse(body);
        expect(r.success).toBe(false);
        expect(r.error!.issues.map((i) => i.message).join('\n')).toContain(problem);
      }
    },
  );

  it('accepts subfolders', () => {
    expect(parse({ runtime: 'python', files: { 'main.py': '', 'pkg/sub/util.py': '' } }).success).toBe(true);
  });

  it('requires code or files', () => {
    expect(parse({ runtime: 'python' }).success).toBe(false);
  });

  it('resolves the entry file as API.md says', () => {
    expect(parse({ runtime: 'python', files: { 'main.py': '', 'b.py': '' } }).success).toBe(true);
    expect(parse({ runtime: 'python', files: { 'only.py': '' } }).success).toBe(true);
    const ambiguous = parse({ runtime: 'python', files: { 'a.py': '', 'b.py': '' } });
    expect(ambiguous.success).toBe(false);
    expect(ambiguous.error!.issues[0]!.message).toContain('entrypoint');
    expect(parse({ runtime: 'python', files: { 'a.py': '' }, entrypoint: 'missing.py' }).success).toBe(false);
    expect(parse({ runtime: 'python', code: 'x', files: { 'main.py': '' } }).success).toBe(false);
    expect(parse({ runtime: 'python', code: 'x', files: { 'helper.py': '' } }).success).toBe(true);
  });

  it('rejects a path that is both a file and a folder', () => {
    expect(parse({ runtime: 'python', files: { 'main.py': '', 'a': '', 'a/b.py': '' } }).success).toBe(false);
  });

  it('validates env names, timeout bounds and stdin size', () => {
    expect(parse({ runtime: 'python', code: '', env: { '1BAD': 'x' } }).success).toBe(false);
    expect(parse({ runtime: 'python', code: '', env: { 'A-B': 'x' } }).success).toBe(false);
    expect(parse({ runtime: 'python', code: '', timeout: 0 }).success).toBe(false);
    expect(parse({ runtime: 'python', code: '', timeout: 1.5 }).success).toBe(false);
    const tooLong = parse({ runtime: 'python', code: '', timeout: 10_000_000 });
    expect(tooLong.success).toBe(false);
    expect(tooLong.error!.issues[0]!.message).toContain('300000');
    const small = executeRequestSchema({ maxBodyBytes: 1000, maxFiles: 2, maxStdinBytes: 4, maxTimeoutMs: 1000, defaultTimeoutMs: 500, maxMemoryMb: 64 });
    expect(small.safeParse({ runtime: 'python', code: '', stdin: 'abcde' }).success).toBe(false);
    expect(small.safeParse({ runtime: 'python', code: '', memoryLimitMb: 64 }).success).toBe(true);
    const tooMuch = small.safeParse({ runtime: 'python', code: '', memoryLimitMb: 65 });
    expect(tooMuch.error!.issues[0]).toMatchObject({ path: ['memoryLimitMb'], message: 'memoryLimitMb must be at most 64 (the server maximum)' });
    expect(small.safeParse({ runtime: 'python', code: '', memoryLimitMb: 0 }).success).toBe(false);
    expect(small.safeParse({ runtime: 'python', code: '', memoryLimitMb: 1.5 }).success).toBe(false);
    expect(small.safeParse({ runtime: 'python', files: { 'a.py': '', 'b.py': '', 'main.py': '' } }).success).toBe(false);
    expect(small.parse({ runtime: 'python', code: '' }).timeout).toBe(500);
  });

  it('rejects unknown fields and wrong types', () => {
    expect(parse({ runtime: 'python', code: '', extra: 1 }).success).toBe(false);
    expect(parse({ runtime: 'python', code: 5 }).success).toBe(false);
    expect(parse({ runtime: 'python', code: '', args: 'a b' }).success).toBe(false);
  });
});
