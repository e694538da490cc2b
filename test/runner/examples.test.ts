import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRunner, type TestRunner } from '../helpers/runner.js';

// The product spec's examples, run by the engine, with their exact expected output.
describe('product spec examples', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await testRunner();
  });
  afterAll(() => t.dispose());

  it('python: quick start', async () => {
    const result = await t.run({ runtime: 'python', code: 'print(sum([1, 2, 3, 4, 5]))' });
    expect(result.stdout).toBe('15\n');
    expect(result.exitCode).toBe(0);
    expect(result.timedOut).toBe(false);
    expect(result.executionTime).toBeGreaterThan(0);
    expect(result.runtime).toBe('python');
    expect(result.version).toMatch(/^3\.\d+\.\d+/);
  });

  it('python: numpy', async () => {
    const result = await t.run({
      runtime: 'python',
      code: `
import numpy as np

arr = np.array([1, 2, 3, 4, 5])
print(f"Sum: {arr.sum()}")
print(f"Mean: {arr.mean()}")
print(f"Std: {arr.std():.2f}")
  `,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('Sum: 15\nMean: 3.0\nStd: 1.41\n');
  });

  it('node: squares', async () => {
    const result = await t.run({
      runtime: 'node',
      code: `
const numbers = Array.from({ length: 10 }, (_, i) => i * i);
console.log('Squares:', numbers);
console.log('Sum:', numbers.reduce((a, b) => a + b, 0));
  `,
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout.replace(/\s+/g, ' ')).toContain('Squares: [ 0, 1, 4, 9, 16, 25, 36, 49, 64, 81 ]');
    expect(result.stdout).toContain('Sum: 285\n');
  });

  it('node: main.js may be an ES module or CommonJS', async () => {
    const esm = await t.run({ runtime: 'node', code: "import { createHash } from 'node:crypto';\nconsole.log(createHash('sha1').update('a').digest('hex'), typeof require);" });
    const cjs = await t.run({ runtime: 'node', code: "const { createHash } = require('node:crypto');\nconsole.log(createHash('sha1').update('a').digest('hex'), typeof module);" });
    expect(esm.stdout).toBe('86f7e437faa5a7fce15d1ddcb9eaeaea377667b8 undefined\n');
    expect(cjs.stdout).toBe('86f7e437faa5a7fce15d1ddcb9eaeaea377667b8 object\n');
  });

  it('go: sum', async () => {
    const result = await t.run({
      runtime: 'go',
      code: `
package main

import "fmt"

func main() {
    sum := 0
    for i := 1; i <= 5; i++ {
        sum += i
    }
    fmt.Printf("Sum: %d\\n", sum)
}
  `,
    });
    expect(result.stdout).toBe('Sum: 15\n');
    expect(result.exitCode).toBe(0);
    expect(result.compile).toMatchObject({ exitCode: 0, timedOut: false });
  });

  it('rust: numbers', async () => {
    const result = await t.run({
      runtime: 'rust',
      code: `
fn main() {
    let numbers: Vec<i32> = (1..=5).collect();
    let sum: i32 = numbers.iter().sum();
    println!("Numbers: {:?}", numbers);
    println!("Sum: {}", sum);
}
  `,
    });
    expect(result.stdout).toBe('Numbers: [1, 2, 3, 4, 5]\nSum: 15\n');
    expect(result.compile?.exitCode).toBe(0);
  });

  it('python: multiple files', async () => {
    const result = await t.run({
      runtime: 'python',
      files: {
        'main.py': `
import helper
print(helper.greet("World"))
    `,
        'helper.py': `
def greet(name):
    return f"Hello, {name}!"
    `,
      },
      entrypoint: 'main.py',
    });
    expect(result.stdout).toBe('Hello, World!\n');
  });

  it('python: timeout', async () => {
    const result = await t.run({ runtime: 'python', code: 'import time; time.sleep(60)', timeout: 5000 });
    expect(result.timedOut).toBe(true);
    expect(result.signal).toBe('SIGKILL');
    expect(result.exitCode).toBe(137);
    expect(result.executionTime).toBeGreaterThanOrEqual(5000);
    expect(result.executionTime).toBeLessThan(30_000);
  });

  it('python: stdin', async () => {
    const result = await t.run({
      runtime: 'python',
      code: `
name = input("What's your name? ")
print(f"Hello, {name}!")
  `,
      stdin: 'Alice\n',
    });
    expect(result.stdout).toBe("What's your name? Hello, Alice!\n");
  });

  it('python: error handling', async () => {
    const result = await t.run({ runtime: 'python', code: 'raise ValueError("Something went wrong")' });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Traceback');
    expect(result.stderr).toContain('ValueError: Something went wrong');
  });

  it('leaves no work directory behind', async () => {
    expect(await t.leftovers()).toEqual([]);
  });
});
