import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { PlaygroundFiles } from '../../../playground/build.js';
import type { AppEnv } from '../env.js';
import { errorResponse } from '../errors.js';
import { IMMUTABLE, REVALIDATE, sendAsset, staticAsset, type StaticAsset } from '../static-assets.js';

const FAVICON = fileURLToPath(new URL('../../../playground/favicon.svg', import.meta.url));

/** Where the hashed assets are served (the build's own folder name inside dist/). */
const ASSETS = '/playground/';

/**
 * The page's own policy: everything from this origin (the API included), nothing from anywhere
 * else. Inline styles are allowed for the editor, which sets element styles as it lays out text.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

export interface PlaygroundOptions {
  /** The built site. @default playground/dist, built first when missing or older than its sources */
  load?: () => Promise<PlaygroundFiles>;
}

/**
 * The build (esbuild, the sources) is loaded when the page is first asked for, never for an API
 * request. The API on AWS does not register these routes (createApp's `playground: false`): its
 * bundle has no playground sources; there the playground deploys as static files (playground/build.ts).
 */
const loadBuilt = async (): Promise<PlaygroundFiles> => (await import('../../../playground/build.js')).loadPlayground();

/**
 * GET / (the playground's page), GET /playground/* (its hashed scripts and styles) and
 * GET /favicon.svg: no auth, like /docs. The site is built or read once, on the first request, and then
 * served from memory; a failed build is tried again on the next request.
 */
export function registerPlayground(app: OpenAPIHono<AppEnv>, options: PlaygroundOptions = {}): void {
  const load = options.load ?? loadBuilt;
  let site: Promise<Map<string, StaticAsset>> | undefined;
  const assets = () =>
    (site ??= load()
      .then(async (files) => {
        const entries = await Promise.all(
          [...files].map(async ([name, body]) => [name, await staticAsset(name, body, name.startsWith(ASSETS.slice(1)) ? IMMUTABLE : REVALIDATE)] as const),
        );
        return new Map(entries);
      })
      .catch((error: unknown) => {
        site = undefined;
        throw error;
      }));

  const serve = async (c: Context<AppEnv>, name: string, headers?: Record<string, string>) => {
    const asset = (await assets()).get(name);
    return asset ? sendAsset(c, asset, headers) : errorResponse(c, 404, 'not_found', `no playground file at ${c.req.path}`);
  };
  app.get('/', (c) => serve(c, 'index.html', PAGE_HEADERS));
  // The icon of this page and of /docs, read from the sources: opening /docs builds nothing.
  let icon: Promise<StaticAsset | null> | undefined;
  app.get('/favicon.svg', async (c) => {
    const asset = await (icon ??= readFile(FAVICON).then((body) => staticAsset(FAVICON, body, REVALIDATE), () => null));
    return asset ? sendAsset(c, asset) : errorResponse(c, 404, 'not_found', 'no icon here');
  });
  app.get(`${ASSETS}*`, (c) => serve(c, c.req.path.slice(1)));
}
