export { dataDir, ROOT, spawnServerProcess, startServerProcess, until, type ServerProcess } from '../api/helpers.js';

/** A JSON request to the server, parsed. */
export async function call<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; body?: unknown; key?: string } = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...(init.key ? { 'x-api-key': init.key } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

