import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { UsagePlanSettings } from '../config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Integration timeout of the routes that stream while a program runs, s: Lambda's 15 minutes, less a moment for the function. */
export const STREAMED_TIMEOUT_SECONDS = 894;

export interface RuntoolsApiProps {
  /** The API function's configuration, as environment variables (RUNTOOLS_DEPLOYMENT…). */
  environment: Record<string, string>;
  /** Usage plans by name (price tiers). */
  usagePlans: Record<string, UsagePlanSettings>;
  /** @default 1024 */
  memoryMiB?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  logRetention?: logs.RetentionDays;
  /** API Gateway integration timeout, s (above 29 needs a quota increase). @default 29 */
  integrationTimeoutSeconds?: number;
  /** Stage-wide throttling, requests per second. @default 200 (burst 400) */
  stageRateLimit?: number;
  /**
   * Create the account-level CloudWatch Logs role of API Gateway (AWS::ApiGateway::Account) that
   * stage access logs need; `false` where the account manages that setting centrally. @default true
   */
  accountCloudWatchRole?: boolean;
  /** Reserved concurrency of the API function. @default none (the account's unreserved pool) */
  reservedConcurrency?: number;
}

/**
 * One JSON line per request. `apiKeyId` (API Gateway's id of the caller's key, the tenant) makes
 * per-key usage readable with CloudWatch Logs Insights; API Gateway writes `-` where a value is absent.
 */
const ACCESS_LOG_FIELDS = {
  requestId: apigw.AccessLogField.contextRequestId(),
  apiKeyId: apigw.AccessLogField.contextIdentityApiKeyId(),
  ip: apigw.AccessLogField.contextIdentitySourceIp(),
  requestTime: apigw.AccessLogField.contextRequestTime(),
  httpMethod: apigw.AccessLogField.contextHttpMethod(),
  resourcePath: apigw.AccessLogField.contextResourcePath(),
  status: apigw.AccessLogField.contextStatus(),
  protocol: apigw.AccessLogField.contextProtocol(),
  responseLength: apigw.AccessLogField.contextResponseLength(),
  responseLatency: apigw.AccessLogField.contextResponseLatency(),
  integrationLatency: apigw.AccessLogField.contextIntegrationLatency(),
  error: apigw.AccessLogField.contextErrorMessage(),
};

const errorBody = (code: string, message: string) => ({
  'application/json': JSON.stringify({ error: { code, message } }),
});

/**
 * The public API: API Gateway (REST) in front of the Hono app on Lambda (Node 22, bundled with
 * esbuild). Every route but `GET /health` requires an API key; usage plans carry the monthly
 * quotas and throttling of each price tier; API Gateway's own errors use the API's error body.
 */
export class RuntoolsApi extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly api: apigw.RestApi;
  readonly usagePlans: Record<string, apigw.UsagePlan> = {};
  /** The stage's access logs (one JSON line per request, with the API key id). */
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RuntoolsApiProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'runtools API: invokes runners, runs tasks, uses the results bucket',
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({ sid: 'WriteOwnLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    this.function = new NodejsFunction(this, 'Function', {
      description: 'runtools API (Hono)',
      entry: path.join(ROOT, 'functions/api/lambda.ts'),
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memoryMiB ?? 1024,
      reservedConcurrentExecutions: props.reservedConcurrency,
      // A streamed request (live output, MCP) holds the function as long as its execution runs, up to
      // the streamed integrations' timeout; a moment more lets the function log and clean up.
      timeout: Duration.seconds(STREAMED_TIMEOUT_SECONDS + 6),
      role: this.role,
      logGroup,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // The pinned SDK (Lambda tenant ids) rather than the one the runtime happens to ship.
        bundleAwsSDK: true,
        banner: "import { createRequire as __runtoolsRequire } from 'node:module'; const require = __runtoolsRequire(import.meta.url);",
      },
    });

    const accessLogs = (this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    }));
    const rate = props.stageRateLimit ?? 200;
    const accountRole = props.accountCloudWatchRole ?? true;
    // Response transfer mode STREAM: API Gateway invokes the function with InvokeWithResponseStream
    // (the integration URI becomes .../2021-11-15/functions/<arn>/response-streaming-invocations,
    // LambdaIntegration in aws-cdk-lib), and the function streams (functions/api/lambda.ts). A
    // buffered response is limited to 6 MB by Lambda and 10 MB by API Gateway, which a result of
    // 1 MiB per stream can exceed once escaped; a streamed one to 200 MB
    // (docs.aws.amazon.com/apigateway/latest/developerguide/response-transfer-mode.html). The
    // permission API Gateway gets stays lambda:InvokeFunction, which InvokeWithResponseStream
    // requires (docs.aws.amazon.com/lambda/latest/api/API_InvokeWithResponseStream.html).
    const integrationOptions: apigw.LambdaIntegrationOptions = {
      proxy: true,
      timeout: Duration.seconds(props.integrationTimeoutSeconds ?? 29),
      responseTransferMode: apigw.ResponseTransferMode.STREAM,
    };
    const integration = new apigw.LambdaIntegration(this.function, integrationOptions);
    // Routes that may hold a request while a program runs (POST /v1/execute with live output, MCP
    // tool calls): in STREAM mode the integration timeout may be up to 15 minutes
    // (docs.aws.amazon.com/apigateway/latest/developerguide/response-streaming-http.html, "you can
    // configure the integration timeout up to 15 minutes"), and a stream stays open while it is
    // written to (idle timeout 5 minutes on a regional endpoint; the API pings every 15 s).
    const streamedOptions: apigw.LambdaIntegrationOptions = { ...integrationOptions, timeout: Duration.seconds(STREAMED_TIMEOUT_SECONDS) };
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: 'runtools',
      description: 'runtools: run code in isolated sandboxes',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      apiKeySourceType: apigw.ApiKeySourceType.HEADER,
      // Access logs need a CloudWatch Logs role in the account's API Gateway settings, else creating
      // the stage fails ("CloudWatch Logs role ARN must be set in account settings to enable
      // logging"; docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).
      // cloudWatchRole creates the role and the AWS::ApiGateway::Account that sets it, and the
      // stage depends on that resource (RestApiBase._attachStage in aws-cdk-lib). Both are
      // retained when the stack is deleted: the setting is one per account and region, so
      // deleting the role would break the logs of every other API there (aws/aws-cdk#12769,
      // and #22020, #26836 for the retention policy).
      cloudWatchRole: accountRole,
      ...(accountRole ? { cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : {}),
      deployOptions: {
        stageName: 'api',
        throttlingRateLimit: rate,
        throttlingBurstLimit: rate * 2,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        // Execution logs of errors only, never request or response bodies (code, stdin and output
        // stay out of logs); they go to the group created below, with the stack's retention.
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
      },
      defaultIntegration: integration,
      defaultMethodOptions: { apiKeyRequired: true },
    });
    // API Gateway writes execution logs to `API-Gateway-Execution-Logs_<rest api id>/<stage>`
    // (docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html) and creates that
    // group itself, without retention, unless it exists: created here, it is the stack's.
    new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${this.api.restApiId}/api`,
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api.root.addMethod('ANY');
    this.api.root.addProxy({ anyMethod: true });
    this.api.root.addResource('health').addMethod('GET', integration, { apiKeyRequired: false });
    // POST /v1/execute has an integration of its own, so its transfer mode and timeout can change
    // without touching the other routes; /v1/{proxy+} keeps every other /v1 route where it was.
    const v1 = this.api.root.addResource('v1');
    v1.addProxy({ anyMethod: true });
    v1.addResource('execute').addMethod('POST', new apigw.LambdaIntegration(this.function, streamedOptions));
    this.api.root.addResource('mcp').addMethod('ANY', new apigw.LambdaIntegration(this.function, streamedOptions));

    const responses: Array<[string, apigw.ResponseType, string, string, string, Record<string, string>?]> = [
      ['InvalidKey', apigw.ResponseType.INVALID_API_KEY, '401', 'unauthorized', 'missing or invalid API key: send it in the x-api-key header'],
      ['Quota', apigw.ResponseType.QUOTA_EXCEEDED, '429', 'rate_limited', 'the monthly quota of this API key is used up', { 'Retry-After': "'3600'" }],
      ['Throttled', apigw.ResponseType.THROTTLED, '429', 'rate_limited', 'too many requests; retry later', { 'Retry-After': "'1'" }],
      ['TooLarge', apigw.ResponseType.REQUEST_TOO_LARGE, '413', 'payload_too_large', 'the request body is too large'],
      ['NoRoute', apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, '404', 'not_found', 'no such route'],
      ['Timeout', apigw.ResponseType.INTEGRATION_TIMEOUT, '504', 'internal', 'the execution backend did not answer in time; retry later'],
      ['Default5xx', apigw.ResponseType.DEFAULT_5XX, '500', 'internal', 'internal server error'],
    ];
    for (const [name, type, statusCode, code, message, headers] of responses) {
      this.api.addGatewayResponse(name, {
        type,
        statusCode,
        templates: errorBody(code, message),
        responseHeaders: { 'Content-Type': "'application/json'", ...headers },
      });
    }

    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'runtools pins the API function to Node.js 22, the version its code and dependencies are tested with; moving runtimes is a deliberate release step.',
    });
    const acknowledgements: Array<[string, string]> = [
      ['AwsSolutions-APIG2', 'Every request is validated by the function with the same zod schemas that generate the OpenAPI document, so errors carry precise field paths (API Gateway request validation would answer with its own, less precise format).'],
      ['AwsSolutions-APIG3', 'API keys, usage-plan quotas and throttling limit abuse; attach a WAF web ACL to the stage when a deployment needs IP-based rules.'],
      ['AwsSolutions-APIG4', 'Callers authenticate with API keys (one per customer, attached to a usage plan); the key id is the tenant. GET /health is deliberately public.'],
      ['AwsSolutions-COG4', 'runtools authenticates customers with API Gateway API keys, not Cognito user pools (see AwsSolutions-APIG4).'],
    ];
    for (const [id, reason] of acknowledgements) Validations.of(this.api).acknowledge({ id, reason });
    if (accountRole) {
      Validations.of(this.api.node.findChild('CloudWatchRole')).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "API Gateway's account-level logging role: AWS documents this managed policy for it (set-up-logging.html) and maintains it; the role is assumable only by apigateway.amazonaws.com and serves every API of the account and region, so no stack-specific scoping applies.",
      });
    }

    for (const [name, plan] of Object.entries(props.usagePlans)) {
      this.usagePlans[name] = this.api.addUsagePlan(`Plan-${name}`, {
        name: `runtools-${name}`,
        description: `runtools ${name}: ${plan.quotaPerMonth} requests per month`,
        quota: { limit: plan.quotaPerMonth, period: apigw.Period.MONTH },
        throttle: { rateLimit: plan.rateLimit, burstLimit: plan.burstLimit },
        apiStages: [{ api: this.api, stage: this.api.deploymentStage }],
      });
    }
  }
}
