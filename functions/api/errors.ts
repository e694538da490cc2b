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
  /** invalid_union: each alternative's issues. */
  errors?: readonly (readonly ZodLikeIssue[])[];
};

const depth = (issues: readonly ZodLikeIssue[]) => Math.max(0, ...issues.map((i) => i.path.length));

/** Flattens zod issues into `{path, message}` pairs; unknown fields get one issue each. */
export function toIssues(issues: readonly ZodLikeIssue[]): Issue[] {
  return issues.flatMap((issue): Issue[] => {
    if (issue.code === 'invalid_union' && issue.errors?.length) {
      // The alternative the value got furthest into (e.g. a checker object with a bad runtime)
      // says more than "invalid input" for the whole field.
      const best = [...issue.errors].filter((e) => e.length > 0).sort((a, b) => depth(b) - depth(a))[0];
      if (best && depth(best) > 0) return toIssues(best.map((i) => ({ ...i, path: [...issue.path, ...i.path] })));
    }
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
