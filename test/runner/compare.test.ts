import { describe, expect, it } from 'vitest';
import {
  compareOutputs,
  DIFF_SIDE_CHARS,
  type CompareMode,
  type Comparison,
} from '../../functions/runner/grading/compare.js';

const FLOAT: CompareMode = { mode: 'float' };

/** The comparison of two differing outputs, for checking its diff. */
function diffOf(expected: string, actual: string, mode: CompareMode) {
  const result = compareOutputs(expected, actual, mode);
  if (result.equal) throw new Error(`expected ${JSON.stringify(expected)} and ${JSON.stringify(actual)} to differ`);
  return result.diff;
}

function equal(expected: string, actual: string, mode: CompareMode): boolean {
  return compareOutputs(expected, actual, mode).equal;
}

/** True when `s` holds no lone surrogate. */
function wellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

describe('exact', () => {
  it('passes identical outputs, including empty ones', () => {
    expect(compareOutputs('a\nb\n', 'a\nb\n', 'exact')).toEqual<Comparison>({ equal: true });
    expect(compareOutputs('', '', 'exact')).toEqual<Comparison>({ equal: true });
    expect(equal('héllo 😀\r\n', 'héllo 😀\r\n', 'exact')).toBe(true);
  });

  it('reports the first differing line', () => {
    expect(diffOf('a\nb\nc\n', 'a\nx\nc\n', 'exact')).toEqual({ line: 2, expected: 'b', actual: 'x' });
    expect(diffOf('a\nb\nc\nd\n', 'a\nb\nc\ne\n', 'exact')).toEqual({ line: 4, expected: 'd', actual: 'e' });
    expect(diffOf('abc', 'abd', 'exact')).toEqual({ line: 1, expected: 'abc', actual: 'abd' });
  });

  it('fails CRLF against LF and shows the carriage return', () => {
    expect(diffOf('a\r\nb\r\n', 'a\nb\n', 'exact')).toEqual({ line: 1, expected: 'a\r', actual: 'a' });
    expect(diffOf('a\nb\n', 'a\nb\r\n', 'exact')).toEqual({ line: 2, expected: 'b', actual: 'b\r' });
  });

  it('fails a missing final newline and shows the newline on the side that has it', () => {
    expect(diffOf('abc\n', 'abc', 'exact')).toEqual({ line: 1, expected: 'abc\n', actual: 'abc' });
    expect(diffOf('abc', 'abc\n', 'exact')).toEqual({ line: 1, expected: 'abc', actual: 'abc\n' });
    expect(diffOf('a\nb\n', 'a\nb', 'exact')).toEqual({ line: 2, expected: 'b\n', actual: 'b' });
  });

  it('fails an extra trailing empty line', () => {
    expect(diffOf('a\n', 'a\n\n', 'exact')).toEqual({ line: 2, expected: '', actual: '\n' });
    expect(diffOf('a\n\n', 'a\n', 'exact')).toEqual({ line: 2, expected: '\n', actual: '' });
  });

  it('shows the newline when one side goes on past the other', () => {
    expect(diffOf('abc\nxyz\n', 'abc', 'exact')).toEqual({ line: 1, expected: 'abc\n', actual: 'abc' });
  });

  it('fails trailing spaces and leading whitespace', () => {
    expect(diffOf('a\nb \n', 'a\nb\n', 'exact')).toEqual({ line: 2, expected: 'b ', actual: 'b' });
    expect(diffOf('a\n', ' a\n', 'exact')).toEqual({ line: 1, expected: 'a', actual: ' a' });
  });

  it('reports extra and missing lines', () => {
    expect(diffOf('a\n', 'a\nb\n', 'exact')).toEqual({ line: 2, expected: '', actual: 'b' });
    expect(diffOf('a\nb\n', 'a\n', 'exact')).toEqual({ line: 2, expected: 'b', actual: '' });
  });

  it('handles empty outputs and a difference at the very start', () => {
    expect(diffOf('', 'x', 'exact')).toEqual({ line: 1, expected: '', actual: 'x' });
    expect(diffOf('x', '', 'exact')).toEqual({ line: 1, expected: 'x', actual: '' });
    expect(diffOf('', '\n', 'exact')).toEqual({ line: 1, expected: '', actual: '\n' });
    expect(diffOf('\n', 'x', 'exact')).toEqual({ line: 1, expected: '', actual: 'x' });
    expect(diffOf('\nabc', '\nabd', 'exact')).toEqual({ line: 2, expected: 'abc', actual: 'abd' });
  });
});

describe('lines', () => {
  it('passes identical outputs, including empty ones', () => {
    expect(compareOutputs('a\nb\n', 'a\nb\n', 'lines')).toEqual<Comparison>({ equal: true });
    expect(equal('', '', 'lines')).toBe(true);
  });

  it('ignores CRLF against LF', () => {
    expect(equal('a\r\nb\r\n', 'a\nb\n', 'lines')).toBe(true);
    expect(equal('a\nb\n', 'a\r\nb\r\n', 'lines')).toBe(true);
  });

  it('ignores a missing final newline', () => {
    expect(equal('a\nb\n', 'a\nb', 'lines')).toBe(true);
    expect(equal('a\nb', 'a\nb\n', 'lines')).toBe(true);
  });

  it('ignores trailing whitespace on each line', () => {
    expect(equal('a\nb\nc\n', 'a  \nb\t\t\nc \f\v\r\n', 'lines')).toBe(true);
    expect(equal('a \t\nb', 'a\nb', 'lines')).toBe(true);
  });

  it('ignores trailing empty lines', () => {
    expect(equal('a\n', 'a\n\n\n', 'lines')).toBe(true);
    expect(equal('a\n\n\r\n  \n', 'a', 'lines')).toBe(true);
    expect(equal('', '\n\n \r\n\t', 'lines')).toBe(true);
  });

  it('fails leading whitespace that differs', () => {
    expect(diffOf('a\nb\n', 'a\n  b\n', 'lines')).toEqual({ line: 2, expected: 'b', actual: '  b' });
    expect(diffOf('\tx', 'x', 'lines')).toEqual({ line: 1, expected: '\tx', actual: 'x' });
  });

  it('fails a blank line in the middle', () => {
    expect(diffOf('a\n\nb\n', 'a\nb\n', 'lines')).toEqual({ line: 2, expected: '', actual: 'b' });
    expect(diffOf('a\nb\n', 'a\n\nb\n', 'lines')).toEqual({ line: 2, expected: 'b', actual: '' });
    expect(diffOf('a\n\n\nb', 'a\n\nb', 'lines')).toEqual({ line: 3, expected: '', actual: 'b' });
  });

  it('treats a whitespace-only line in the middle as blank', () => {
    expect(equal('a\n \t\nb', 'a\n\nb', 'lines')).toBe(true);
  });

  it('keeps whitespace inside a line and whitespace beyond ASCII', () => {
    expect(diffOf('a b', 'a  b', 'lines')).toEqual({ line: 1, expected: 'a b', actual: 'a  b' });
    expect(diffOf('ab', 'a\rb', 'lines')).toEqual({ line: 1, expected: 'ab', actual: 'a\rb' });
    expect(diffOf('a', 'a\u00a0', 'lines')).toEqual({ line: 1, expected: 'a', actual: 'a\u00a0' });
  });

  it('reports the first differing line with trailing whitespace left out', () => {
    expect(diffOf('a\nb\nc\n', 'a\nb\nd\n', 'lines')).toEqual({ line: 3, expected: 'c', actual: 'd' });
    expect(diffOf('a\r\nb  \r\n', 'a\nc\t\n', 'lines')).toEqual({ line: 2, expected: 'b', actual: 'c' });
  });

  it('reports missing and extra lines with an empty side', () => {
    expect(diffOf('a\nb\n', 'a\n', 'lines')).toEqual({ line: 2, expected: 'b', actual: '' });
    expect(diffOf('a\n', 'a\n\n\nb\n', 'lines')).toEqual({ line: 2, expected: '', actual: '' });
    expect(diffOf('a\n', 'a\nb\n', 'lines')).toEqual({ line: 2, expected: '', actual: 'b' });
    expect(diffOf('', 'x', 'lines')).toEqual({ line: 1, expected: '', actual: 'x' });
    expect(diffOf('x\n', '\n\n', 'lines')).toEqual({ line: 1, expected: 'x', actual: '' });
  });

  it('compares unicode text', () => {
    expect(equal('héllo wörld 😀\r\n', 'héllo wörld 😀', 'lines')).toBe(true);
    expect(diffOf('😀\n', '😁\n', 'lines')).toEqual({ line: 1, expected: '😀', actual: '😁' });
  });
});

describe('tokens', () => {
  it('ignores all whitespace between tokens', () => {
    expect(compareOutputs('1 2\n3\n', '  1\t2   3', 'tokens')).toEqual<Comparison>({ equal: true });
    expect(equal('a b c', 'a\r\nb\f\vc\r\n\n', 'tokens')).toBe(true);
    expect(equal('a\n\nb\n', 'a\nb', 'tokens')).toBe(true);
  });

  it('passes leading whitespace that lines mode fails', () => {
    expect(equal('a\nb\n', ' a\n\tb\n', 'tokens')).toBe(true);
    expect(equal('a\nb\n', ' a\n\tb\n', 'lines')).toBe(false);
  });

  it('ignores CRLF, a missing final newline, trailing spaces and trailing empty lines', () => {
    expect(equal('a\r\nb\r\n', 'a\nb', 'tokens')).toBe(true);
    expect(equal('a b  \n\n\n', 'a b', 'tokens')).toBe(true);
  });

  it('handles empty outputs', () => {
    expect(equal('', '', 'tokens')).toBe(true);
    expect(equal('', ' \n\t\r\n', 'tokens')).toBe(true);
    expect(diffOf('', 'x', 'tokens')).toEqual({ line: 1, expected: '', actual: 'x' });
    expect(diffOf('x', '', 'tokens')).toEqual({ line: 1, expected: 'x', actual: '' });
    expect(diffOf('x', '\n\n', 'tokens')).toEqual({ line: 1, expected: 'x', actual: '' });
  });

  it('compares tokens exactly, numbers included', () => {
    expect(diffOf('1.0', '1', 'tokens')).toEqual({ line: 1, expected: '1.0', actual: '1' });
    expect(diffOf('Yes', 'yes', 'tokens')).toEqual({ line: 1, expected: 'Yes', actual: 'yes' });
    expect(diffOf('a b', 'a\u00a0b', 'tokens')).toEqual({ line: 1, expected: 'a b', actual: 'a\u00a0b' });
  });

  it('reports the whole line holding the first mismatching token on each side', () => {
    expect(diffOf('1 2\n3 4\n', '1 2\n3 5\n', 'tokens')).toEqual({ line: 2, expected: '3 4', actual: '3 5' });
    // The line is the actual output's; the expected side shows the line of its token at the same index.
    expect(diffOf('1 2 3 4\n', '1\n2\n3\n5\n', 'tokens')).toEqual({ line: 4, expected: '1 2 3 4', actual: '5' });
    expect(diffOf('1\n2\n3\n4\n', '1 2 3 5', 'tokens')).toEqual({ line: 1, expected: '4', actual: '1 2 3 5' });
    expect(diffOf('x', '\n\n  y  ', 'tokens')).toEqual({ line: 3, expected: 'x', actual: '  y  ' });
  });

  it('shows lines without their trailing carriage return', () => {
    expect(diffOf('a b\r\nc\r\n', 'a b\r\nd\r\n', 'tokens')).toEqual({ line: 2, expected: 'c', actual: 'd' });
  });

  it('fails a token count mismatch', () => {
    // The actual output ran out: the line after its last non-empty line.
    expect(diffOf('1 2\n3\n', '1 2\n\n\n', 'tokens')).toEqual({ line: 2, expected: '3', actual: '' });
    expect(diffOf('1 2 3', '1 2', 'tokens')).toEqual({ line: 2, expected: '1 2 3', actual: '' });
    expect(diffOf('a\nb\nc\n', 'a\nb  \n \n', 'tokens')).toEqual({ line: 3, expected: 'c', actual: '' });
    // The expected output ran out.
    expect(diffOf('1 2', '1 2\n\n3', 'tokens')).toEqual({ line: 3, expected: '', actual: '3' });
    expect(diffOf('1 2', '1 2 3', 'tokens')).toEqual({ line: 1, expected: '', actual: '1 2 3' });
  });

  it('compares unicode tokens', () => {
    expect(equal('héllo  😀\n', 'héllo 😀', 'tokens')).toBe(true);
    expect(diffOf('😀', '😁', 'tokens')).toEqual({ line: 1, expected: '😀', actual: '😁' });
  });
});

describe('float', () => {
  it('passes numbers within the default tolerance', () => {
    expect(compareOutputs('0.1 0.2\n', '0.1000001 0.2', FLOAT)).toEqual<Comparison>({ equal: true });
    expect(equal('3.14159', '3.1415905', FLOAT)).toBe(true);
    expect(equal('1.0', '1', FLOAT)).toBe(true);
    expect(equal('100', '1e2', FLOAT)).toBe(true);
  });

  it('treats negative zero as zero', () => {
    expect(equal('0', '-0.0', FLOAT)).toBe(true);
    expect(equal('0.0', '-0.0', FLOAT)).toBe(true);
    expect(equal('-0.0', '0', FLOAT)).toBe(true);
    expect(equal('0', '-0', { mode: 'float', absTol: 0, relTol: 0 })).toBe(true);
  });

  it('passes a tiny number against zero with the default tolerance', () => {
    expect(equal('0', '1e-9', FLOAT)).toBe(true);
    expect(equal('1e-9', '0', FLOAT)).toBe(true);
    expect(equal('0', '1e-9', { mode: 'float', absTol: 0, relTol: 0 })).toBe(false);
  });

  it('fails numbers outside both tolerances', () => {
    expect(diffOf('0.1', '0.1001', FLOAT)).toEqual({ line: 1, expected: '0.1', actual: '0.1001' });
    expect(diffOf('0.5\n1.5\n', '0.5\n1.6\n', FLOAT)).toEqual({ line: 2, expected: '1.5', actual: '1.6' });
    expect(equal('1', '-1', FLOAT)).toBe(false);
  });

  it('passes on the relative tolerance where the absolute one fails', () => {
    expect(equal('1000000', '1000000.5', FLOAT)).toBe(true);
    expect(equal('1000000', '1000000.5', { mode: 'float', absTol: 0 })).toBe(true);
    expect(equal('1000000', '1000000.5', { mode: 'float', relTol: 1e-6, absTol: 0 })).toBe(true);
    expect(equal('1000000', '1000000.5', { mode: 'float', absTol: 1e-6, relTol: 0 })).toBe(false);
    expect(equal('1000000', '1000002', FLOAT)).toBe(false);
  });

  it('passes on the absolute tolerance where the relative one fails', () => {
    expect(equal('0', '0.0000005', { mode: 'float', relTol: 0 })).toBe(true);
    expect(equal('3.14', '3.1416', { mode: 'float', absTol: 0.01, relTol: 0 })).toBe(true);
    expect(equal('3.14', '3.1516', { mode: 'float', absTol: 0.01, relTol: 0 })).toBe(false);
  });

  it('takes the relative tolerance from the expected value', () => {
    const mode: CompareMode = { mode: 'float', absTol: 0, relTol: 0.6 };
    expect(equal('2', '1', mode)).toBe(true); // 1 <= 0.6 * 2
    expect(equal('1', '2', mode)).toBe(false); // 1 > 0.6 * 1
  });

  it('requires numeric equality with both tolerances at zero', () => {
    const mode: CompareMode = { mode: 'float', absTol: 0, relTol: 0 };
    expect(equal('1.0', '1', mode)).toBe(true);
    expect(equal('1e3', '1000.000', mode)).toBe(true);
    expect(equal('0.5', '.5', mode)).toBe(true);
    expect(equal('0.1', '0.1000001', mode)).toBe(false);
    expect(equal('1000000', '1000000.5', mode)).toBe(false);
  });

  it('reads every decimal literal form', () => {
    const mode: CompareMode = { mode: 'float', absTol: 0, relTol: 0 };
    expect(equal('0.5', '.5', mode)).toBe(true);
    expect(equal('5', '5.', mode)).toBe(true);
    expect(equal('1', '+1', mode)).toBe(true);
    expect(equal('100', '1E+2', mode)).toBe(true);
    expect(equal('0.001', '1e-3', mode)).toBe(true);
    expect(equal('-2.5', '-25e-1', mode)).toBe(true);
  });

  it('matches nan only with nan, in any case', () => {
    expect(equal('nan', 'nan', FLOAT)).toBe(true);
    expect(equal('nan', 'NaN', FLOAT)).toBe(true);
    expect(equal('NAN', 'nan', FLOAT)).toBe(true);
    expect(equal('nan', '0', FLOAT)).toBe(false);
    expect(equal('0', 'nan', FLOAT)).toBe(false);
    expect(equal('nan', 'inf', FLOAT)).toBe(false);
    expect(equal('nan', 'nanx', FLOAT)).toBe(false);
    expect(equal('nan', 'nan', { mode: 'float', absTol: 1e300, relTol: 1e300 })).toBe(true);
  });

  it('matches an infinity only with an infinity of the same sign', () => {
    expect(equal('inf', 'inf', FLOAT)).toBe(true);
    expect(equal('inf', 'Infinity', FLOAT)).toBe(true);
    expect(equal('+INF', 'infinity', FLOAT)).toBe(true);
    expect(equal('-inf', '-Infinity', FLOAT)).toBe(true);
    expect(equal('inf', '-inf', FLOAT)).toBe(false);
    expect(equal('-infinity', 'inf', FLOAT)).toBe(false);
    expect(equal('inf', '1e308', { mode: 'float', absTol: 1e300, relTol: 1e300 })).toBe(false);
    expect(equal('1e308', 'inf', { mode: 'float', absTol: 1e300, relTol: 1e300 })).toBe(false);
    expect(equal('inf', 'nan', FLOAT)).toBe(false);
    expect(equal('inf', 'infin', FLOAT)).toBe(false);
  });

  it('compares tokens that are not numbers exactly', () => {
    expect(equal('abc 1', 'abc 1.0', FLOAT)).toBe(true);
    expect(diffOf('abc', 'abd', FLOAT)).toEqual({ line: 1, expected: 'abc', actual: 'abd' });
    expect(equal('1,5', '1,5', FLOAT)).toBe(true);
    expect(equal('1,5', '1.5', FLOAT)).toBe(false);
    expect(equal('1,5', '1,50', FLOAT)).toBe(false);
    expect(equal('0x10', '0x10', FLOAT)).toBe(true);
    expect(equal('0x10', '16', FLOAT)).toBe(false);
    expect(equal('1.5', '1.5a', FLOAT)).toBe(false);
    expect(equal('1', 'one', FLOAT)).toBe(false);
    expect(equal('1e', '1', FLOAT)).toBe(false);
    expect(equal('1_000', '1000', FLOAT)).toBe(false);
    expect(equal('\uff11', '1', FLOAT)).toBe(false); // fullwidth digit one
  });

  it('ignores whitespace like tokens mode', () => {
    expect(equal('1.0\r\n2.0\r\n', '  1 2', FLOAT)).toBe(true);
    expect(equal('', '\n \n', FLOAT)).toBe(true);
  });

  it('fails a token count mismatch', () => {
    expect(diffOf('1 2 3', '1 2', FLOAT)).toEqual({ line: 2, expected: '1 2 3', actual: '' });
    expect(diffOf('1 2', '1 2 3', FLOAT)).toEqual({ line: 1, expected: '', actual: '1 2 3' });
    expect(diffOf('1\n2\n', '', FLOAT)).toEqual({ line: 1, expected: '1', actual: '' });
  });

  it('reports the actual line of the first mismatching token', () => {
    expect(diffOf('1.5 2.5 3.5\r\n', '1.5\r\n2.5\r\n3.6\r\n', FLOAT)).toEqual({
      line: 3,
      expected: '1.5 2.5 3.5',
      actual: '3.6',
    });
  });
});

describe('diff sides', () => {
  const modes: CompareMode[] = ['exact', 'lines', 'tokens', FLOAT];

  it('keeps a line of exactly DIFF_SIDE_CHARS characters whole', () => {
    const e = 'a'.repeat(DIFF_SIDE_CHARS);
    const a = 'b'.repeat(DIFF_SIDE_CHARS);
    for (const mode of modes) expect(diffOf(e, a, mode)).toEqual({ line: 1, expected: e, actual: a });
  });

  it('cuts a long line to DIFF_SIDE_CHARS characters ending with an ellipsis', () => {
    const e = 'a'.repeat(DIFF_SIDE_CHARS + 1);
    const a = `${'b'.repeat(5000)}\n`;
    for (const mode of modes) {
      const diff = diffOf(`x\n${e}\ny`, `x\n${a}y`, mode);
      expect(diff.line).toBe(2);
      expect(diff.expected).toBe(`${'a'.repeat(DIFF_SIDE_CHARS - 1)}…`);
      expect(diff.actual).toBe(`${'b'.repeat(DIFF_SIDE_CHARS - 1)}…`);
    }
  });

  it('shows the start of a long line that differs only near its end', () => {
    const e = `${'a'.repeat(1000)}x`;
    const a = `${'a'.repeat(1000)}y`;
    const diff = diffOf(e, a, 'lines');
    expect(diff).toEqual({ line: 1, expected: `${'a'.repeat(DIFF_SIDE_CHARS - 1)}…`, actual: `${'a'.repeat(DIFF_SIDE_CHARS - 1)}…` });
  });

  it('never splits a surrogate pair at the cut', () => {
    // The emoji's high surrogate would be the last code unit kept: the whole emoji goes.
    const split = `${'x'.repeat(DIFF_SIDE_CHARS - 2)}😀${'y'.repeat(10)}`;
    // The emoji ends exactly where the cut is: it stays.
    const fits = `${'x'.repeat(DIFF_SIDE_CHARS - 3)}😀${'y'.repeat(10)}`;
    for (const mode of modes) {
      const diff = diffOf(split, fits, mode);
      expect(diff.expected).toBe(`${'x'.repeat(DIFF_SIDE_CHARS - 2)}…`);
      expect(diff.actual).toBe(`${'x'.repeat(DIFF_SIDE_CHARS - 3)}😀…`);
      expect(diff.actual).toHaveLength(DIFF_SIDE_CHARS);
      expect(wellFormed(diff.expected) && wellFormed(diff.actual)).toBe(true);
    }
  });

  it('cuts lines of emoji on code point boundaries at every offset', () => {
    for (let pad = 0; pad < 4; pad++) {
      const line = `${'x'.repeat(pad)}${'😀'.repeat(DIFF_SIDE_CHARS)}`;
      const diff = diffOf(line, `${line}z`, 'lines');
      for (const side of [diff.expected, diff.actual]) {
        expect(side.length).toBeLessThanOrEqual(DIFF_SIDE_CHARS);
        expect(side.endsWith('…')).toBe(true);
        expect(wellFormed(side)).toBe(true);
      }
    }
  });

  it('keeps an exact-mode newline side within DIFF_SIDE_CHARS', () => {
    const line = 'a'.repeat(DIFF_SIDE_CHARS);
    const diff = diffOf(`${line}\n`, line, 'exact');
    expect(diff.expected).toBe(`${'a'.repeat(DIFF_SIDE_CHARS - 1)}…`);
    expect(diff.actual).toBe(line);
    expect(diffOf('ab\n', 'ab', 'exact').expected).toBe('ab\n');
  });
});

describe('large outputs', () => {
  const MiB = 1024 * 1024;
  const lineText = `${'x'.repeat(63)}`;
  const lines = MiB / 64; // 64 bytes a line with its newline
  const big = `${lineText}\n`.repeat(lines);

  it('compares 1 MiB of lines in every mode', () => {
    const changed = `${big.slice(0, -64)}${'x'.repeat(62)}y\n`;
    expect(equal(big, big, 'exact')).toBe(true);
    expect(diffOf(big, changed, 'exact')).toEqual({ line: lines, expected: lineText, actual: `${'x'.repeat(62)}y` });
    expect(equal(big, big.replaceAll('\n', '\r\n'), 'lines')).toBe(true);
    expect(diffOf(big, changed, 'lines').line).toBe(lines);
    expect(equal(big, big.replaceAll('\n', ' '), 'tokens')).toBe(true);
    expect(diffOf(big, changed, 'tokens').line).toBe(lines);
  });

  it('finds a missing final newline after 1 MiB', () => {
    expect(diffOf(big, big.slice(0, -1), 'exact')).toEqual({ line: lines, expected: `${lineText}\n`, actual: lineText });
  });

  it('compares 1 MiB of numbers in float mode', () => {
    const numbers = Array.from({ length: MiB / 8 }, (_, i) => (i / 7).toFixed(5)).join(' ');
    const close = numbers.replaceAll(' ', '\n');
    expect(numbers.length).toBeGreaterThan(MiB);
    expect(equal(numbers, close, FLOAT)).toBe(true);
    const diff = diffOf(numbers, `${close}\n1`, FLOAT);
    expect(diff).toEqual({ line: MiB / 8 + 1, expected: '', actual: '1' });
  });

  it('compares one 1 MiB line', () => {
    const line = 'z'.repeat(MiB);
    expect(equal(line, line, 'exact')).toBe(true);
    const diff = diffOf(line, `${line.slice(0, -1)}!`, 'exact');
    expect(diff.line).toBe(1);
    expect(diff.expected).toHaveLength(DIFF_SIDE_CHARS);
    expect(diffOf(line, `${line.slice(0, -1)}!`, 'tokens').line).toBe(1);
    expect(diffOf(line, `${line.slice(0, -1)}!`, 'lines').line).toBe(1);
  });

  it('compares 1 MiB of newlines', () => {
    const newlines = '\n'.repeat(MiB);
    expect(equal('', newlines, 'lines')).toBe(true);
    expect(equal('', newlines, 'tokens')).toBe(true);
    expect(diffOf(newlines, `${newlines}x`, 'exact')).toEqual({ line: MiB + 1, expected: '', actual: 'x' });
    expect(diffOf(`${newlines}x`, newlines, 'tokens')).toEqual({ line: 1, expected: 'x', actual: '' });
  });
});
