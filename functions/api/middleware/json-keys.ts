import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';
import { errorResponse, summarise, type Issue } from '../errors.js';

/** Keys JSON can carry but a JavaScript object cannot hold as data: parsers drop or misread them. */
const UNREPRESENTABLE = '__proto__';

/**
 * Refuses a JSON body with a key the schema cannot represent (`__proto__`, anywhere: a file or an
 * environment variable of that name), naming it, instead of letting validation drop it silently.
 * A body that is not JSON goes on to validation, which says so.
 */
export function rejectUnrepresentableKeys(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!/^application\/(.+\+)?json/i.test(c.req.header('content-type') ?? '')) return next();
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return next();
    }
    const issues = find(body);
    if (issues.length > 0) return errorResponse(c, 400, 'invalid_request', summarise(issues), issues);
    return next();
  };
}

/** The request's shapes are shallow: deeper values are the schema's to refuse, not walked here. */
const MAX_DEPTH = 8;

/** Objects looked into at most: a valid request has a few hundred; the schema refuses the rest. */
const MAX_OBJECTS = 10_000;

/** Every `__proto__` key down to MAX_DEPTH, without recursion (a body may nest 100,000 deep). */
function find(body: unknown): Issue[] {
  const issues: Issue[] = [];
  const stack: Array<{ value: object; at: string[] }> = isObject(body) ? [{ value: body, at: [] }] : [];
  for (let seen = 0; stack.length > 0 && issues.length < 20 && seen < MAX_OBJECTS; seen++) {
    const { value, at } = stack.pop()!;
    if (Array.isArray(value)) {
      // A parsed array has only its indices: look into the objects in it, no key list needed.
      for (let i = 0; i < value.length && at.length < MAX_DEPTH && stack.length < MAX_OBJECTS; i++) {
        const child: unknown = value[i];
        if (isObject(child)) stack.push({ value: child, at: [...at, String(i)] });
      }
      continue;
    }
    for (const key of Object.keys(value)) {
      const child = (value as Record<string, unknown>)[key];
      if (key === UNREPRESENTABLE) issues.push({ path: [...at, key].join('.'), message: `${JSON.stringify(key)} cannot be used as a name` });
      else if (isObject(child) && at.length < MAX_DEPTH) stack.push({ value: child, at: [...at, key] });
    }
  }
  return issues;
}

const isObject = (v: unknown): v is object => v !== null && typeof v === 'object';
