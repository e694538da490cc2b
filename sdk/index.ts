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
  ErrorBody,
  ExecuteRequest,
  ExecuteResult,
  Execution,
  ExecutionStatus,
  RuntimeId,
  RuntimeInfo,
} from '../functions/contract.js';
