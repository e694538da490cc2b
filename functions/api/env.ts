import type { LogFields } from './log.js';

/** Per-request values the middleware and routes share. */
export interface AppVariables {
  requestId: string;
  tenant: string;
  /** Extra fields for this request's log line (runtime, exitCode…). */
  logFields: LogFields;
}

/** The Hono environment of the runtools app; Bindings stay open for the host (Node, Lambda). */
export interface AppEnv {
  /** Host-specific: empty on Node, `{ event, lambdaContext }` under hono/aws-lambda. */
  Bindings: any;
  Variables: AppVariables;
}
