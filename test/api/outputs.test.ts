import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createApp, silentLogger } from '../../functions/api/app.js';
import { defaultConfig, loadConfig, outputBoundsOf } from '../../functions/api/config.js';
import { startServer, type RunningServer } from '../../functions/api/server.js';
import { ExecuteRequestSchema, ExecuteResultSchema, MAX_OUTPUT_PATTERNS } from '../../functions/contract.js';
import type { Dispatcher } from '../../functions/dispatch/types.js';
import { postJson, recordingLogger, startTestServer } from './helpers.js';

/* Files out over HTTP (API.md "Files out"): validation of `outputs`, files in the result, the server's bounds. */

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const execute = async (url: string, body: unknown) => {
  const res = await postJson(`${url}/v1/execute`, body);
  return { status: res.status, body: (await res.json()) as any };
};

describe('POST /v1/execute with outputs', () => {
  it('returns the files the program wrote that match, in the ExecuteResult schema', async () => {
    const { status, body } = await execute(server.url, {
      runtime: 'python',
      code: 'import os\nos.makedirs("out")\nopen("out/result.json", "w").write("{\\"ok\\": true}")\nopen("out/raw.bin", "wb").write(bytes(range(256)))\nprint("done")',
      outputs: ['out/*'],
    });
    expect(status).toBe(200);
    expect(ExecuteResultSchema.safeParse(body).success).toBe(true);
    expect(body).toMatchObject({ stdout: 'done\n', exitCode: 0, filesTruncated: false });
    expect(body.files).toEqual([
      { path: 'out/raw.bin', size: 256, encoding: 'base64', content: Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64') },
      { path: 'out/result.json', size: 12, encoding: 'utf8', content: '{"ok": true}' },
    ]);
  });

  it.each([
    [['/etc/passwd'], 'outputs.0', /absolute/],
    [['ok.txt', '../up.txt'], 'outputs.1', /'\.\.'/],
    [['a/../b'], 'outputs.0', /'\.\.'/],
    [['a\0b'], 'outputs.0', /NUL/],
    [['out\\*.txt'], 'outputs.0', /backslash/],
    [[''], 'outputs.0', /empty/],
    [['out//x'], 'outputs.0', /empty segment/],
    [['./x.txt'], 'outputs.0', /'\.' segment/],
    [['x'.repeat(257)], 'outputs.0', /longer than 256/],
    [Array.from({ length: MAX_OUTPUT_PATTERNS + 1 }, (_, i) => `f${i}`), 'outputs', /at most 32/],
    ['*.png', 'outputs', /array/],
    [[42], 'outputs.0', /string/],
  ])('400 for outputs %j, naming %s', async (outputs, path, message) => {
    const { status, body } = await execute(server.url, { runtime: 'python', code: 'print(1)', outputs });
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    const issue = body.error.issues.find((i: { path: string }) => i.path === path);
    expect(issue, JSON.stringify(body.error.issues)).toBeDefined();
    expect(issue.message).toMatch(message);
  });

  it('400 for outputs with tests: outputs applies to a single run', async () => {
    const { status, body } = await execute(server.url, { runtime: 'python', code: 'print(1)', tests: [{ expectedOutput: '1' }], outputs: ['*.txt'] });
    expect(status).toBe(400);
    expect(body.error.issues).toContainEqual({ path: 'outputs', message: expect.stringMatching(/outputs applies to a single run/) });
  });

  it('accepts the patterns of the contract and keeps old results valid', () => {
    expect(ExecuteRequestSchema.parse({ runtime: 'python', code: '', outputs: ['**/*.png', '.cache/**', 'data/[0-9]?.csv'] }).outputs).toHaveLength(3);
    const old = { stdout: '', stderr: '', exitCode: 0, executionTime: 1, timedOut: false, cpuTime: 0, memoryPeak: 0, status: 'ok', signal: null, truncated: false, runtime: 'python', version: '3' };
    expect(ExecuteResultSchema.safeParse(old).success).toBe(true);
  });
});

describe('files out in the OpenAPI document', () => {
  it('describes outputs and the OutputFile schema', async () => {
    const idle: Dispatcher = {
      execute: () => Promise.reject(new Error('unused')),
      getExecution: () => Promise.resolve(null),
      runtimes: () => Promise.resolve([]),
    };
    const app = createApp({ dispatcher: idle, authenticate: apiKeyAuthenticator(['k']), log: silentLogger });
    const doc = (await (await app.request('/openapi.json')).json()) as {
      components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
    };
    const { ExecuteRequest, ExecuteResult, OutputFile } = doc.components.schemas;
    expect(ExecuteRequest!.properties).toHaveProperty('outputs');
    expect(ExecuteResult!.properties).toHaveProperty('files');
    expect(ExecuteResult!.properties).toHaveProperty('filesTruncated');
    expect(Object.keys(OutputFile!.properties).sort()).toEqual(['content', 'encoding', 'path', 'size', 'truncated']);
    expect(OutputFile!.required?.sort()).toEqual(['encoding', 'path', 'size']);
  });
});

describe('the server bounds of files out', () => {
  it('come from RUNTOOLS_MAX_OUTPUT_FILES, _FILE_BYTES and _TOTAL_BYTES, with the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({ maxOutputFiles: 100, maxOutputFileBytes: 10 * 1024 * 1024, maxOutputTotalBytes: 20 * 1024 * 1024 });
    const config = loadConfig({ RUNTOOLS_MAX_OUTPUT_FILES: '5', RUNTOOLS_MAX_OUTPUT_FILE_BYTES: '1024', RUNTOOLS_MAX_OUTPUT_TOTAL_BYTES: '0' });
    expect(outputBoundsOf(config)).toEqual({ maxFiles: 5, maxFileBytes: 1024, maxTotalBytes: 0 });
    expect(() => loadConfig({ RUNTOOLS_MAX_OUTPUT_FILES: '0' })).toThrow(/RUNTOOLS_MAX_OUTPUT_FILES="0": must be at least 1/);
    expect(() => loadConfig({ RUNTOOLS_MAX_OUTPUT_FILE_BYTES: 'lots' })).toThrow(/RUNTOOLS_MAX_OUTPUT_FILE_BYTES="lots": must be a whole number/);
  });

  it('reach the runner of a server that creates its own', async () => {
    const own = await startServer({
      config: { ...defaultConfig(), port: 0, poolSize: 0, maxOutputFiles: 2, maxOutputFileBytes: 3 },
      log: recordingLogger(),
    });
    try {
      const { status, body } = await execute(own.url, {
        runtime: 'python',
        code: 'for n in ["a", "b", "c"]:\n    open(n + ".txt", "w").write(n * 4 if n == "a" else n)',
        outputs: ['*.txt'],
      });
      expect(status).toBe(200);
      expect(body.files).toEqual([
        { path: 'a.txt', size: 4, encoding: 'base64', truncated: true },
        { path: 'b.txt', size: 1, encoding: 'utf8', content: 'b' },
      ]);
      expect(body.filesTruncated).toBe(true);
    } finally {
      await own.close();
    }
  });
});
