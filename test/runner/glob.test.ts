import { describe, expect, it } from 'vitest';
import { compileGlob, compileGlobs } from '../../functions/runner/glob.js';

/* The patterns of a request's `outputs` (API.md "Files out"), matched segment by segment. */

const matches = (pattern: string, p: string) => compileGlob(pattern).matches(p);

describe('output patterns', () => {
  it.each([
    ['*.png', 'plot.png', true],
    ['*.png', 'out/plot.png', false],
    ['*', 'x.log', true],
    ['*', 'out/x.log', false],
    ['out/*', 'out/a.txt', true],
    ['out/*', 'out/sub/b.bin', false],
    ['out/**', 'out/a.txt', true],
    ['out/**', 'out/sub/b.bin', true],
    ['out/**', 'out', false],
    ['**', 'a', true],
    ['**', 'a/b/c', true],
    ['**/*.csv', 'data.csv', true],
    ['**/*.csv', 'a/b/data.csv', true],
    ['a/**/b.txt', 'a/b.txt', true],
    ['a/**/b.txt', 'a/x/y/b.txt', true],
    ['a/**/b.txt', 'b.txt', false],
    ['?.txt', 'a.txt', true],
    ['?.txt', 'ab.txt', false],
    ['file[0-9].txt', 'file7.txt', true],
    ['file[0-9].txt', 'filex.txt', false],
    ['file[!0-9].txt', 'filex.txt', true],
    ['file[^0-9].txt', 'file1.txt', false],
    ['[]x]', ']', true],
    ['[*]', '*', true],
    ['[*]', 'a', false],
    ['a[', 'a[', true],
    ['*a*b*c*', 'xxaxxbxxcxx', true],
    ['*a*b*c*', 'xxaxxcxxbxx', false],
    ['é?.txt', 'éa.txt', true],
    ['?', '😀', true],
  ])('%s vs %s: %s', (pattern, p, expected) => {
    expect(matches(pattern, p)).toBe(expected);
  });

  it('matches dotfiles and goes into dot-directories only where the pattern names the leading dot', () => {
    expect(matches('*', '.hidden')).toBe(false);
    expect(matches('?hidden', '.hidden')).toBe(false);
    expect(matches('[.]hidden', '.hidden')).toBe(false);
    expect(matches('.hidden', '.hidden')).toBe(true);
    expect(matches('.*', '.hidden')).toBe(true);
    expect(matches('**', '.git/config')).toBe(false);
    expect(matches('**/*.txt', 'a/.cache/x.txt')).toBe(false);
    expect(matches('.cache/**', '.cache/x.txt')).toBe(true);
    expect(matches('out/**', 'out/.keep')).toBe(false);
  });

  it('says which folders can hold a match, so a walk skips the others unopened', () => {
    const g = compileGlobs(['out/**', '*.log', 'data/*/raw.csv']);
    expect(g.mayContain('')).toBe(true);
    expect(g.mayContain('out')).toBe(true);
    expect(g.mayContain('out/sub/deeper')).toBe(true);
    expect(g.mayContain('out/.git')).toBe(false);
    expect(g.mayContain('node_modules')).toBe(false);
    expect(g.mayContain('data')).toBe(true);
    expect(g.mayContain('data/2024')).toBe(true);
    expect(g.mayContain('data/2024/raw')).toBe(false);
    expect(compileGlob('*.png').mayContain('out')).toBe(false);
    expect(compileGlob('**/*.png').mayContain('a/b')).toBe(true);
  });

  it('stays fast on patterns that make naive matchers backtrack exponentially', () => {
    const started = performance.now();
    expect(matches('*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(200))).toBe(false);
    expect(matches('**/**/**/**/**/**/**/**/x', 'a/'.repeat(30) + 'y')).toBe(false);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
