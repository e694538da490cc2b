import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { runtimeNames } from '../../runtimes.js';
import { Scalar } from '@scalar/hono-api-reference';
import { z } from 'zod';
import type { AppEnv } from '../env.js';
import { errorResponse } from '../errors.js';
import { REVALIDATE, sendAsset, staticAsset, type StaticAsset } from '../static-assets.js';

const health = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Health',
  description: 'Up and able to take work (200), or up but unable to run now, with the reason (503: e.g. the work root is full).',
  tags: ['meta'],
  responses: {
    200: {
      description: 'The server is up and can run executions',
      content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
    },
    503: {
      description: 'The server is up but cannot run executions now',
      content: { 'application/json': { schema: z.object({ status: z.literal('degraded'), reason: z.string() }) } },
    },
  },
});

const DESCRIPTION = [
  `Run untrusted ${runtimeNames()} code in isolated, short-lived sandboxes.`,
  'Authenticate with `x-api-key: <key>` (or `Authorization: Bearer <key>`).',
  "A program that fails is a 200 with its `exitCode`; errors use the `Error` body.",
].join('\n\n');

/** Where /docs loads Scalar's browser bundle from: this server, not a CDN. */
const SCALAR_SCRIPT = '/docs/assets/standalone.js';

/**
 * Scalar's standalone browser bundle, from the installed @scalar/api-reference; null where the
 * package is not beside the code (a bundled deployment).
 */
async function scalarScript(): Promise<StaticAsset | null> {
  let file: string;
  try {
    file = path.join(path.dirname(createRequire(import.meta.url).resolve('@scalar/api-reference')), 'browser', 'standalone.js');
  } catch {
    return null;
  }
  const body = await readFile(file).catch(() => null);
  return body && staticAsset(file, body, REVALIDATE);
}

/**
 * GET /health (no auth), GET /openapi.json (generated from the contract's schemas), GET /docs
 * (reference page) and its script: everything the page loads comes from this server.
 */
export function registerMeta(app: OpenAPIHono<AppEnv>, info: { version: string; health?: () => Promise<string | null> }): void {
  app.openapi(health, async (c) => {
    const reason = (await info.health?.()) ?? null;
    return reason === null ? c.json({ status: 'ok' as const }, 200) : c.json({ status: 'degraded' as const, reason }, 503);
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'ApiKeyAuth', { type: 'apiKey', in: 'header', name: 'x-api-key' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'BearerAuth', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', { openapi: '3.1.0', info: { title: 'runtools API', version: info.version, description: DESCRIPTION } });
  app.get(
    '/docs',
    Scalar({
      url: '/openapi.json',
      pageTitle: 'runtools API reference',
      cdn: SCALAR_SCRIPT,
      favicon: '/favicon.svg',
      // Nothing from elsewhere: system fonts, no telemetry, none of Scalar's hosted services (its
      // AI agent, the developer tools' share/deploy/SDK generation).
      withDefaultFonts: false,
      telemetry: false,
      showDeveloperTools: 'never',
      agent: { disabled: true },
    }),
  );
  let script: Promise<StaticAsset | null> | undefined;
  app.get(SCALAR_SCRIPT, async (c) => {
    const asset = await (script ??= scalarScript().catch((error: unknown) => {
      script = undefined;
      throw error;
    }));
    return asset ? sendAsset(c, asset) : errorResponse(c, 404, 'not_found', 'the API reference script (@scalar/api-reference) is not installed here');
  });
}
