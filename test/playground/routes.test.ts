/** How the API serves the playground and /docs: content types, caching, compression, no auth, nothing from a CDN. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { apiKeyAuthenticator, createApp, silentLogger } from '../../functions/api/app.js';
import { registerPlayground } from '../../functions/api/routes/playground.js';
import { createRouter } from '../../functions/api/routes/shared.js';
import type { Dispatcher } from '../../functions/dispatch/types.js';
import { buildPlayground } from '../../playground/build.js';

const idle: Dispatcher = {
  execute: () => Promise.reject(new Error('unused')),
  getExecution: () => Promise.resolve(null),
  runtimes: () => Promise.resolve([]),
};
// With keys configured: the page, its files and /docs are served without one.
const app = createApp({ dispatcher: idle, authenticate: apiKeyAuthenticator(['k']), log: silentLogger });

describe('GET / and /playground/*', () => {
  it('serves the page with its policy, revalidated on each use', async () => {
    const res = await app.request('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(res.headers.get('etag')).toMatch(/^"[\w-]+"$/);
    const html = await res.text();
    expect(html).toContain('<title>runtools playground</title>');
    expect(html).not.toContain('{{');
    expect(html).not.toMatch(/https?:\/\//);

    const again = await app.request('/', { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect((await app.request('/', { method: 'HEAD' })).status).toBe(200);
  });

  it('serves the hashed script and stylesheet as immutable, gzip-compressed when asked', async () => {
    const html = await (await app.request('/')).text();
    const script = /<script type="module" src="(playground\/main-\w+\.js)"/.exec(html)![1]!;
    const style = /<link rel="stylesheet" href="(playground\/style-\w+\.css)"/.exec(html)![1]!;
    for (const [file, type] of [
      [script, 'text/javascript; charset=utf-8'],
      [style, 'text/css; charset=utf-8'],
    ] as const) {
      const plain = await app.request(`/${file}`);
      expect(plain.status).toBe(200);
      expect(plain.headers.get('content-type')).toBe(type);
      expect(plain.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(plain.headers.get('vary')).toBe('accept-encoding');
      const body = Buffer.from(await plain.arrayBuffer());
      const zipped = await app.request(`/${file}`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
      expect(zipped.headers.get('content-encoding')).toBe('gzip');
      expect(gunzipSync(Buffer.from(await zipped.arrayBuffer()))).toEqual(body);
      const refused = await app.request(`/${file}`, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
      expect(refused.headers.get('content-encoding')).toBeNull();
    }
    // The page's script names its chunks relative to itself, and every one is served.
    const main = await (await app.request(`/${script}`)).text();
    const chunks = [...main.matchAll(/"\.\/(chunk-\w+\.js)"/g)].map((m) => m[1]!);
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of new Set(chunks)) expect((await app.request(`/playground/${chunk}`)).status).toBe(200);
  });

  it('answers an unknown file with the API 404 and serves the icon', async () => {
    const res = await app.request('/playground/nope.js');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    const icon = await app.request('/favicon.svg');
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
  });

  it('tries a failed build again on the next request', async () => {
    let calls = 0;
    const router = createRouter();
    router.onError((_error, c) => c.text('build failed', 500));
    registerPlayground(router, {
      load: async () => {
        if (++calls === 1) throw new Error('esbuild failed');
        return new Map([['index.html', new TextEncoder().encode('<!doctype html><title>t</title>')]]);
      },
    });
    expect((await router.request('/')).status).toBe(500);
    const res = await router.request('/');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>t</title>');
    await router.request('/');
    expect(calls).toBe(2);
  });
});

describe('buildPlayground', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'runtools-playground-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes a static site whose page names only files it holds', async () => {
    const files = await buildPlayground({ outDir: out });
    const written = readdirSync(out, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(out, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
      .sort();
    expect(written).toEqual([...files.keys()].sort());
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    // Relative references (the link to /docs is the API's).
    const refs = [...html.matchAll(/(?:src|href)="([^"#/][^"]*)"/g)].map((m) => m[1]!);
    expect(refs.length).toBe(3);
    for (const ref of refs) expect(files.has(ref)).toBe(true);
  });
});

describe('GET /docs', () => {
  it('loads Scalar from this server, not a CDN', async () => {
    const html = await (await app.request('/docs')).text();
    expect(html).toContain('<script src="/docs/assets/standalone.js">');
    expect(html).not.toContain('cdn.jsdelivr.net');
    expect(html).toContain('"withDefaultFonts": false');
    const script = await app.request('/docs/assets/standalone.js', { headers: { 'accept-encoding': 'gzip' } });
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('content-encoding')).toBe('gzip');
    expect(gunzipSync(Buffer.from(await script.arrayBuffer())).toString('utf8')).toContain('createApiReference');
  });
});
