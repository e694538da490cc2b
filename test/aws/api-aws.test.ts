import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidNamespacesAvailable } from './helpers/namespaces.js';

// Without PID namespaces (unprivileged CI) these tests cannot run safely: see helpers/namespaces.ts.
const NAMESPACES = pidNamespacesAvailable();
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { readEvents, Runtools } from '../../sdk/index.js';
import { ExecuteRequestSchema } from '../../functions/contract.js';
import { ExecutionObjects } from '../../functions/dispatch/execution-objects.js';
import { RESULT_WRITER_ROLE, startLocalAws, type LocalAws } from './helpers/local-aws.js';
import { RUNTIME_IDS } from '../../functions/runtimes.js';

let aws: LocalAws;

const call = async (method: string, path: string, init: { key?: string; body?: unknown } = {}) => {
  const res = await fetch(`${aws.apiUrl}${path}`, {
    method,
    headers: { ...(init.key ? { 'x-api-key': init.key } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
};

const execute = (body: unknown, key = 'key-alice') => call('POST', '/v1/execute', { key, body });

async function poll(id: string, key = 'key-alice', until: (status: string) => boolean = (s) => s === 'completed' || s === 'failed') {
  const seen: string[] = [];
  for (let i = 0; i < 600; i++) {
    const res = await call('GET', `/v1/executions/${id}`, { key });
    expect(res.status).toBe(200);
    if (seen.at(-1) !== res.body.status) seen.push(res.body.status);
    if (until(res.body.status)) return { execution: res.body, seen };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`execution ${id} never finished (saw ${seen.join(' → ')})`);
}

beforeAll(async () => {
  if (!NAMESPACES) return;
  aws = await startLocalAws({
    extraFunctions: {
      'runner-crashes': { command: [process.execPath, '-e', 'process.exit(3)'] },
      'runner-hangs': { timeoutSeconds: 2, command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] },
      'runner-single': { concurrency: 1, tenantIsolation: true },
    },
  });
});

afterAll(async () => {
  await aws?.stop();
});

describe.runIf(NAMESPACES)('the API on the AWS path (API Gateway → Hono on Lambda → runner Lambda / Fargate task)', () => {
  it('GET /health needs no key; everything else does', async () => {
    expect(await call('GET', '/health')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const denied = await execute({ runtime: 'python', code: 'print(1)' }, 'wrong-key');
    expect(denied.status).toBe(401);
    expect(denied.body.error.code).toBe('unauthorized');
  });

  it('GET /v1/runtimes reports the deployed runtimes and their pinned versions', async () => {
    const res = await call('GET', '/v1/runtimes', { key: 'key-alice' });
    expect(res.status).toBe(200);
    const python = res.body.runtimes.find((r: { runtime: string }) => r.runtime === 'python');
    expect(python).toMatchObject({ available: true, version: '3.12.12', entrypoint: 'main.py' });
    expect(res.body.runtimes).toHaveLength(RUNTIME_IDS.length);
  });

  it('runs short executions on the runtime Lambda, with the API key id as tenant', async () => {
    const res = await execute({ runtime: 'py', code: 'import sys\nprint(input()[::-1])\nsys.exit(3)', stdin: 'olleh\n', timeout: 10_000 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ stdout: 'hello\n', exitCode: 3, timedOut: false, runtime: 'python' });
    const invocation = aws.lambda.invocations.at(-1)!;
    expect(invocation).toMatchObject({ fn: 'runtools-python', tenant: 'kid-alice' });
    expect(aws.ecs.runTaskRequests).toHaveLength(0);
  });

  it('an end user of a key (x-runtools-user) is a tenant of its own: its own runner environments', async () => {
    for (const user of ['student-1', 'student-2']) {
      const res = await fetch(`${aws.apiUrl}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'x-runtools-user': user, 'content-type': 'application/json' },
        body: JSON.stringify({ runtime: 'python', code: 'print(1)' }),
      });
      expect(res.status).toBe(200);
      expect(aws.lambda.invocations.at(-1)).toMatchObject({ fn: 'runtools-python', tenant: `kid-alice/${user}` });
    }
    const bad = await fetch(`${aws.apiUrl}/v1/execute`, {
      method: 'POST',
      headers: { 'x-api-key': 'key-alice', 'x-runtools-user': 'a b/c', 'content-type': 'application/json' },
      body: JSON.stringify({ runtime: 'python', code: 'print(1)' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });

  it('the same requests as locally: files, args, env, timeouts, compiled runtimes', async () => {
    const files = await execute({
      runtime: 'python',
      files: { 'main.py': 'import helper, os, sys\nprint(helper.greet(sys.argv[1]), os.environ["GREETING"])', 'helper.py': 'def greet(n):\n    return f"Hello, {n}!"' },
      args: ['World'],
      env: { GREETING: 'hi' },
      timeout: 10_000,
    });
    expect(files.body).toMatchObject({ stdout: 'Hello, World! hi\n', exitCode: 0 });

    const slow = await execute({ runtime: 'node', code: 'setTimeout(() => {}, 60000)', timeout: 500 });
    expect(slow.status).toBe(200);
    expect(slow.body).toMatchObject({ timedOut: true });

    const go = await execute({ runtime: 'go', code: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("Sum:", 15) }\n', timeout: 5_000 });
    expect(go.status).toBe(200);
    expect(go.body).toMatchObject({ stdout: 'Sum: 15\n', exitCode: 0, runtime: 'go' });
    expect(go.body.compile.exitCode).toBe(0);

    const bad = await execute({ runtime: 'python', code: 'print(1)', timeout: 10_000_000 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
  });

  it('an execution longer than a runner function can hold is a Fargate task: 202, then polled to completed; only its tenant can read it', async () => {
    aws.ecs.hold();
    const res = await execute({ runtime: 'python', code: 'import time\ntime.sleep(0.5)\nprint("done late")', timeout: 120_000 });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'queued' });
    // From the host's root, through the stage: a client following it literally reaches the execution.
    expect(res.headers.get('location')).toBe(`/api/v1/executions/${res.body.id}`);
    expect((await fetch(new URL(res.headers.get('location')!, aws.apiUrl), { headers: { 'x-api-key': 'key-alice' } })).status).toBe(200);

    expect((await call('GET', `/v1/executions/${res.body.id}`, { key: 'key-bob' })).status).toBe(404);
    expect((await call('GET', `/v1/executions/${res.body.id}`, { key: 'key-alice' })).body).toEqual({ id: res.body.id, status: 'queued' });
    aws.ecs.resume();

    const { execution, seen } = await poll(res.body.id);
    // On failure, say why: the execution's error and what the task printed.
    const why = JSON.stringify({ execution, tasks: [...aws.ecs.tasks.values()].map((t) => ({ status: t.lastStatus, exit: t.exitCode, output: t.output.join('').slice(-2000) })) });
    expect(execution, why).toMatchObject({ id: res.body.id, status: 'completed', result: { stdout: 'done late\n', exitCode: 0, runtime: 'python' } });
    expect(seen).toContain('completed');

    const run = aws.ecs.runTaskRequests.at(-1)!;
    expect(run.launchType).toBe('FARGATE');
    const env = run.overrides.containerOverrides[0].environment as Array<{ name: string; value: string }>;
    expect(env.map((e) => e.name).sort()).toEqual(['RUNTOOLS_REQUEST_URL', 'RUNTOOLS_RESULT_URL']);
    expect(JSON.stringify(run.overrides).length).toBeLessThan(8192);
    const resultUrl = env.find((e) => e.name === 'RUNTOOLS_RESULT_URL')!.value;
    expect(resultUrl).toMatch(/X-Amz-Signature=/);
    expect(resultUrl).not.toMatch(/x-amz-checksum/i);
    expect(resultUrl).toMatch(/if-none-match/);
    // Signed by a fresh hour-long session of the result-writer role, not the API function's own.
    const signed = new URL(resultUrl).searchParams;
    expect(signed.get('X-Amz-Security-Token')).toMatch(/^session-\d+$/);
    expect(Number(signed.get('X-Amz-Expires'))).toBeLessThanOrEqual(3600);
    expect(Number(signed.get('X-Amz-Expires'))).toBeGreaterThan(3500);
    expect(aws.assumeRoleCalls.at(-1)).toMatchObject({ Action: 'AssumeRole', RoleArn: RESULT_WRITER_ROLE, DurationSeconds: '3600' });
    expect(JSON.stringify(run)).not.toContain('time.sleep');
  });

  it('the SDK hides the 202: execute() polls and resolves with the result', async () => {
    const rt = new Runtools({ apiKey: 'key-bob', baseUrl: aws.apiUrl });
    const result = await rt.execute({ runtime: 'node', code: 'console.log(6 * 7)', timeout: 120_000 });
    expect(result).toMatchObject({ stdout: '42\n', exitCode: 0, runtime: 'node' });
  });

  it('a task that dies is failed with its stop reason', async () => {
    const res = await execute({ runtime: 'python', code: 'import time\ntime.sleep(60)', timeout: 120_000 });
    expect(res.status).toBe(202);
    const { execution: running } = await poll(res.body.id, 'key-alice', (s) => s === 'running');
    expect(running.status).toBe('running');
    const taskArn = [...aws.ecs.tasks.keys()].at(-1)!;
    aws.ecs.crash(taskArn);
    await aws.ecs.waitStopped(taskArn);
    const { execution } = await poll(res.body.id);
    expect(execution.status).toBe('failed');
    expect(execution.error.code).toBe('internal');
    expect(execution.error.message).toMatch(/OutOfMemoryError/);
    expect(execution.error.message).toMatch(/exit code 137/);
    expect(execution.result).toBeUndefined();
  });

  it('a request with the default timeout (30 s) runs on Lambda and is answered 200, as locally', async () => {
    const tasksBefore = aws.ecs.runTaskRequests.length;
    const res = await execute({ runtime: 'python', code: 'print("default timeout")' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ stdout: 'default timeout\n', exitCode: 0 });
    const go = await execute({ runtime: 'go', code: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("go default") }\n' });
    expect(go.status).toBe(200);
    expect(go.body.stdout).toBe('go default\n');
    expect(aws.ecs.runTaskRequests.length).toBe(tasksBefore);
  });

  it('a program still running when the window closes: 202, its invocation goes on, stores its result once, polled to completed', async () => {
    const front = await aws.startApi({ ...aws.deployment, syncBudgetMs: 1500 });
    try {
      const marker = `window-${Date.now()}`;
      const before = aws.lambda.invocations.length;
      const res = await fetch(`${front.url}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json' },
        body: JSON.stringify({ runtime: 'python', code: `import time\ntime.sleep(4)\nprint("${marker}")`, timeout: 20_000 }),
      });
      const body = (await res.json()) as { id: string; status: string };
      expect(res.status).toBe(202);
      expect(body.status).toBe('running');
      expect(res.headers.get('location')).toBe(`/api/v1/executions/${body.id}`);
      expect((await call('GET', `/v1/executions/${body.id}`, { key: 'key-bob' })).status).toBe(404);
      const { execution, seen } = await poll(body.id);
      expect(execution).toMatchObject({ status: 'completed', result: { stdout: `${marker}\n`, exitCode: 0 } });
      expect(seen[0]).toBe('running');
      // One invocation, no task: the program ran once.
      expect(aws.lambda.invocations.slice(before).filter((i) => JSON.stringify(i.payload).includes(marker))).toHaveLength(1);
    } finally {
      await front.close();
    }
  });

  it('a runner reads a request stored in S3 (a request too big to invoke with) and stores its outcome once', async () => {
    const objects = new ExecutionObjects({ s3: aws.clients.s3, bucket: aws.deployment.bucket, log: () => {} });
    const id = ExecutionObjects.newId();
    const request = ExecuteRequestSchema.parse({ runtime: 'python', code: `s = '''${'"'.repeat(3_500_000)}'''\nprint(len(s))` });
    const requestUrl = await objects.putRequest(id, request, 300, 'test');
    const resultUrl = await objects.resultUrl(id, 300);
    const out = await aws.clients.lambda.send(
      new InvokeCommand({ FunctionName: aws.deployment.functions.python, Payload: Buffer.from(JSON.stringify({ requestUrl, resultUrl })), TenantId: 'test-tenant' }),
    );
    expect(out.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(out.Payload!).toString())).toMatchObject({ stdout: '3500000\n', exitCode: 0 });
    // The runner answers first, then stores the outcome (for an API that stopped waiting).
    let stored = await objects.outcome(id);
    for (let i = 0; i < 100 && !stored; i++) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await objects.outcome(id);
    }
    expect(stored).toMatchObject({ status: 'completed', result: { stdout: '3500000\n' } });
  });

  it('a result too big for a buffered Lambda response comes back whole: S3 from the runner, a streamed (and gzipped) response from the API', async () => {
    // 1 MiB of control characters on each stream: about 12.6 MB of JSON, over Lambda's 6 MB and
    // API Gateway's 10 MB for buffered responses.
    const request = { runtime: 'python', code: 'import sys\nsys.stdout.write("\\x01" * 1048576)\nsys.stderr.write("\\x02" * 1048576)' };
    const flood = await execute(request);
    expect(flood.status, JSON.stringify(flood.body).slice(0, 300)).toBe(200);
    expect(flood.body.stdout).toBe('\x01'.repeat(1048576));
    expect(flood.body.stderr).toBe('\x02'.repeat(1048576));
    expect(flood.body.truncated).toBe(false);
    expect(flood.headers.get('content-encoding')).toBe('gzip');
    // A client that accepts no compression gets the same JSON as it is.
    const plain = await fetch(`${aws.apiUrl}/v1/execute`, {
      method: 'POST',
      headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json', 'accept-encoding': 'identity' },
      body: JSON.stringify(request),
    });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-encoding')).toBeNull();
    const text = await plain.text();
    expect(text.length).toBeGreaterThan(12_000_000);
    expect(JSON.parse(text).stdout).toBe('\x01'.repeat(1048576));
  });

  describe('a request body whose event would not fit Lambda (API Gateway escapes the body into it)', () => {
    // A 3.5 MB body of quotes (each `\"` in the body's JSON): a 7 MB event.
    const quotes = { runtime: 'python', code: `s = \'\'\'${'"'.repeat(1_750_000)}\'\'\'\nprint(len(s))` } as const;

    it('sent as it is, API Gateway refuses it (413: Lambda takes 6 MB)', async () => {
      const res = await fetch(`${aws.apiUrl}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json' },
        body: JSON.stringify(quotes),
      });
      expect(res.status).toBe(413);
    });

    it('the SDK uploads it (POST /v1/uploads, a presigned PUT) and runs it as usual', async () => {
      const rt = new Runtools({ apiKey: 'key-alice', baseUrl: aws.apiUrl });
      const result = await rt.execute(quotes);
      expect(result).toMatchObject({ stdout: '1750000\n', exitCode: 0, status: 'ok' });
    });

    it('an upload is its key\'s, holds exactly the declared length, and is read once', async () => {
      const body = JSON.stringify({ runtime: 'python', code: 'print(6 * 7)' });
      const created = await call('POST', '/v1/uploads', { key: 'key-alice', body: { size: Buffer.byteLength(body) } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), method: 'PUT', url: expect.any(String) });
      const { id, url, headers } = created.body as { id: string; url: string; headers: Record<string, string> };
      const put = (payload: string) => fetch(url, { method: 'PUT', headers: { 'content-type': headers['content-type']!, 'if-none-match': '*' }, body: payload });
      // The length is signed: S3 refuses a PUT of another length (s3rver checks no V4 signature,
      // so what is asserted here is what S3 checks).
      expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')!.split(';')).toEqual(expect.arrayContaining(['content-length', 'content-type', 'if-none-match']));
      expect(headers['content-length']).toBe(String(Buffer.byteLength(body)));
      expect((await put(body)).ok).toBe(true);
      // A second object under the same URL is refused (If-None-Match: *).
      expect((await put(body)).status).toBe(412);
      const run = (key: string) =>
        fetch(`${aws.apiUrl}/v1/execute`, { method: 'POST', headers: { 'x-api-key': key, 'x-runtools-upload': id } }).then(async (r) => ({ status: r.status, body: await r.json() }));
      const bob = await run('key-bob');
      expect(bob.status).toBe(400);
      expect(bob.body.error.message).toMatch(/no upload/);
      const alice = await run('key-alice');
      expect(alice.status, JSON.stringify(alice.body)).toBe(200);
      expect(alice.body).toMatchObject({ stdout: '42\n', exitCode: 0 });
      expect((await run('key-alice')).status).toBe(400);
    });

    it('bad uploads are 400 with the field', async () => {
      const tooBig = await call('POST', '/v1/uploads', { key: 'key-alice', body: { size: 6 * 1024 * 1024 + 1 } });
      expect(tooBig.status).toBe(400);
      expect(tooBig.body.error.issues).toEqual([expect.objectContaining({ path: 'size' })]);
      expect((await call('POST', '/v1/uploads', { key: 'key-alice', body: { size: 'big' } })).status).toBe(400);
      const both = await fetch(`${aws.apiUrl}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'x-runtools-upload': 'AAAAAAAAAAAAAAAAAAAAAA', 'content-type': 'application/json' },
        body: JSON.stringify({ runtime: 'python', code: 'print(1)' }),
      });
      expect(both.status).toBe(400);
      const malformed = await fetch(`${aws.apiUrl}/v1/execute`, { method: 'POST', headers: { 'x-api-key': 'key-alice', 'x-runtools-upload': '../../x' } });
      expect(malformed.status).toBe(400);
    });
  });

  it('a test suite runs in one runner invocation: compiled once, every test judged, as locally', async () => {
    const goInvocations = () => aws.lambda.invocations.filter((i) => i.fn === 'runtools-go').length;
    const before = goInvocations();
    const res = await execute({
      runtime: 'go',
      code: 'package main\nimport "fmt"\nfunc main() { var a, b int; fmt.Scan(&a, &b); fmt.Println(a * b) }\n',
      timeout: 2_000,
      tests: [
        { stdin: '2 3', expectedOutput: '6' },
        { stdin: '4 5', expectedOutput: '21' },
        { stdin: '7 6', expectedOutput: '42' },
      ],
      compare: 'tokens',
    });
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
    expect(res.body.tests.map((t: { verdict: string }) => t.verdict), JSON.stringify(res.body.tests[0])).toEqual(['passed', 'wrong_answer', 'passed']);
    expect(res.body).toMatchObject({ exitCode: 1, compile: { status: 'ok' }, summary: { passed: 2, total: 3 } });
    expect(goInvocations() - before).toBe(1);
    // A checker in the program's runtime runs in the same invocation; another runtime's is a 400.
    const checked = await execute({
      runtime: 'python',
      code: 'print(int(input()) + 1)',
      tests: [{ stdin: '1' }, { stdin: '5' }],
      timeout: 2_000,
      compare: { mode: 'checker', runtime: 'python', code: 'import sys\nn, o = (open(f).read() for f in sys.argv[1::2])\nsys.exit(0 if int(o) == int(n) + 1 and int(n) < 5 else 1)' },
    });
    expect(checked.status).toBe(200);
    expect(checked.body.tests.map((t: { verdict: string }) => t.verdict)).toEqual(['passed', 'wrong_answer']);
  });

  describe('a checker in another runtime runs in its own runtime\'s function', () => {
    // Doubles its input, but not 3; fails on 4; prints 100,000 more characters on 5.
    const program = "n = int(input())\nprint(n * 2 if n != 3 else 7)\nif n == 4: raise SystemExit(2)\nif n == 5: print('x' * 100_000)";
    const checker = [
      'const fs = require("fs");',
      'const [i, e, o] = process.argv.slice(2).map((f) => fs.readFileSync(f, "utf8"));',
      'const lines = o.split("\\n");',
      'const ok = Number(lines[0]) === 2 * Number(i) && e === "any" && (Number(i) !== 5 || lines[1].length === 100000);',
      'console.log(ok ? "ok" : `expected ${2 * Number(i)}, got ${lines[0]}`);',
      'process.exit(ok ? 0 : 1);',
    ].join('\n');
    const suite = { runtime: 'python', code: program, timeout: 5_000, compare: { mode: 'checker', runtime: 'node', code: checker } };
    const tests = ['2', '3', '4', '5'].map((stdin) => ({ stdin, expectedOutput: 'any' }));
    const invocations = (runtime: string) => aws.lambda.invocations.filter((i) => i.fn === `runtools-${runtime}`).length;
    const verdicts = (body: { tests: Array<{ verdict: string; message?: string }> }) => body.tests.map((t) => [t.verdict, t.message ?? null]);

    it('the program\'s tests in one invocation, every check in one more, judged by the API with the whole output', async () => {
      const before = { python: invocations('python'), node: invocations('node') };
      const res = await execute({ ...suite, tests });
      expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
      expect(verdicts(res.body)).toEqual([['passed', 'ok\n'], ['wrong_answer', 'expected 6, got 7\n'], ['runtime_error', null], ['passed', 'ok\n']]);
      expect(res.body).toMatchObject({ exitCode: 1, status: 'ok', runtime: 'python', summary: { passed: 2, total: 4 } });
      // The checker saw all 100,001 characters; the response keeps 64 KiB of them.
      expect(res.body.tests[3]).toMatchObject({ truncated: true });
      expect(res.body.tests[3].stdout.length).toBe(64 * 1024);
      expect({ python: invocations('python') - before.python, node: invocations('node') - before.node }).toEqual({ python: 1, node: 1 });
    });

    it('stopOnFailure stops at the first failure, as if the tests ran one after another; a checker that does not compile is checker_error', async () => {
      const stopped = await execute({ ...suite, tests, stopOnFailure: true });
      expect(verdicts(stopped.body).map(([v]) => v)).toEqual(['passed', 'wrong_answer', 'skipped', 'skipped']);
      const broken = await execute({ ...suite, tests: [{ stdin: '1' }], compare: { mode: 'checker', runtime: 'go', code: 'package main\nfunc main() { nope }\n' } });
      expect(broken.status).toBe(200);
      expect(broken.body.tests[0]).toMatchObject({ verdict: 'checker_error', status: 'ok', message: expect.stringMatching(/checker did not compile/) });
    });

    it('past the window: 202, the API finishes the suite after answering and stores its outcome, polled to completed', async () => {
      const front = await aws.startApi({ ...aws.deployment, syncBudgetMs: 300 });
      try {
        const res = await fetch(`${front.url}/v1/execute`, {
          method: 'POST',
          headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json' },
          body: JSON.stringify({ ...suite, code: `import time\ntime.sleep(1)\n${program}`, tests }),
        });
        const body = (await res.json()) as { id: string; status: string };
        expect(res.status).toBe(202);
        expect((await call('GET', `/v1/executions/${body.id}`, { key: 'key-bob' })).status).toBe(404);
        const { execution } = await poll(body.id);
        expect(execution.status).toBe('completed');
        expect(verdicts(execution.result)).toEqual([['passed', 'ok\n'], ['wrong_answer', 'expected 6, got 7\n'], ['runtime_error', null], ['passed', 'ok\n']]);
      } finally {
        await front.close();
      }
    });
  });

  describe('Accept: text/event-stream: live output end to end (API Gateway STREAM → API function → runner via InvokeWithResponseStream)', () => {
    const sse = async (body: unknown) => {
      const res = await fetch(`${aws.apiUrl}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const events: Array<{ event: string; data: any; at: number }> = [];
      for await (const e of readEvents(res.body!)) events.push({ event: e.event, data: JSON.parse(e.data), at: Date.now() });
      return events;
    };

    it('output arrives while the program runs, then the result', async () => {
      const events = await sse({ runtime: 'python', code: 'import time\nprint("first", flush=True)\ntime.sleep(1.5)\nprint("second")' });
      const result = events.at(-1)!;
      expect(result.event).toBe('result');
      // Chunks are what the pipe delivered (print may write "first" and "\n" apart).
      expect(events[0]!.event).toBe('stdout');
      expect('first\n'.startsWith(events[0]!.data.data)).toBe(true);
      expect(events.slice(0, -1).every((e) => e.event === 'stdout')).toBe(true);
      expect(events.slice(0, -1).map((e) => e.data.data).join('')).toBe('first\nsecond\n');
      // The first line came while the program slept, not with its end.
      expect(result.at - events[0]!.at).toBeGreaterThan(1000);
      expect(result.data).toMatchObject({ stdout: 'first\nsecond\n', exitCode: 0, status: 'ok' });
    });

    it('a compile event first; a request past the window is never a 202', async () => {
      const events = await sse({ runtime: 'go', code: 'package main\nimport "fmt"\nfunc main() { fmt.Println("streamed") }\n' });
      expect(events.map((e) => e.event)).toEqual(['compile', 'stdout', 'result']);
      expect(events[2]!.data).toMatchObject({ stdout: 'streamed\n', exitCode: 0 });
      const short = await aws.startApi({ ...aws.deployment, syncBudgetMs: 500 });
      try {
        const res = await fetch(`${short.url}/v1/execute`, {
          method: 'POST',
          headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ runtime: 'python', code: 'import time\ntime.sleep(1.2)\nprint("late")' }),
        });
        expect(res.status).toBe(200);
        const names = [];
        for await (const e of readEvents(res.body!)) names.push(e.event);
        expect(names.at(-1)).toBe('result');
        expect(names.slice(0, -1).length).toBeGreaterThan(0);
        expect(names.slice(0, -1).every((n) => n === 'stdout')).toBe(true);
      } finally {
        await short.close();
      }
    });
  });

  it('Idempotency-Key: the key is kept in the bucket; a repeat answers the first result, another request with it is 422', async () => {
    const request = { runtime: 'python', code: 'import os\nprint(os.urandom(8).hex())', timeout: 5_000 };
    const send = (body: unknown, key = 'key-alice') =>
      fetch(`${aws.apiUrl}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json', 'idempotency-key': 'aws-once' },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as any }));
    const first = await send(request);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-runtools-features')).toContain('idempotency-key');
    const again = await send(request);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.stdout).toBe(first.body.stdout);
    expect((await send({ ...request, code: 'print(1)' })).status).toBe(422);
    // Another key id is another tenant: its own run.
    expect((await send(request, 'key-bob')).body.stdout).not.toBe(first.body.stdout);
  });

  it('files out and MCP work through the AWS path too', async () => {
    const files = await execute({ runtime: 'python', code: 'open("report.txt", "w").write("done\\n")', outputs: ['*.txt'], timeout: 5_000 });
    expect(files.status).toBe(200);
    expect(files.body.files).toEqual([expect.objectContaining({ path: 'report.txt', encoding: 'utf8', content: 'done\n', size: 5 })]);
    const client = new Client({ name: 'aws-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${aws.apiUrl}/mcp`), { requestInit: { headers: { 'x-api-key': 'key-alice' } } }));
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['execute_code', 'list_runtimes']);
      const out = await client.callTool({ name: 'execute_code', arguments: { runtime: 'python', code: 'print(6 * 7)', timeout: 5_000 } });
      expect(out.isError).toBeFalsy();
      expect(JSON.stringify(out.content)).toContain('42');
    } finally {
      await client.close();
    }
  });

  it('the playground is not served by the API function (it deploys as static files): / is a 404 JSON error', async () => {
    const root = await call('GET', '/', { key: 'key-alice' });
    expect(root.status).toBe(404);
    expect(root.body.error.code).toBe('not_found');
  });

  it('unknown execution ids are 404', async () => {
    expect((await call('GET', '/v1/executions/AAAAAAAAAAAAAAAAAAAAAA', { key: 'key-alice' })).status).toBe(404);
    expect((await call('GET', '/v1/executions/..%2F..%2Fetc', { key: 'key-alice' })).status).toBe(404);
  });
});

describe.runIf(NAMESPACES)('runner failures become clean 5xx answers', () => {
  it('a runner that crashes → 502 internal, no internals in the body', async () => {
    const front = await aws.startApi({ ...aws.deployment, functions: { ...aws.deployment.functions, python: 'runner-crashes' } });
    try {
      const res = await fetch(`${front.url}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json' },
        body: JSON.stringify({ runtime: 'python', code: 'print(1)', timeout: 5_000 }),
      });
      expect(res.status).toBe(502);
      const body = await res.json();
      expect(body.error.code).toBe('internal');
      expect(JSON.stringify(body)).not.toMatch(/Runtime\.ExitError|runner-crashes|lambda/i);
    } finally {
      await front.close();
    }
  });

  it('a runner that outlives its function timeout → 504 internal', async () => {
    const front = await aws.startApi({ ...aws.deployment, functions: { ...aws.deployment.functions, python: 'runner-hangs' } });
    try {
      const res = await fetch(`${front.url}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json' },
        body: JSON.stringify({ runtime: 'python', code: 'print(1)', timeout: 5_000 }),
      });
      expect(res.status).toBe(504);
      expect((await res.json()).error.code).toBe('internal');
    } finally {
      await front.close();
    }
  });

  it('Lambda throttling → 429 rate_limited with Retry-After', async () => {
    const front = await aws.startApi({ ...aws.deployment, functions: { ...aws.deployment.functions, python: 'runner-single' } });
    try {
      const send = () =>
        fetch(`${front.url}/v1/execute`, {
          method: 'POST',
          headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json' },
          body: JSON.stringify({ runtime: 'python', code: 'import time\ntime.sleep(1.5)\nprint("ok")', timeout: 5_000 }),
        });
      const first = send();
      await new Promise((r) => setTimeout(r, 300));
      const second = await send();
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('2');
      expect((await second.json()).error.code).toBe('rate_limited');
      expect((await first).status).toBe(200);
    } finally {
      await front.close();
    }
  });

  it('a runtime that is not deployed → 503 runtime_unavailable', async () => {
    const { rust: _rust, ...functions } = aws.deployment.functions;
    const front = await aws.startApi({ ...aws.deployment, functions });
    try {
      const res = await fetch(`${front.url}/v1/execute`, {
        method: 'POST',
        headers: { 'x-api-key': 'key-alice', 'content-type': 'application/json' },
        body: JSON.stringify({ runtime: 'rust', code: 'fn main() {}', timeout: 1_000 }),
      });
      expect(res.status).toBe(503);
      expect((await res.json()).error.code).toBe('runtime_unavailable');
    } finally {
      await front.close();
    }
  });
});
