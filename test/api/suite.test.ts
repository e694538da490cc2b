import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { ExecuteResultSchema } from '../../functions/contract.js';
import { postJson, startTestServer } from './helpers.js';

/* Test suites over HTTP (API.md "Test cases"): validation, parallel tests, the 202 rule. */

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer({ concurrency: 2, syncBudgetMs: 3_000 });
});
afterAll(() => server.close());

const execute = async (body: unknown) => {
  const res = await postJson(`${server.url}/v1/execute`, body);
  return { status: res.status, body: (await res.json()) as any };
};

describe('POST /v1/execute with tests', () => {
  it('answers the suite: tests in order with verdicts, a summary, the ExecuteResult schema', async () => {
    const { status, body } = await execute({
      runtime: 'py',
      code: 'print(sum(map(int, input().split())))',
      timeout: 2_000,
      tests: [
        { name: 'small', stdin: '1 2', expectedOutput: '3' },
        { name: 'wrong', stdin: '1 1', expectedOutput: '3' },
      ],
    });
    expect(status).toBe(200);
    expect(ExecuteResultSchema.safeParse(body).success).toBe(true);
    expect(body).toMatchObject({
      status: 'ok',
      exitCode: 1,
      runtime: 'python',
      tests: [
        { name: 'small', verdict: 'passed', stdout: '3\n' },
        { name: 'wrong', verdict: 'wrong_answer', diff: { line: 1, expected: '3', actual: '2' } },
      ],
      summary: { passed: 1, total: 2 },
    });
  });

  it('runs tests in parallel on the free slots of the server', async () => {
    const { status, body } = await execute({
      runtime: 'python',
      code: 'import time\nstart = time.time()\ntime.sleep(0.6)\nprint(start, time.time())',
      tests: Array.from({ length: 4 }, () => ({ timeout: 1_000 })),
    });
    expect(status).toBe(200);
    const spans = (body.tests as Array<{ stdout: string }>).map((t) => t.stdout.trim().split(' ').map(Number) as [number, number]);
    // Some two tests ran at the same time.
    const overlapping = spans.some(([s1, e1], i) => spans.some(([s2], j) => i !== j && s2 >= s1 && s2 < e1));
    expect(overlapping).toBe(true);
    expect(body.summary).toMatchObject({ passed: 4, total: 4 });
  });

  it('a suite whose worst case (sum of timeouts ÷ concurrency) passes the window is a 202, polled to its result', async () => {
    const { status, body } = await execute({
      runtime: 'python',
      code: 'print(input())',
      tests: [1, 2, 3, 4].map((n) => ({ stdin: String(n), expectedOutput: String(n), timeout: 2_000 })),
    });
    expect(status).toBe(202);
    let execution: any;
    for (let i = 0; i < 200; i++) {
      execution = await (await fetch(`${server.url}/v1/executions/${body.id}`)).json();
      if (execution.status === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(execution).toMatchObject({ status: 'completed', result: { exitCode: 0, summary: { passed: 4, total: 4 } } });
  });

  it.each([
    ['no tests', { tests: [] }, 'tests'],
    ['101 tests', { tests: Array.from({ length: 101 }, () => ({})) }, 'tests'],
    ['an unknown field in a test', { tests: [{ input: 'x' }] }, 'tests.0.input'],
    ['a bad timeout in a test', { tests: [{ timeout: 0 }] }, 'tests.0.timeout'],
    ['compare without tests', { compare: 'exact' }, 'compare'],
    ['stopOnFailure without tests', { stopOnFailure: true }, 'stopOnFailure'],
    ['an unknown compare mode', { tests: [{}], compare: 'fuzzy' }, 'compare'],
    ['a negative tolerance', { tests: [{}], compare: { mode: 'float', absTol: -1 } }, 'compare.absTol'],
    ['a checker without code', { tests: [{}], compare: { mode: 'checker', runtime: 'python' } }, 'compare.code'],
    ['a checker in an unknown runtime', { tests: [{}], compare: { mode: 'checker', runtime: 'cobol', code: 'x' } }, 'compare.runtime'],
  ])('%s → 400 naming the field', async (_what, extra, path) => {
    const { status, body } = await execute({ runtime: 'python', code: 'print(1)', ...extra });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['TestCase', 'TestResult', 'SuiteSummary', 'Compare']));
  });
});
