/** Base class of every error the SDK throws. */
export class RuntoolsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One bad field of a rejected request. */
export interface Issue {
  path: string;
  message: string;
}

/** The API answered with an error status. */
export class APIError extends RuntoolsError {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  readonly issues: Issue[] | undefined;
  readonly headers: Headers;

  constructor(status: number, code: string, message: string, requestId: string | null, headers: Headers, issues?: Issue[]) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.headers = headers;
    this.issues = issues;
  }

  /** The subclass that matches an error response. */
  static from(status: number, body: unknown, headers: Headers): APIError {
    const error = (body as { error?: { code?: unknown; message?: unknown; issues?: unknown } } | null)?.error;
    const code = typeof error?.code === 'string' ? error.code : status >= 500 ? 'internal' : 'http_error';
    const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
    const issues = Array.isArray(error?.issues) ? (error.issues as Issue[]) : undefined;
    const requestId = headers.get('x-request-id');
    const Class = classFor(status);
    return new Class(status, code, message, requestId, headers, issues);
  }
}

/** 401: missing or wrong API key. */
export class AuthenticationError extends APIError {}
/** 400, 413 or 422: the request was rejected; `issues` lists bad fields (422: `idempotency_mismatch`). */
export class InvalidRequestError extends APIError {}
/** 404: unknown route or execution id. */
export class NotFoundError extends APIError {}
/** 429: over quota or the server's queue is full. */
export class RateLimitError extends APIError {
  /** Seconds the server asked to wait, when it said. */
  get retryAfter(): number | null {
    return parseRetryAfter(this.headers.get('retry-after'));
  }
}
/** 5xx: the service failed (not the program). */
export class InternalServerError extends APIError {}
/**
 * 503: the service cannot run it now (`code` says why: `capacity`, no room on the server or it is
 * shutting down; `runtime_unavailable`, the toolchain is not deployed). Nothing ran.
 */
export class ServiceUnavailableError extends InternalServerError {
  /** Seconds the server asked to wait, when it said. */
  get retryAfter(): number | null {
    return parseRetryAfter(this.headers.get('retry-after'));
  }
}

/** The server could not be reached or the connection broke. */
export class ConnectionError extends RuntoolsError {}
/** The call took longer than its `timeout`. */
export class TimeoutError extends RuntoolsError {}
/** The caller's `signal` aborted the call. */
export class AbortError extends RuntoolsError {}

function classFor(status: number): typeof APIError {
  if (status === 400 || status === 413 || status === 422) return InvalidRequestError;
  if (status === 401) return AuthenticationError;
  if (status === 404) return NotFoundError;
  if (status === 429) return RateLimitError;
  if (status === 503) return ServiceUnavailableError;
  if (status >= 500) return InternalServerError;
  return APIError;
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date), or null. */
export function parseRetryAfter(value: string | null): number | null {
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}
