/**
 * The MCP server (Model Context Protocol): the tools `execute_code` and `list_runtimes` over any
 * transport. `runtools mcp` serves it on stdio (cli/commands/mcp.ts), the API on `POST /mcp`
 * (routes/mcp.ts); both hand it how to execute and how to list runtimes.
 *
 * A program that fails (non-zero exit, timeout, compile error) is a normal tool result whose
 * status says what happened; a request that cannot run (unknown runtime, bad field) or a failure
 * on our side is a tool result with `isError: true` and a message, never a protocol error.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import {
  DEFAULT_LIMITS,
  executeRequestSchema,
  type ExecuteResult,
  type OutputFile,
  type Limits,
  type RuntimeInfo,
  type ValidExecuteRequest,
} from '../contract.js';
import { RUNTIMES } from '../runtimes.js';
import { summarise, toIssues } from './errors.js';

/** What the MCP server needs from its host. */
export interface McpDeps {
  /** Runs a validated request to its result (a program that fails is a result, not an error). */
  execute(request: ValidExecuteRequest, signal?: AbortSignal): Promise<ExecuteResult>;
  runtimes(): Promise<RuntimeInfo[]>;
  /** The limits requests are validated against. @default DEFAULT_LIMITS */
  limits?: Limits;
  /**
   * The message a tool error shows for an error `execute` or `runtimes` threw (details of our own
   * faults belong in logs, not here). @default the error's message
   */
  errorMessage?(error: unknown): string;
  /** @default package.json's version */
  version?: string;
}

export const MCP_SERVER_NAME = 'runtools';
export const MCP_VERSION: string = (pkg as { version: string }).version;

/** Image files returned in `result.files` that become MCP image blocks, by extension. */
const IMAGE_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
};

/** A text file's content is shown in the summary up to this many characters. */
const MAX_TEXT_FILE_CHARS = 64 * 1024;

const runtimeList = () =>
  RUNTIMES.map((r) => `${r.id}${r.aliases.length ? ` (aliases: ${r.aliases.join(', ')})` : ''}`).join('; ');
const entryList = () => RUNTIMES.map((r) => `${r.id} ${r.entrypoint}`).join(', ');

function executeInput(limits: Limits) {
  // A host that leaves the maximum to another server (the CLI in front of an API) has none of its own.
  const bounded = limits.maxTimeoutMs < Number.MAX_SAFE_INTEGER;
  return {
    runtime: z
      .string()
      .describe(`The language runtime. One of: ${runtimeList()}. list_runtimes shows which are installed and their versions.`),
    code: z
      .string()
      .optional()
      .describe(
        `Source code of the program's entry file. It is written to the runtime's default entry file (${entryList()}) unless entrypoint names another. Give code, files, or both.`,
      ),
    files: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        'Extra source or data files: relative path (subfolders allowed, e.g. "pkg/util.py") → UTF-8 content. They sit beside the entry file in the working directory.',
      ),
    entrypoint: z
      .string()
      .optional()
      .describe('The file to run: a key of files, or the name code is written to. Default: the runtime\'s default entry file, else the only file.'),
    stdin: z.string().optional().describe("Text given to the program's standard input. Default: empty."),
    args: z.array(z.string()).optional().describe('Command-line arguments for the program.'),
    timeout: (bounded ? z.number().int().min(1).max(limits.maxTimeoutMs) : z.number().int().min(1))
      .optional()
      .describe(
        `Run-phase time limit in milliseconds (compilation not included). Default ${limits.defaultTimeoutMs}, at most ${bounded ? limits.maxTimeoutMs : "the server's maximum"}.`,
      ),
    outputs: z
      .array(z.string())
      .optional()
      .describe(
        'Files the program writes that should be returned: glob patterns relative to the working directory, e.g. ["*.png"] or ["out/**"]. Images (png, jpg, gif, webp, svg) come back as images, text files as text.',
      ),
  };
}

type ExecuteInput = { [K in keyof ReturnType<typeof executeInput>]?: unknown };

/** Builds the MCP server with the tools `execute_code` and `list_runtimes`. */
export function createMcpServer(deps: McpDeps): McpServer {
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const schema = executeRequestSchema(limits);
  const errorMessage = deps.errorMessage ?? ((error: unknown) => (error instanceof Error ? error.message : String(error)));
  const server = new McpServer({ name: MCP_SERVER_NAME, version: deps.version ?? MCP_VERSION });

  server.registerTool(
    'execute_code',
    {
      title: 'Execute code',
      description:
        `Runs a program in an isolated, short-lived sandbox and returns its stdout, stderr, exit code, status and timings. ` +
        `Runtimes: ${RUNTIMES.map((r) => r.id).join(', ')}. Compiled languages are compiled first; compiler errors come back with status compile_error. ` +
        `A program that fails is a normal result: check status (ok, runtime_error, timeout, memory_limit, output_limit, compile_error) and exit code. ` +
        `Each call starts from an empty working directory; nothing persists between calls.`,
      inputSchema: executeInput(limits),
      annotations: { title: 'Execute code', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (input, extra) => {
      const parsed = schema.safeParse(requestOf(input));
      if (!parsed.success) return toolError(summarise(toIssues(parsed.error.issues)));
      let result: ExecuteResult;
      try {
        result = await deps.execute(parsed.data, extra.signal);
      } catch (error) {
        return toolError(errorMessage(error));
      }
      return executeResultContent(result);
    },
  );

  server.registerTool(
    'list_runtimes',
    {
      title: 'List runtimes',
      description: 'Lists the runtimes execute_code accepts: id, aliases, toolchain version, whether it is installed here, and the default entry file.',
      annotations: { title: 'List runtimes', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      let runtimes: RuntimeInfo[];
      try {
        runtimes = await deps.runtimes();
      } catch (error) {
        return toolError(errorMessage(error));
      }
      return {
        content: [{ type: 'text', text: runtimes.map(runtimeLine).join('\n') }],
        structuredContent: { runtimes },
      };
    },
  );
  return server;
}

/** The API request a tool call stands for: only the fields it gave. */
function requestOf(input: ExecuteInput): Record<string, unknown> {
  const request: Record<string, unknown> = {};
  for (const key of ['runtime', 'code', 'files', 'entrypoint', 'stdin', 'args', 'timeout', 'outputs'] as const) {
    if (input[key] !== undefined) request[key] = input[key];
  }
  return request;
}

function toolError(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

function runtimeLine(r: RuntimeInfo): string {
  const aliases = r.aliases.length ? r.aliases.join(', ') : '-';
  return `${r.runtime}  aliases: ${aliases}  version: ${r.version ?? 'unknown'}  available: ${r.available ? 'yes' : 'no'}  entry: ${r.entrypoint}`;
}

/** The MIME type of an image file the tool returns as an image block, or null. */
export function imageMimeType(path: string): string | null {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path)?.[1]?.toLowerCase();
  return (ext && IMAGE_TYPES[ext]) || null;
}

/** An image block for a returned file, or null (not an image, or no content). */
function imageOf(file: OutputFile): { type: 'image'; data: string; mimeType: string } | null {
  const mimeType = imageMimeType(file.path);
  if (!mimeType || typeof file.content !== 'string') return null;
  if (file.encoding === 'base64') return { type: 'image', data: file.content, mimeType };
  // Only SVG is text; a text file named .png is not an image.
  if (mimeType === 'image/svg+xml') return { type: 'image', data: Buffer.from(file.content, 'utf8').toString('base64'), mimeType };
  return null;
}

/** Why a run ended, in words, after its status. */
function statusDetail(result: ExecuteResult): string {
  switch (result.status) {
    case 'ok':
      return 'the program exited normally';
    case 'runtime_error':
      return result.signal ? `the program was killed by ${result.signal}` : `the program exited with code ${result.exitCode}`;
    case 'timeout':
      return 'the program hit its time limit and was killed';
    case 'memory_limit':
      return 'the program ran out of memory and was killed';
    case 'output_limit':
      return 'the program wrote more output than allowed and was stopped';
    case 'compile_error':
      return result.compile?.status === 'timeout' ? 'compilation timed out; the program did not run' : 'compilation failed; the program did not run';
    default:
      return '';
  }
}

function section(title: string, text: string): string {
  return text === '' ? `--- ${title}: (empty) ---` : `--- ${title} ---\n${text.endsWith('\n') ? text.slice(0, -1) : text}`;
}

/**
 * The tool result of an execution: a readable summary (status, exit code, time, stdout, stderr,
 * compile errors, returned files), the whole result as `structuredContent`, and an image block
 * for every returned image file.
 */
export function executeResultContent(result: ExecuteResult): CallToolResult {
  const detail = statusDetail(result);
  const head = [
    `status: ${result.status}${detail ? ` (${detail})` : ''}`,
    `exit code: ${result.exitCode}`,
    `time: ${result.executionTime} ms wall, ${result.cpuTime} ms CPU; peak memory ${(result.memoryPeak / (1024 * 1024)).toFixed(1)} MiB`,
    `runtime: ${result.runtime} ${result.version}`,
  ];
  if (result.signal) head.push(`signal: ${result.signal}`);
  if (result.compile) {
    const c = result.compile;
    head.push(`compile: ${c.status}, exit code ${c.exitCode}, ${c.executionTime} ms${c.cached ? ' (cached build)' : ''}`);
  }
  if (result.truncated) head.push('note: output was truncated at the server\'s limit');

  const sections: string[] = [];
  if (result.status === 'compile_error') {
    // The top-level stdout/stderr are the compiler's when compilation fails (API.md).
    sections.push(section('compile errors', [result.compile?.stderr ?? result.stderr, result.compile?.stdout ?? result.stdout].filter(Boolean).join('\n')));
  } else {
    sections.push(section('stdout', result.stdout), section('stderr', result.stderr));
  }

  const files = result.files ?? [];
  const images: CallToolResult['content'] = [];
  if (files.length > 0 || result.filesTruncated) {
    const lines: string[] = [];
    for (const file of files) {
      const image = imageOf(file);
      if (image) images.push(image);
      const what = image ? 'returned as an image' : file.truncated || file.content === undefined ? 'too large to return' : file.encoding === 'base64' ? 'binary' : 'text below';
      lines.push(`${file.path} (${file.size} bytes, ${what})`);
    }
    if (result.filesTruncated) lines.push('(more files matched than could be returned)');
    sections.push(`--- files ---\n${lines.join('\n')}`);
    for (const file of files) {
      if (file.encoding !== 'utf8' || typeof file.content !== 'string' || imageMimeType(file.path)) continue;
      const text = file.content.length > MAX_TEXT_FILE_CHARS ? `${file.content.slice(0, MAX_TEXT_FILE_CHARS)}\n[… cut at ${MAX_TEXT_FILE_CHARS} characters]` : file.content;
      sections.push(section(`file ${file.path}`, text));
    }
  }

  return {
    content: [{ type: 'text', text: [head.join('\n'), ...sections].join('\n\n') }, ...images],
    structuredContent: { ...result },
    isError: false,
  };
}
