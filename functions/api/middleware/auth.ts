import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';
import { errorResponse } from '../errors.js';

/** Resolves the caller's tenant, or null when the caller is not authenticated (→ 401). */
export type Authenticate = (c: Context<AppEnv>) => string | null | Promise<string | null>;

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** The key a request presents: `x-api-key`, else `Authorization: Bearer`. */
export function presentedKey(c: Context): string | undefined {
  const header = c.req.header('x-api-key');
  if (header) return header.trim();
  const match = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
  return match?.[1]?.trim();
}

/**
 * The tenant a key stands for: a keyed hash (HMAC-SHA-256 with the server's secret, kept in its
 * data directory), so keys never leave this function and a tenant id in a log cannot be checked
 * against guessed keys without the secret.
 */
export function tenantOfKey(key: string, secret: Buffer): string {
  return `key_${createHmac('sha256', secret).update(key, 'utf8').digest('hex').slice(0, 20)}`;
}

/**
 * Authenticates against a fixed set of keys with a constant-time compare of their hashes.
 * With no keys every caller is the tenant "anonymous" (the server allows that only on loopback).
 * `secret` keys the tenant hash: the server's persisted one keeps owners stable across restarts.
 */
export function apiKeyAuthenticator(keys: readonly string[], secret: Buffer = randomBytes(32)): Authenticate {
  if (keys.length === 0) return () => 'anonymous';
  const expected = keys.map(digest);
  return (c) => {
    const key = presentedKey(c);
    if (!key) return null;
    const given = digest(key);
    let match = false;
    for (const candidate of expected) match = timingSafeEqual(candidate, given) || match;
    return match ? tenantOfKey(key, secret) : null;
  };
}

/** The optional end-user header: a key's own users, kept apart from each other. */
export const END_USER_HEADER = 'x-runtools-user';
const END_USER = /^[A-Za-z0-9._@:+=-]{1,128}$/;

/**
 * Rejects unauthenticated requests with 401 and records the tenant for the routes. With an
 * `x-runtools-user` header the tenant is the key's tenant and that user (`<tenant>/<user>`): a
 * key's end users then own their executions separately and, on AWS, never share a runner
 * environment (Lambda tenant isolation keys environments by it).
 */
export function requireTenant(authenticate: Authenticate): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const tenant = await authenticate(c);
    if (!tenant) {
      c.header('WWW-Authenticate', 'Bearer realm="runtools"');
      const message = presentedKey(c)
        ? 'the API key is not valid'
        : 'missing API key: send it in the x-api-key header or as Authorization: Bearer <key>';
      return errorResponse(c, 401, 'unauthorized', message);
    }
    const user = c.req.header(END_USER_HEADER);
    if (user !== undefined && !END_USER.test(user)) {
      const message = `${END_USER_HEADER} must be 1 to 128 characters from A-Z a-z 0-9 . _ @ : + = -`;
      return errorResponse(c, 400, 'invalid_request', message, [{ path: `headers.${END_USER_HEADER}`, message }]);
    }
    c.set('tenant', user === undefined ? tenant : `${tenant}/${user}`);
    await next();
  };
}
