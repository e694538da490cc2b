import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { AuthenticationError, InvalidRequestError, NotFoundError, Runtools } from '../../sdk/index.js';
import { startTestServer } from '../api/helpers.js';
import { RUNTIME_IDS } from '../../functions/runtimes.js';

let server: RunningServer;
let rt: Runtools;

beforeAll(async () => {
  server = await startTestServer({ apiKeys: ['sdk-test-key'], syncBudgetMs: 40_000 });
  rt = new Runtools({ apiKey: 'sdk-test-key', baseUrl: server.url });
});
afterAll(() => server.close());

describe('the product spec examples through the SDK', () => {
  it('quick start', async () => {
    const result = await rt.execute({
      runtime: 'python',
      code: 'print(sum([1, 2, 3, 4, 5]))',
    });
    expect(result.stdout).toBe('15\n');
    expect(result.exitCode).toBe(0);
    expect(typeof result.executionTime).toBe('number');
    expect(result.timedOut).toBe(false);
  });

  it('python with numpy', async () => {
    const result = await rt.execute({
      runtime: 'python',
      code: `
import numpy as np

arr = np.array([1, 2, 3, 4, 5])
print(f"Sum: {arr.sum()}")
print(f"Mean: {arr.mean()}")
print(f"Std: {arr.std():.2f}")
  `,
    });
    expect(result.stdout).toBe('Sum: 15\nMean: 3.0\nStd: 1.41\n');
  });

  it('node', async () => {
    const result = await rt.execute({
      runtime: 'node',
      code: `
const numbers = Array.from({ length: 10 }, (_, i) => i * i);
console.log('Squares:', numbers);
console.log('Sum:', numbers.reduce((a, b) => a + b, 0));
  `,
    });
    expect(result.stdout).toBe('Squares: [\n   0,  1,  4,  9, 16,\n  25, 36, 49, 64, 81\n]\nSum: 285\n');
  });

  it('go', async () => {
    const result = await rt.execute({
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
    expect(result.compile?.exitCode).toBe(0);
  });

  it('rust', async () => {
    const result = await rt.execute({
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
  });

  it('multiple files', async () => {
    const result = await rt.execute({
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

  it('timeouts', async () => {
    const result = await rt.execute({
      runtime: 'python',
      code: 'import time; time.sleep(60)',
      timeout: 5000, // 5 seconds
    });
    expect(result.timedOut).toBe(true);
    expect(result.executionTime).toBeGreaterThanOrEqual(4900);
    expect(result.executionTime).toBeLessThan(30_000);
  });

  it('stdin input', async () => {
    const result = await rt.execute({
      runtime: 'python',
      code: `
name = input("What's your name? ")
print(f"Hello, {name}!")
  `,
      stdin: 'Alice\n',
    });
    expect(result.stdout).toBe("What's your name? Hello, Alice!\n");
  });

  it('error handling', async () => {
    const result = await rt.execute({
      runtime: 'python',
      code: 'raise ValueError("Something went wrong")',
    });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^Traceback[\s\S]*ValueError: Something went wrong\n$/);
  });
});

describe('the rest of the SDK against a real server', () => {
  it('lists runtimes', async () => {
    const runtimes = await rt.runtimes();
    expect(runtimes.map((r) => r.runtime)).toEqual(RUNTIME_IDS);
    expect(runtimes.every((r) => r.available)).toBe(true);
  });

  it('hides 202: execute() polls until the background execution completes', async () => {
    const result = await rt.execute({ runtime: 'python', code: 'print("waited")', timeout: 45_000 });
    expect(result.stdout).toBe('waited\n');
  });

  it('reads a background execution with getExecution()', async () => {
    const res = await fetch(`${server.url}/v1/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sdk-test-key' },
      body: JSON.stringify({ runtime: 'python', code: 'print(7)', timeout: 45_000 }),
    });
    const { id } = (await res.json()) as { id: string };
    const execution = await rt.getExecution(id);
    expect(execution.id).toBe(id);
    expect(['queued', 'running', 'completed']).toContain(execution.status);
  });

  it('throws typed errors', async () => {
    const invalid = await rt.execute({ runtime: 'cobol' as 'python', code: 'x' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_request' });
    expect((invalid as InvalidRequestError).issues?.[0]?.path).toBe('runtime');
    expect((invalid as InvalidRequestError).requestId).toMatch(/^req_/);

    const missing = await rt.getExecution('ex_missing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);

    const anonymous = new Runtools({ apiKey: null, baseUrl: server.url, maxRetries: 0 });
    await expect(anonymous.runtimes()).rejects.toBeInstanceOf(AuthenticationError);
  });
  it('sends a body that would need an upload on AWS directly to a server without uploads (404)', async () => {
    const calls: string[] = [];
    const counting = new Runtools({
      apiKey: 'sdk-test-key',
      baseUrl: server.url,
      fetch: (input, init) => {
        calls.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
        return fetch(input, init);
      },
    });
    // 3.5 MB of body (quotes escaped in the JSON), a 7 MB event escaped once more.
    const result = await counting.execute({ runtime: 'python', code: `s = '''${'"'.repeat(1_750_000)}'''\nprint(len(s))` });
    expect(result.stdout).toBe('1750000\n');
    expect(calls).toEqual(['POST /v1/uploads', 'POST /v1/execute']);
  });
});
