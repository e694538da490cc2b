import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntoolsStack } from '../../infra/stack.js';
import { synthStack } from './synth.js';

/*
 * Two checks of the synthesized template that do not share code or rules with cdk-nag
 * (test/infra/stack.test.ts):
 * - AWS Control Tower's proactive controls: the CloudFormation Guard rules that Control Tower
 *   enforces as CloudFormation hooks, run by the CDK policy-validation plugin
 *   @cdklabs/cdk-validator-cfnguard with the cfn-guard binary it ships. An account with these
 *   controls turned on refuses a template that fails them, so every finding is fixed, or
 *   acknowledged below with the reason it does not apply to runtools.
 * - The AWS resource specification (@aws-cdk/aws-service-spec, the CloudFormation registry
 *   schemas the CDK itself is generated from): every resource type exists, every property
 *   name (nested ones included) is one its type has, and every required property is present.
 */

const GUARD = 'cdk-validator-cfnguard';

/** A guard finding that does not apply, acknowledged on exactly the constructs it is about. */
interface NotApplicable {
  rule: string;
  control: string;
  scope: (stack: RuntoolsStack) => IConstruct[];
  reason: string;
}

const all = <T>(stack: Stack, type: abstract new (...args: never[]) => T): T[] => stack.node.findAll().filter((c): c is IConstruct & T => c instanceof type);

/**
 * Findings on constructs other files own (infra/stack.ts, infra/constructs/api.ts,
 * infra/constructs/runner-*.ts). The results bucket acknowledges its own (results-bucket.ts).
 */
const NOT_APPLICABLE: NotApplicable[] = [
  {
    rule: 'cloudwatch_log_group_retention_period_check',
    control: 'CT.CLOUDWATCH.PR.2',
    scope: (s) => all(s, logs.CfnLogGroup),
    reason:
      'Retention is a setting of the deployment (runtools:logRetentionDays, 30 days by default): these logs are operational (requests, runner diagnostics, rejected flows), not an audit record, and can hold fragments of user programs; a team under a one-year rule sets it to 365.',
  },
  {
    rule: 'cloudwatch_log_group_encrypted_check',
    control: 'CT.CLOUDWATCH.PR.3',
    scope: (s) => all(s, logs.CfnLogGroup),
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html: "Log group data is always encrypted in CloudWatch Logs".
    reason:
      'CloudWatch Logs always encrypts log data at rest (server-side, AWS-owned keys); a customer managed KMS key would add a key policy and a monthly key charge, not a reader: who reads the logs is decided by IAM.',
  },
  {
    rule: 'lambda_inside_vpc_check',
    control: 'CT.LAMBDA.PR.3',
    scope: (s) => [s.api.function],
    reason:
      'The API function runs no user code; it only calls AWS APIs (Lambda Invoke, ECS RunTask/DescribeTasks, S3). In a VPC it would need interface endpoints or a NAT gateway to reach them and would isolate nothing; the runners, which run user code, are the ones in isolated subnets.',
  },
  {
    rule: 'lambda_inside_vpc_check',
    control: 'CT.LAMBDA.PR.3',
    scope: (s) => Object.values(s.runners).filter((r) => (r.function.node.defaultChild as lambda.CfnFunction).vpcConfig === undefined).map((r) => r.function),
    reason:
      'Network mode internet only (runtools:network=internet): runner functions are deliberately outside any VPC so that Lambda gives user programs outbound internet without a NAT gateway. In the default mode (none) they are in isolated subnets.',
  },
  {
    rule: 'lambda_function_public_access_prohibited_check',
    control: 'CT.LAMBDA.PR.2',
    // The plugin's README (its first caveat): a rule "may fail for Fn::Join objects".
    scope: (s) => apiGatewayPermissions(s),
    reason:
      'A false positive: these are the permissions API Gateway needs to call the API function, each with Principal apigateway.amazonaws.com and a SourceArn scoped to this REST API (its Ref), method and path. The rule only accepts a literal string or a bare Ref/GetAtt, not the Fn::Join the ARN is built with; the test "scopes every Lambda permission to this REST API" checks what the rule could not.',
  },
  {
    rule: 'ecs_container_insights_enabled_check',
    control: 'CT.ECS.PR.2',
    scope: (s) => all(s, ecs.CfnCluster),
    reason:
      'The cluster only runs one-shot tasks (one execution each, then exit); Container Insights would bill per-task metrics that say less than the task logs and the API function\'s own logs (the same decision as the acknowledged AwsSolutions-ECS4 in infra/stack.ts).',
  },
  {
    rule: 'ecs_task_definition_memory_hard_limit_check',
    control: 'CT.ECS.PR.7',
    scope: (s) => all(s, ecs.CfnTaskDefinition),
    reason:
      'Fargate tasks with a single container: the task-level Memory (set on every task definition) is the hard limit the container cannot exceed; a container-level Memory equal to it would change nothing.',
  },
];

/**
 * Real findings in files other engineers are changing right now, each with the fix for its owner.
 * Tolerated (and printed on every run) until the fix lands; then delete the entry.
 */
const OPEN: Record<string, { control: string; file: string; fix: string }> = {
};

/** The Lambda permissions that let this stack's REST API call a function. */
function apiGatewayPermissions(stack: Stack): lambda.CfnPermission[] {
  return all(stack, lambda.CfnPermission).filter((p) => stack.resolve(p.principal) === 'apigateway.amazonaws.com');
}

interface GuardFinding {
  rule: string;
  description: string;
  constructPath: string;
}

interface ValidationReport {
  pluginReports: Array<{
    pluginName: string;
    conclusion: string;
    violations: Array<{ ruleName: string; description: string; violatingConstructs: Array<{ constructPath?: string; cloudFormationResource?: { logicalId: string } }> }>;
    suppressedViolations?: Array<{ ruleName: string }>;
  }>;
}

/**
 * Synthesizes the stack with `context`, runs the guard plugin through CDK's policy validation and
 * returns the unacknowledged and acknowledged findings plus the template. CDK writes the report
 * to validation-report.json in the assembly; with failSynthOnValidationErrors off it does not
 * throw, so the test can name each finding. (CDK marks a plugin's report successful once any of
 * its findings is acknowledged, so only the list of violations is trusted, never `conclusion`.)
 */
function guardAndSynth(context: Record<string, unknown>) {
  const { app, stack } = synthStack({ '@aws-cdk/core:failSynthOnValidationErrors': false, ...context });
  Validations.of(app).addPlugins(new CfnGuardValidator());
  for (const ack of NOT_APPLICABLE) {
    for (const scope of ack.scope(stack)) Validations.of(scope).acknowledge({ id: `${GUARD}::${ack.rule}`, reason: `${ack.control}: ${ack.reason}` });
  }
  const assembly = app.synth({ force: true });
  const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8')) as ValidationReport;
  const guard = report.pluginReports.find((r) => r.pluginName === GUARD);
  if (!guard) throw new Error(`no ${GUARD} report in validation-report.json: ${JSON.stringify(report).slice(0, 2000)}`);
  const findings: GuardFinding[] = guard.violations.flatMap((v) =>
    v.violatingConstructs.map((c) => ({ rule: v.ruleName, description: v.description, constructPath: c.constructPath ?? c.cloudFormationResource?.logicalId ?? '?' })),
  );
  const template = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  return { stack, findings, acknowledged: guard.suppressedViolations ?? [], template };
}

// ---------------------------------------------------------------------------------------------
// The resource specification check

interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> } & Record<string, unknown>>;
}

type SpecDb = ReturnType<typeof loadAwsServiceSpecSync>;
type PropertySpec = { type: PropertyType; previousTypes?: PropertyType[]; required?: boolean };
type PropertyType =
  | { type: 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: PropertyType }
  | { type: 'union'; types: PropertyType[] };

/** What a resource may carry besides Type and Properties (CloudFormation resource attributes). */
const RESOURCE_ATTRIBUTES = new Set(['Type', 'Properties', 'DependsOn', 'Metadata', 'Condition', 'DeletionPolicy', 'UpdateReplacePolicy', 'CreationPolicy', 'UpdatePolicy']);

/** A CloudFormation intrinsic (`Ref`, `Fn::*`, `Condition`): its value is only known at deploy time. */
const isIntrinsic = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && /^(Ref|Condition|Fn::.+)$/.test(Object.keys(v)[0]!);

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Errors of one value against one of the types the spec allows for it (names and required properties, recursively). */
function checkValue(db: SpecDb, value: unknown, type: PropertyType, at: string): string[] {
  if (isIntrinsic(value)) return [];
  switch (type.type) {
    case 'ref': {
      if (!isPlainObject(value)) return [];
      const def = db.get('typeDefinition', type.reference.$ref) as unknown as { name: string; properties: Record<string, PropertySpec> };
      return checkProperties(db, value, def.properties, `${at}`, def.name);
    }
    case 'array':
      return Array.isArray(value) ? value.flatMap((v, i) => checkValue(db, v, type.element, `${at}[${i}]`)) : [];
    case 'map':
      return isPlainObject(value) ? Object.entries(value).flatMap(([k, v]) => checkValue(db, v, type.element, `${at}.${k}`)) : [];
    case 'union': {
      const tries = type.types.map((t) => checkValue(db, value, t, at));
      return tries.some((e) => e.length === 0) ? [] : tries.sort((a, b) => a.length - b.length)[0]!;
    }
    case 'tag':
      return Array.isArray(value)
        ? value.flatMap((t, i) => (isPlainObject(t) && Object.keys(t).every((k) => k === 'Key' || k === 'Value') ? [] : [`${at}[${i}]: a tag is { Key, Value }`]))
        : [];
    default:
      return [];
  }
}

/** Errors of an object against the properties a resource or type definition has. */
function checkProperties(db: SpecDb, value: Record<string, unknown>, spec: Record<string, PropertySpec>, at: string, typeName: string): string[] {
  const errors: string[] = [];
  for (const [name, p] of Object.entries(spec)) {
    if (p.required && !(name in value)) errors.push(`${at}: required property ${name} of ${typeName} is missing`);
  }
  for (const [name, v] of Object.entries(value)) {
    const p = spec[name];
    if (!p) {
      errors.push(`${at}.${name}: ${typeName} has no property ${name}`);
      continue;
    }
    // A value in a type the property had before (the spec keeps them) is still accepted by CloudFormation.
    const tries = [p.type, ...(p.previousTypes ?? [])].map((t) => checkValue(db, v, t, `${at}.${name}`));
    if (!tries.some((e) => e.length === 0)) errors.push(...tries[0]!);
  }
  return errors;
}

/** Every error of the template's resources against the AWS resource specification. */
function checkTemplate(db: SpecDb, template: CfnTemplate): string[] {
  return Object.entries(template.Resources).flatMap(([id, resource]) => {
    const at = `Resources.${id}`;
    const errors = Object.keys(resource).filter((k) => !RESOURCE_ATTRIBUTES.has(k)).map((k) => `${at}: ${k} is no resource attribute`);
    // Custom resources: any properties, but CloudFormation needs the provider's ServiceToken.
    if (resource.Type.startsWith('Custom::') || resource.Type === 'AWS::CloudFormation::CustomResource') {
      return resource.Properties?.ServiceToken ? errors : [...errors, `${at}: custom resource ${resource.Type} without ServiceToken`];
    }
    const [spec] = db.lookup('resource', 'cloudFormationType', 'equals', resource.Type) as unknown as Array<{ properties: Record<string, PropertySpec> }>;
    if (!spec) return [...errors, `${at}: ${resource.Type} is no resource type of the AWS resource specification`];
    return [...errors, ...checkProperties(db, resource.Properties ?? {}, spec.properties, `${at}.Properties`, resource.Type)];
  });
}

// ---------------------------------------------------------------------------------------------

let db: SpecDb;
beforeAll(() => {
  db = loadAwsServiceSpecSync();
});

describe('the checkers themselves', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('the guard plugin runs its cfn-guard binary here and reports a bucket without versioning', () => {
    const outdir = mkdtempSync(path.join(os.tmpdir(), 'runtools-guard-'));
    dirs.push(outdir);
    const app = new App({ outdir, context: { '@aws-cdk/core:failSynthOnValidationErrors': false } });
    const stack = new Stack(app, 'Canary');
    new s3.Bucket(stack, 'Plain', { enforceSSL: true });
    Validations.of(app).addPlugins(new CfnGuardValidator());
    const assembly = app.synth();
    const report = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8')) as ValidationReport;
    const rules = report.pluginReports.find((r) => r.pluginName === GUARD)!.violations.map((v) => v.ruleName);
    expect(rules).toContain('s3_bucket_versioning_enabled_check');
  });

  it('the specification check names unknown types, unknown or misplaced properties and missing required ones', () => {
    const errors = checkTemplate(db, {
      Resources: {
        Fn: {
          Type: 'AWS::Lambda::Function',
          Properties: { Role: { 'Fn::GetAtt': ['R', 'Arn'] }, Code: { ImageUri: 'x' }, MemorySise: 128, VpcConfig: { SubnetIds: [], Subnets: [] } },
        },
        Topic: { Type: 'AWS::SNS::Topik', Properties: {} },
        Queue: { Type: 'AWS::SQS::Queue', Properties: { Tags: [{ Key: 'a', Value: 'b' }] }, Dependson: ['Fn'] },
      },
    });
    expect(errors).toEqual([
      'Resources.Fn.Properties.MemorySise: AWS::Lambda::Function has no property MemorySise',
      'Resources.Fn.Properties.VpcConfig.Subnets: VpcConfig has no property Subnets',
      'Resources.Topic: AWS::SNS::Topik is no resource type of the AWS resource specification',
      'Resources.Queue: Dependson is no resource attribute',
    ]);
    expect(checkTemplate(db, { Resources: { Lg: { Type: 'AWS::Logs::SubscriptionFilter', Properties: { LogGroupName: 'x' } } } }).sort()).toEqual([
      'Resources.Lg.Properties: required property DestinationArn of AWS::Logs::SubscriptionFilter is missing',
      'Resources.Lg.Properties: required property FilterPattern of AWS::Logs::SubscriptionFilter is missing',
    ]);
  });
});

describe.each([
  ['network none (the default)', {}],
  ['network internet', { 'runtools:network': 'internet' }],
] as const)('the stack, %s', (_name, context) => {
  let result: ReturnType<typeof guardAndSynth>;
  beforeAll(() => {
    result = guardAndSynth(context);
  }, 240_000);

  it('passes AWS Control Tower\'s proactive controls (cfn-guard): every finding fixed or acknowledged with its reason', () => {
    const open = result.findings.filter((f) => f.rule in OPEN);
    if (open.length > 0) {
      const rules = [...new Set(open.map((f) => f.rule))];
      console.warn(
        `Control Tower findings waiting for their owners' fix:\n${rules.map((r) => `  ${r} (${OPEN[r]!.control}) in ${OPEN[r]!.file}: ${OPEN[r]!.fix}`).join('\n')}`,
      );
    }
    expect(result.findings.filter((f) => !(f.rule in OPEN)).map((f) => `${f.rule} ${f.description.match(/^\[[^\]]+\]/)?.[0] ?? ''}: ${f.constructPath}`)).toEqual([]);
    // The plugin really evaluated the template: the acknowledged findings were found, then acknowledged.
    expect(result.acknowledged.length).toBeGreaterThan(0);
  });

  it('scopes every Lambda permission to this REST API (what the acknowledged CT.LAMBDA.PR.2 finding could not check)', () => {
    const stack = result.stack;
    const apiId = stack.resolve(stack.api.api.restApiId) as { Ref: string };
    const permissions = all(stack, lambda.CfnPermission);
    expect(permissions.length).toBeGreaterThan(0);
    for (const p of permissions) {
      expect(stack.resolve(p.principal), p.node.path).toBe('apigateway.amazonaws.com');
      const sourceArn = JSON.stringify(stack.resolve(p.sourceArn));
      expect(sourceArn, p.node.path).toContain(':execute-api:');
      expect(sourceArn, p.node.path).toContain(JSON.stringify(apiId));
    }
  });

  it('uses only resource types and properties of the AWS resource specification, with every required property', () => {
    expect(Object.keys(result.template.Resources).length).toBeGreaterThan(50);
    expect(checkTemplate(db, result.template)).toEqual([]);
  });
});
