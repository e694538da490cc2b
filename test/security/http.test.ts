import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../functions/api/app.js';
import { startServer, type RunningServer } from '../../functions/api/server.js';
import type { ExecuteResult } from '../../functions/contract.js';
import type { TestRunner } from '../helpers/runner.js';
import { processesMatching } from '../helpers/runner.js';
import { hostileRunner, newSecret, newTag } from './harness.js';

/*
 * Attacks through the local server over real HTTP on loopback: the server's own secrets and its
 * own port, seen from inside an execution.
 */

const SECRET = newSecret();
const KEY = newSecret();

let t: TestRunner;
let server: RunningServer;

beforeAll(async () => {
  process.env.RUNTOOLS_SECURITY_SERVER_SECRET = SECRET;
  t = await hostileRunner();
  server = await startServer({ config: { host: '127.0.0.1', port: 0, apiKeys: [KEY], concurrency: 2 }, log: silentLogger, runner: t.runner });
});

afterAll(async () => {
  delete process.env.RUNTOOLS_SECURITY_SERVER_SECRET;
  await server.close();
  t.dispose();
});

async function execute(body: unknown): Promise<ExecuteResult> {
  const res = await fetch(`${server.url}/v1/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as ExecuteResult;
}

describe('through the local server', () => {
  it.each([
    [
      'python',
      `import os, socket, sys
print(sorted(os.environ.items()))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print(open(f"/proc/{pid}/environ", "rb").read())
        except OSError:
            pass
for host in ["127.0.0.1", "::1"]:
    try:
        s = socket.create_connection((host, ${'PORT'}), timeout=2)
        s.sendall(b"POST /v1/execute HTTP/1.0\\r\\ncontent-type: application/json\\r\\nx-api-key: guess\\r\\n\\r\\n{}")
        print("CONNECTED", host, s.recv(200))
    except OSError as e:
        print("refused", host)`,
    ],
    [
      'node',
      `console.log(JSON.stringify(process.env));
const net = require('net');
for (const host of ['127.0.0.1', '::1']) {
  const s = net.connect({ host, port: ${'PORT'} });
  s.on('connect', () => { console.log('CONNECTED', host); s.end(); });
  s.on('error', () => console.log('refused', host));
}`,
    ],
  ])("%s: the server's environment and its own port are out of reach", async (runtime, template) => {
    const tag = newTag();
    const r = await execute({ runtime, code: template.replaceAll('PORT', String(server.port)), args: [tag] });
    expect(r.stdout).toContain('refused 127.0.0.1');
    expect(r.stdout).not.toContain('CONNECTED');
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).not.toContain(KEY);
    expect(processesMatching(tag)).toEqual([]);
    expect(await t.leftovers()).toEqual([]);
  });

  it('a hostile execution does not disturb the server: it keeps answering during and after', async () => {
    const tag = newTag();
    const hostile = execute({
      runtime: 'python',
      args: [tag],
      timeout: 3000,
      code: 'import os, subprocess, sys\nsubprocess.Popen(["sleep", sys.argv[-1]], start_new_session=True)\nwhile True:\n    sys.stdout.write("x" * 4096)',
    });
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    const normal = await execute({ runtime: 'node', code: 'console.log(6 * 7)' });
    expect(normal.stdout).toBe('42\n');
    const flood = await hostile;
    expect(flood.truncated).toBe(true);
    expect(processesMatching(tag)).toEqual([]);
    expect(await t.leftovers()).toEqual([]);
  });
});
