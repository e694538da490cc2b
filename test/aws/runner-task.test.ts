import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidNamespacesAvailable } from './helpers/namespaces.js';

// Without PID namespaces (unprivileged CI) these tests cannot run safely: see helpers/namespaces.ts.
const NAMESPACES = pidNamespacesAvailable();
import { EcsEmulator } from './helpers/ecs-emulator.js';
import { toolchainEnv } from './helpers/local-aws.js';

const TASK_DEF = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/runtools-python:1';

/** Plays S3's part for presigned URLs: serves one request, accepts uploads after `failPuts` failures. */
function fakeBucket(request: unknown, failPuts: number) {
  const uploads: Array<{ status: number; body: string; ifNoneMatch?: string }> = [];
  let failures = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/request.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(request));
        return;
      }
      if (req.method === 'PUT' && req.url === '/result.json') {
        const status = failures++ < failPuts ? 503 : 200;
        uploads.push({ status, body, ifNoneMatch: req.headers['if-none-match'] as string | undefined });
        res.writeHead(status);
        res.end();
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  return {
    uploads,
    start: () => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let ecs: EcsEmulator;
let client: ECSClient;

beforeAll(async () => {
  if (!NAMESPACES) return;
  ecs = await new EcsEmulator('runtools', { [TASK_DEF]: { containerName: 'runner' } }, await toolchainEnv(), 0).start();
  client = new ECSClient({ endpoint: ecs.endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, maxAttempts: 1 });
});

afterAll(async () => {
  client?.destroy();
  await ecs?.stop();
});

async function runTask(bucketUrl: string, resultUrl = `${bucketUrl}/result.json`) {
  const out = await client.send(
    new RunTaskCommand({
      cluster: 'runtools',
      taskDefinition: TASK_DEF,
      launchType: 'FARGATE',
      overrides: {
        containerOverrides: [
          {
            name: 'runner',
            environment: [
              { name: 'RUNTOOLS_REQUEST_URL', value: `${bucketUrl}/request.json` },
              { name: 'RUNTOOLS_RESULT_URL', value: resultUrl },
            ],
          },
        ],
      },
    }),
  );
  return ecs.waitStopped(out.tasks![0]!.taskArn!);
}

describe.runIf(NAMESPACES)('runner task (Fargate entry)', () => {
  it('fetches the request, runs it, uploads the result once (retrying failures) and exits 0', async () => {
    const bucket = fakeBucket({ request: { runtime: 'python', code: 'import os\nprint(sorted(k for k in os.environ if k.startswith(("RUNTOOLS_REQUEST", "RUNTOOLS_RESULT", "ECS_"))))' } }, 2);
    const url = await bucket.start();
    try {
      const task = await runTask(url);
      expect(task.exitCode).toBe(0);
      expect(bucket.uploads.map((u) => u.status)).toEqual([503, 503, 200]);
      const stored = JSON.parse(bucket.uploads.at(-1)!.body);
      expect(stored.result).toMatchObject({ stdout: '[]\n', exitCode: 0, runtime: 'python' });
      expect(bucket.uploads.at(-1)!.ifNoneMatch).toBe('*');
    } finally {
      await bucket.stop();
    }
  });

  it('exits non-zero when the result cannot be uploaded', async () => {
    const bucket = fakeBucket({ request: { runtime: 'python', code: 'print(1)' } }, 100);
    const url = await bucket.start();
    try {
      const task = await runTask(url);
      expect(task.exitCode).not.toBe(0);
      expect(bucket.uploads).toHaveLength(5);
      expect(task.output.join('')).toMatch(/uploading the result failed after 5 attempts/);
    } finally {
      await bucket.stop();
    }
  }, 30_000);

  it('reports an invalid request as a failed outcome and exits non-zero', async () => {
    const bucket = fakeBucket({ request: { runtime: 'python' } }, 0);
    const url = await bucket.start();
    try {
      const task = await runTask(url);
      expect(task.exitCode).toBe(1);
      expect(JSON.parse(bucket.uploads.at(-1)!.body)).toEqual({ error: { code: 'internal', message: 'the execution failed' } });
    } finally {
      await bucket.stop();
    }
  });
});
