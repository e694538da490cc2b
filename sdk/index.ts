/** The runtools TypeScript SDK: `new Runtools({ apiKey, baseUrl }).execute({ runtime, code })`. */
export { executionBound, Runtools, type ExecutionBound, type RequestOptions, type RuntoolsOptions } from './client.js';
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
  CompileResult,
  Compare,
  ErrorBody,
  ExecuteRequest,
  ExecuteResult,
  Execution,
  ExecutionStatus,
  RuntimeId,
  RuntimeInfo,
  SuiteSummary,
  TestResult,
  Verdict,
} from '../functions/contract.js';
// Types only: testsFromDirectory itself reads files (Node only) and is imported from './node.js'.
export type { TestCase, TestsFromDirectoryOptions } from './node.js';
