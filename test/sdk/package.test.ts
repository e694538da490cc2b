/**
 * The SDK as users get it: `npm pack` the sdk workspace (its prepack builds sdk/dist), install the
 * tarball into a fresh project, then use it from an ES module, from CommonJS and from TypeScript
 * type-checked in strict mode, against a real local server.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { startTestServer } from '../api/helpers.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const TSC = path.join(ROOT, 'node_modules/.bin/tsc');
const NPM_FLAGS = ['--offline', '--no-audit', '--no-fund', '--loglevel=error'];

let work: string;
let project: string;
let tarball: string;
let packed: { name: string; filename: string; files: { path: string }[] };
let server: RunningServer;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'runtools-sdk-package-'));
  const { stdout } = await run('npm', ['pack', '--workspace', 'sdk', '--pack-destination', work, '--json', ...NPM_FLAGS], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  packed = (JSON.parse(stdout) as (typeof packed)[])[0]!;
  tarball = path.join(work, packed.filename);

  project = path.join(work, 'consumer');
  mkdirSync(project);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  await run('npm', ['install', tarball, ...NPM_FLAGS], { cwd: project });

  server = await startTestServer();
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs a file of the consumer project with node; its stdout is one JSON document. */
async function node(file: string, source: string): Promise<Record<string, unknown>> {
  writeFileSync(path.join(project, file), source);
  const { stdout } = await run(process.execPath, [file], { cwd: project, env: { PATH: process.env.PATH, RUNTOOLS_API_URL: server.url } });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('the packed @runtools/sdk', () => {
  it('holds the build and the README: no dependencies, no TypeScript sources besides declarations', () => {
    expect(packed.name).toBe('@runtools/sdk');
    const files = packed.files.map((f) => f.path).sort();
    expect(files).toContain('README.md');
    expect(files).toContain('package.json');
    for (const f of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'node.js', 'node.cjs', 'node.d.ts', 'node.d.cts']) expect(files).toContain(`dist/${f}`);
    for (const f of files) {
      expect(f, f).toMatch(/^(README\.md|package\.json|dist\/[\w-]+\.(js|cjs|d\.ts|d\.cts))$/);
      if (/\.[cm]?tsx?$/.test(f)) expect(f, f).toMatch(/\.d\.c?ts$/);
    }

    const manifest = JSON.parse(readFileSync(path.join(project, 'node_modules/@runtools/sdk/package.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies', 'bundledDependencies']) {
      expect(manifest[key], key).toBeUndefined();
    }
    expect(manifest).toMatchObject({ name: '@runtools/sdk', version: '0.1.0', type: 'module', sideEffects: false, engines: { node: '>=18' } });
    // Only the consumer's own entry: nothing else came with the tarball.
    const lock = JSON.parse(readFileSync(path.join(project, 'package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages).sort()).toEqual(['', 'node_modules/@runtools/sdk']);
  });

  it('works from an ES module', async () => {
    const out = await node(
      'esm.mjs',
      `import { Runtools, executionBound, APIError, InvalidRequestError, RuntoolsError } from '@runtools/sdk';
import { testsFromDirectory, writeOutputFiles } from '@runtools/sdk/node';
const rt = new Runtools();
const result = await rt.execute({ runtime: 'python', code: 'print(6 * 7)' });
let error;
try { await rt.execute({ runtime: 'cobol', code: '' }); } catch (e) { error = e; }
const runtimes = await rt.runtimes();
console.log(JSON.stringify({
  stdout: result.stdout, exitCode: result.exitCode,
  bound: executionBound({ runtime: 'python' }, 1000).totalMs,
  error: error instanceof InvalidRequestError && error instanceof APIError && error instanceof RuntoolsError ? error.status : String(error),
  python: runtimes.some((r) => r.runtime === 'python' && r.available),
  helpers: [typeof testsFromDirectory, typeof writeOutputFiles],
}));
`,
    );
    expect(out).toEqual({ stdout: '42\n', exitCode: 0, bound: 31_000, error: 400, python: true, helpers: ['function', 'function'] });
  });

  it('works from CommonJS (require)', async () => {
    const out = await node(
      'cjs.cjs',
      `const { Runtools, executionBound, AuthenticationError, APIError } = require('@runtools/sdk');
const { testsFromDirectory } = require('@runtools/sdk/node');
(async () => {
  const rt = new Runtools({ baseUrl: process.env.RUNTOOLS_API_URL });
  const chunks = [];
  // An output chunk is what the pipe delivered ("streamed" and "\\n" may come apart): each type once, in order.
  for await (const event of rt.stream({ runtime: 'python', code: 'print("streamed")' })) if (chunks.at(-1) !== event.type) chunks.push(event.type);
  const result = await rt.execute({ runtime: 'node', code: 'console.log(1 + 1)' });
  console.log(JSON.stringify({
    stdout: result.stdout,
    chunks,
    bound: executionBound({ runtime: 'go', timeout: 1000 }, 0).totalMs,
    classes: new AuthenticationError(401, 'unauthorized', 'no', null, new Headers()) instanceof APIError,
    helper: typeof testsFromDirectory,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
    );
    expect(out).toEqual({ stdout: '2\n', chunks: ['stdout', 'result'], bound: 61_000, classes: true, helper: 'function' });
  });

  it('type-checks in strict TypeScript, as an ES module and as CommonJS (module nodenext)', async () => {
    writeFileSync(
      path.join(project, 'typed.ts'),
      `import { Runtools, executionBound, RateLimitError, type ExecuteRequest, type ExecuteResult, type StreamEvent, type Verdict } from '@runtools/sdk';
import { testsFromDirectory, writeOutputFiles, type TestCase } from '@runtools/sdk/node';

const rt = new Runtools({ apiKey: 'key', baseUrl: 'http://127.0.0.1:8787', maxRetries: 1 });
const tests: TestCase[] = await testsFromDirectory('cases');
const request: ExecuteRequest = { runtime: 'python', code: 'print(1)', tests: [{ stdin: '', expectedOutput: '1' }, ...tests], compare: { mode: 'float', absTol: 1e-9 } };
const result: ExecuteResult = await rt.execute(request, { timeout: 10_000, idempotencyKey: 'k' });
const verdict: Verdict | undefined = result.tests?.[0]?.verdict;
const status: 'ok' | 'runtime_error' | 'timeout' | 'memory_limit' | 'output_limit' | 'compile_error' = result.status;
// @ts-expect-error a verdict is a string union, not a number
const wrong: number = result.tests?.[0]?.verdict;
for await (const event of rt.stream({ runtime: 'node', code: 'console.log(1)' })) {
  const e: StreamEvent = event;
  if (e.type === 'stdout') e.data.toUpperCase();
  else if (e.type === 'result') e.result.exitCode.toFixed();
}
const written: string[] = await writeOutputFiles(result, 'out');
const bound: number = executionBound(request, 1000).totalMs;
try {
  await rt.runtimes();
} catch (error) {
  if (error instanceof RateLimitError) error.retryAfter?.toFixed();
}
// @ts-expect-error runtime is required
const missing: ExecuteRequest = { code: 'print(1)' };
export { verdict, status, wrong, written, bound, missing };
`,
    );
    writeFileSync(
      path.join(project, 'typed.cts'),
      `import sdk = require('@runtools/sdk');
import node = require('@runtools/sdk/node');
const rt = new sdk.Runtools();
async function main(): Promise<sdk.Verdict | undefined> {
  const result: sdk.ExecuteResult = await rt.execute({ runtime: 'go', code: 'package main', tests: [{ expectedOutput: 'x' }] });
  await node.writeOutputFiles(result, 'out');
  return result.tests?.[0]?.verdict;
}
// @ts-expect-error exitCode is a number
const text: string = ({} as sdk.ExecuteResult).exitCode;
export = { main, text };
`,
    );
    const flags = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
    const check = await run(TSC, [...flags, 'typed.ts', 'typed.cts'], { cwd: project }).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${check.stdout}${check.stderr}`).toBe('');
  });
});
