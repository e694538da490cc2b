import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../functions/api/server.js';
import { Runtools } from '../../sdk/index.js';
import { startTestServer } from './helpers.js';

/* Idempotency-Key (API.md "Idempotency"): a retried request never runs the program twice. */

let server: RunningServer;
beforeAll(async () => {
  server = await startTestServer({ apiKeys: ['k1', 'k2'], syncBudgetMs: 5_000 });
});
afterAll(() => server.close());

const RANDOM = { runtime: 'python', timeout: 3_000, code: 'import os, time\ntime.sleep(float(os.environ.get("NAP", "0")))\nprint(os.urandom(8).hex())' };

const post = async (body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${server.url}/v1/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k1', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
};

describe('Idempotency-Key', () => {
  it('the same key and request: the first result again, without running the program again', async () => {
    const first = await post(RANDOM, { 'idempotency-key': 'once-1' });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotency-key')).toBe('once-1');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // The same request written differently (alias, key order, a default made explicit) is the same request.
    const again = await post({ stdin: '', code: RANDOM.code, runtime: 'py', timeout: 3_000 }, { 'idempotency-key': 'once-1' });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    // Without the key, or with another, it runs again.
    expect((await post(RANDOM)).body.stdout).not.toBe(first.body.stdout);
    expect((await post(RANDOM, { 'idempotency-key': 'once-2' })).body.stdout).not.toBe(first.body.stdout);
  });

  it('the same key with another request is 422 idempotency_mismatch', async () => {
    await post(RANDOM, { 'idempotency-key': 'mismatch' });
    const other = await post({ runtime: 'python', code: 'print(2)' }, { 'idempotency-key': 'mismatch' });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_mismatch');
  });

  it('keys are per tenant: another API key or end user runs its own', async () => {
    const mine = await post(RANDOM, { 'idempotency-key': 'shared-name' });
    const theirs = await post(RANDOM, { 'idempotency-key': 'shared-name', 'x-api-key': 'k2' });
    const user = await post(RANDOM, { 'idempotency-key': 'shared-name', 'x-runtools-user': 'student-7' });
    expect(new Set([mine.body.stdout, theirs.body.stdout, user.body.stdout]).size).toBe(3);
  });

  it('a duplicate that arrives while the first runs waits for it and gets its result', async () => {
    const slow = { ...RANDOM, env: { NAP: '1' } };
    const [a, b] = await Promise.all([post(slow, { 'idempotency-key': 'concurrent' }), post(slow, { 'idempotency-key': 'concurrent' })]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.stdout).toBe(b.body.stdout);
    expect([a.headers.get('idempotent-replayed'), b.headers.get('idempotent-replayed')].sort()).toEqual([null, 'true'].sort());
  });

  it('a 202 is kept too: the duplicate gets the same execution id', async () => {
    const long = { ...RANDOM, timeout: 10_000 };
    const first = await post(long, { 'idempotency-key': 'background' });
    expect(first.status).toBe(202);
    const again = await post(long, { 'idempotency-key': 'background' });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get('location')).toBe(`/v1/executions/${first.body.id}`);
  });

  it('a malformed key is a 400; a key with streaming is a 400', async () => {
    const bad = await post(RANDOM, { 'idempotency-key': 'x'.repeat(256) });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe('Idempotency-Key');
    const streamed = await post(RANDOM, { 'idempotency-key': 'sse', accept: 'text/event-stream' });
    expect(streamed.status).toBe(400);
  });

  it('the SDK retries a request whose answer was lost with the same key: the program runs once', async () => {
    // A proxy that passes everything on, but drops the first answer to POST /v1/execute after the
    // server sent it (as a gateway timing out would), keeping what the server said.
    const answered: string[] = [];
    let dropped = false;
    const target = new URL(server.url);
    const proxy: Server = createServer((req, res) => {
      const upstream = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          if (req.method === 'POST' && req.url === '/v1/execute') {
            answered.push(body.toString('utf8'));
            if (!dropped) {
              dropped = true;
              req.socket.destroy();
              return;
            }
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(body);
        });
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const rt = new Runtools({ baseUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, apiKey: 'k1' });
      const result = await rt.execute({ ...RANDOM, env: { NAP: '0.5' } });
      expect(answered).toHaveLength(2);
      const [lost, replayed] = answered.map((a) => JSON.parse(a));
      // The retry got the lost answer back: the same run, not a second one.
      expect(replayed).toEqual(lost);
      expect(result.stdout).toBe(lost.stdout);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
