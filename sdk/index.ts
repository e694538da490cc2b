/** The runtools TypeScript SDK: `new Runtools({ apiKey, baseUrl }).execute({ runtime, code })`. */
export { executionBound, Runtools, type ExecuteOptions, type ExecutionBound, type RequestOptions, type RuntoolsOptions, type StreamEvent } from './client.js';
export { readEvents, type ServerSentEvent } from './sse.js';
export {
  AbortError,
  APIError,
  AuthenticationError,
  ConnectionError,
  InternalServerError,
  InvalidRequestError,
  NotFoundError,
  RateLimitError,
  RuntoolsError,
  ServiceUnavailableError,
  TimeoutError,
  type Issue,
} from './errors.js';
export type {
  CheckerCompare,
  CompileResult,
  Compare,
  ErrorBody,
  ErrorCode,
  ExecuteRequest,
  ExecuteResult,
  Execution,
  ExecutionStatus,
  OutputFile,
  PhaseResult,
  PhaseStatus,
  RunStatus,
  RuntimeId,
  RuntimeInfo,
  RuntimeName,
  RuntimesResponse,
  SuiteSummary,
  TestCase,
  TestResult,
  Verdict,
} from './types.js';
// Types only: testsFromDirectory and writeOutputFiles use the file system (Node only) and are imported from './node.js'.
export type { TestsFromDirectoryOptions } from './node.js';
