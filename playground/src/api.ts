/** The playground's side of the HTTP API: GET /v1/runtimes and POST /v1/execute with live output. */
import type { CompileResult, ExecuteResult, RuntimeInfo } from '../../functions/contract.js';
import { readEvents as serverSentEvents } from '../../sdk/sse.js';

export type { CompileResult, ExecuteResult, RuntimeInfo };

/** An answer of the API other than a result (API.md "Errors"). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiOptions {
  /** Where the API is: the page's own origin unless `<meta name="runtools-api">` names another. */
  base: URL;
  apiKey: string | null;
}

/** The API's base URL for this page. */
export function apiBase(doc: Document = document): URL {
  const configured = doc.querySelector<HTMLMetaElement>('meta[name="runtools-api"]')?.content.trim();
  return new URL(configured || '/', doc.baseURI);
}

function headers(options: ApiOptions, extra: Record<string, string> = {}): Record<string, string> {
  return options.apiKey ? { ...extra, 'x-api-key': options.apiKey } : extra;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = 'http_' + res.status;
  let message = `${res.status} ${res.statusText}`.trim();
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; issues?: { path?: unknown[]; message?: string }[] } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
    const issues = body.error?.issues ?? [];
    if (issues.length > 0) message += ': ' + issues.map((i) => `${(i.path ?? []).join('.') || '(body)'}: ${i.message ?? ''}`).join('; ');
  } catch {
    /* not JSON: the status says it */
  }
  return new ApiError(res.status, code, message);
}

export async function listRuntimes(options: ApiOptions): Promise<RuntimeInfo[]> {
  const res = await fetch(new URL('v1/runtimes', options.base), { headers: headers(options) });
  if (!res.ok) throw await errorOf(res);
  return ((await res.json()) as { runtimes: RuntimeInfo[] }).runtimes;
}

export interface LiveHandlers {
  onCompile?(compile: CompileResult): void;
  onStdout?(chunk: string): void;
  onStderr?(chunk: string): void;
}

/**
 * POST /v1/execute with `Accept: text/event-stream`: output arrives through the handlers as the
 * program writes it; resolves with the result event's result.
 */
export async function executeLive(options: ApiOptions, body: unknown, handlers: LiveHandlers, signal?: AbortSignal): Promise<ExecuteResult> {
  const res = await fetch(new URL('v1/execute', options.base), {
    method: 'POST',
    headers: headers(options, { 'content-type': 'application/json', accept: 'text/event-stream' }),
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) throw await errorOf(res);
  if (!res.headers.get('content-type')?.startsWith('text/event-stream') || !res.body) {
    // A server without live output answers the plain result.
    return (await res.json()) as ExecuteResult;
  }
  for await (const { event, data } of serverSentEvents(res.body)) {
    switch (event) {
      case 'compile':
        handlers.onCompile?.(JSON.parse(data) as CompileResult);
        break;
      case 'stdout':
        handlers.onStdout?.((JSON.parse(data) as { data: string }).data);
        break;
      case 'stderr':
        handlers.onStderr?.((JSON.parse(data) as { data: string }).data);
        break;
      case 'result':
        return JSON.parse(data) as ExecuteResult;
      case 'error': {
        const { error } = JSON.parse(data) as { error: { code: string; message: string } };
        throw new ApiError(res.status, error.code, error.message);
      }
    }
  }
  throw new ApiError(res.status, 'disconnected', 'The connection closed before the result arrived.');
}

/** The events of a text/event-stream body: the SDK's reader (bundled in with the page). */
export { serverSentEvents };
