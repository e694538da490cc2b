import { describe, expect, it } from 'vitest';
import { blankLiterals, mainClass, readJavaSource, requiredFileName } from '../../functions/runner/runtimes/java-source.js';

describe('readJavaSource', () => {
  it('reads the package and the top-level types, which is public and which have a static main', () => {
    const src = `package com.example.app;

import java.util.*;
import static java.lang.Math.max;

@SuppressWarnings({"unchecked", "rawtypes"})
public final class Solution<T extends Comparable<T>> implements Runnable {
    static class Nested {
        public static void main(String[] args) {}
    }
    public void run() { Runnable r = () -> { int[] a = {1, 2}; }; }
    public static void main(final String... args) throws Exception {}
}

interface Shape { double area(); }

enum Color { RED, GREEN; static void main(String[] a) {} }

record Point(int x, int y) { public static void main(String[] args) {} }

non-sealed class Open {}
`;
    expect(readJavaSource(src)).toEqual({
      package: 'com.example.app',
      types: [
        { name: 'Solution', public: true, main: true },
        { name: 'Shape', public: false, main: false },
        { name: 'Color', public: false, main: true },
        { name: 'Point', public: false, main: true },
        { name: 'Open', public: false, main: false },
      ],
    });
  });

  it('is not fooled by comments, strings, text blocks and char literals', () => {
    const src = `// public class Comment { public static void main(String[] a) {} }
/* public class Block {
   } */
class Real {
    String s = "} public class InString { static void main(";
    char c = '}';
    char q = '\\'';
    String block = """
        } public class InBlock {
        """;
    void f() { String t = "\\"}"; }
    static void main(String[] args) {}
}
`;
    expect(readJavaSource(src).types).toEqual([{ name: 'Real', public: false, main: true }]);
    expect(blankLiterals('a /* b */ "c" \'d\' // e\nf')).toBe(`a${' '.repeat(21)}\nf`);
  });

  it('a main that is not static, or a method merely named main, is no entry point', () => {
    const src = 'class A { void main(String[] a) {} static int mainly() { return 0; } static String main = "x"; }\n';
    expect(readJavaSource(src).types).toEqual([{ name: 'A', public: false, main: false }]);
  });

  it('record as a name is not a declaration', () => {
    const src = 'class Log { String record; void record(int x) {} }\n';
    expect(readJavaSource(src).types).toEqual([{ name: 'Log', public: false, main: false }]);
  });
});

describe('mainClass and requiredFileName', () => {
  it('the public class, qualified by its package', () => {
    expect(mainClass('Main.java', 'package app;\nclass Helper {}\npublic class Solution { public static void main(String[] a) {} }\n')).toBe('app.Solution');
    expect(requiredFileName('src/Main.java', 'public class Solution {}\n')).toBe('src/Solution.java');
  });

  it('else the class named like the file, else the first with a static main, else the file name', () => {
    expect(mainClass('Main.java', 'class Other { public static void main(String[] a) {} }\nclass Main { public static void main(String[] a) {} }\n')).toBe('Main');
    expect(mainClass('Main.java', 'class Helper {}\nclass Prog { public static void main(String[] a) {} }\n')).toBe('Prog');
    expect(mainClass('dir/Main.java', '// nothing yet\n')).toBe('Main');
    expect(requiredFileName('Main.java', 'class Prog {}\n')).toBeNull();
    expect(requiredFileName('Main.java', 'public class Main {}\n')).toBeNull();
  });
});
