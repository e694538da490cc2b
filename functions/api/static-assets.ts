/** Files the API serves to browsers (the playground, the API reference's script): kept in memory, compressed once. */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Context } from 'hono';

const gzipAsync = promisify(gzip);

export interface StaticAsset {
  body: Uint8Array<ArrayBuffer>;
  /** The gzip-compressed body, when compressing saves something. */
  gzipped: Uint8Array<ArrayBuffer> | null;
  etag: string;
  type: string;
  cacheControl: string;
}

/** Cache-Control of files whose name changes with their contents. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Cache-Control of files at fixed URLs: kept, but checked (ETag) before each use. */
export const REVALIDATE = 'no-cache';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

export function contentTypeOf(name: string): string {
  return TYPES[/\.[^./]+$/.exec(name)?.[0] ?? ''] ?? 'application/octet-stream';
}

/** An asset with its ETag and, for text over 1 KiB, its gzip form (compressed off the event loop). */
export async function staticAsset(name: string, body: Uint8Array, cacheControl: string): Promise<StaticAsset> {
  const type = contentTypeOf(name);
  const compressible = body.length > 1024 && /^text\/|svg|json/.test(type);
  const gzipped = compressible ? new Uint8Array(await gzipAsync(body, { level: 9 })) : null;
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body: new Uint8Array(body), gzipped: gzipped && gzipped.length < body.length ? gzipped : null, etag, type, cacheControl };
}

/** Whether Accept-Encoding allows gzip (named, or `*`, with a q above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** The asset's response: 304 when the client's copy is current, gzip when it accepts it. */
export function sendAsset(c: Context, asset: StaticAsset, extraHeaders: Record<string, string> = {}): Response {
  const headers = new Headers({
    'content-type': asset.type,
    'cache-control': asset.cacheControl,
    etag: asset.etag,
    'x-content-type-options': 'nosniff',
    ...extraHeaders,
  });
  if (asset.gzipped) headers.set('vary', 'accept-encoding');
  const cached = c.req.header('if-none-match');
  if (cached && cached.split(',').some((tag) => tag.trim().replace(/^W\//, '') === asset.etag)) return new Response(null, { status: 304, headers });
  if (asset.gzipped && acceptsGzip(c.req.header('accept-encoding'))) {
    headers.set('content-encoding', 'gzip');
    return new Response(asset.gzipped, { headers });
  }
  return new Response(asset.body, { headers });
}
