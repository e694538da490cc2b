/**
 * `POST /v1/uploads` and bodies taken from uploads (functions/api/uploads.ts): only where the host
 * passes an Uploads store (the API on AWS); the local server takes every body directly.
 */
import type { MiddlewareHandler } from 'hono';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../env.js';
import { errorResponse, summarise, toIssues } from '../errors.js';
import { UPLOAD_HEADER, UploadError, UploadRequestSchema, type Uploads } from '../uploads.js';

export function registerUploads(app: OpenAPIHono<AppEnv>, uploads: Uploads): void {
  app.post('/v1/uploads', async (c) => {
    let json: unknown;
    try {
      json = await c.req.json();
    } catch {
      return errorResponse(c, 400, 'invalid_request', 'the body must be JSON: {"size": <bytes of the request body to upload>}');
    }
    const parsed = UploadRequestSchema.safeParse(json);
    if (!parsed.success) {
      const issues = toIssues(parsed.error.issues);
      return errorResponse(c, 400, 'invalid_request', summarise(issues), issues);
    }
    try {
      return c.json(await uploads.create(c.get('tenant'), parsed.data.size), 201);
    } catch (err) {
      if (err instanceof UploadError) return errorResponse(c, 400, 'invalid_request', err.message, [{ path: 'size', message: err.message }]);
      throw err;
    }
  });
}

/**
 * `POST /v1/execute` with `x-runtools-upload: <id>` and no body: the uploaded body takes the
 * place of the request's, before the body limit and validation see it.
 */
export function uploadedBody(uploads: Uploads): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const id = c.req.header(UPLOAD_HEADER);
    if (id === undefined || c.req.method !== 'POST') return next();
    const length = Number(c.req.header('content-length') ?? 0);
    if (length > 0) return errorResponse(c, 400, 'invalid_request', `send either a body or ${UPLOAD_HEADER}, not both`);
    let text: string;
    try {
      text = await uploads.take(c.get('tenant'), id);
    } catch (err) {
      if (err instanceof UploadError) return errorResponse(c, 400, 'invalid_request', err.message);
      throw err;
    }
    const headers = new Headers(c.req.raw.headers);
    headers.delete(UPLOAD_HEADER);
    headers.set('content-type', 'application/json');
    headers.set('content-length', String(Buffer.byteLength(text)));
    c.req.raw = new Request(c.req.url, { method: 'POST', headers, body: text });
    return next();
  };
}
