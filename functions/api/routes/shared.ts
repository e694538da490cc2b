import { OpenAPIHono } from '@hono/zod-openapi';
import { ErrorBodySchema, type ErrorCode } from '../../contract.js';
import type { AppEnv } from '../env.js';
import { errorResponse, summarise, toIssues } from '../errors.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: `issues` lists each bad field by path',
  401: 'Missing or wrong API key',
  404: 'Unknown route or execution id',
  413: 'Request body over the limit',
  429: 'Queue full or over quota; see the Retry-After header',
  500: 'Server fault (generic message; details are in the server logs)',
  503: "The runtime's toolchain is not installed on this deployment (`runtime_unavailable`), or no room to run now (`capacity`, with Retry-After)",
};

/** OpenAPI response entries for the given error statuses, all with the Error body. */
export function errorResponses<const S extends readonly (keyof typeof DESCRIPTIONS)[]>(statuses: S) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: DESCRIPTIONS[status]!, content: { 'application/json': { schema: ErrorBodySchema } } },
    ]),
  ) as { [K in S[number]]: { description: string; content: { 'application/json': { schema: typeof ErrorBodySchema } } } };
}

/** Security requirement of the authenticated routes (either header works). */
export const SECURITY: Record<string, string[]>[] = [{ ApiKeyAuth: [] }, { BearerAuth: [] }];

/** A router whose schema violations become 400 invalid_request with `issues`. */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issues = toIssues(result.error.issues);
      return errorResponse(c, 400, 'invalid_request' satisfies ErrorCode, summarise(issues), issues);
    },
  });
}
