import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorBody, ErrorCode } from '../contract.js';

export type Issue = { path: string; message: string };

/** Builds the API.md error response. */
export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: ErrorCode,
  message: string,
  issues?: Issue[],
): Response {
  const body: ErrorBody = { error: { code, message, ...(issues ? { issues } : {}) } };
  return c.json(body, status);
}

type ZodLikeIssue = {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
  issues?: readonly { message: string }[];
};

/** Flattens zod issues into `{path, message}` pairs; unknown fields get one issue each. */
export function toIssues(issues: readonly ZodLikeIssue[]): Issue[] {
  return issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys' && issue.keys) {
      return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: `unknown field ${JSON.stringify(key)}` }));
    }
    const inner = issue.code === 'invalid_key' ? issue.issues?.[0]?.message : undefined;
    return [{ path: base.join('.'), message: inner ?? issue.message }];
  });
}

/** One sentence summarising issues for the error message. */
export function summarise(issues: Issue[]): string {
  const first = issues[0];
  if (!first) return 'invalid request';
  const head = first.path ? `${first.path}: ${first.message}` : first.message;
  return issues.length > 1 ? `invalid request: ${head} (and ${issues.length - 1} more)` : `invalid request: ${head}`;
}
