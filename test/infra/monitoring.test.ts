import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { concurrencyPlan, LAMBDA_UNRESERVED_MINIMUM, parseConfig } from '../../infra/config.js';
import { RUNTIME_IDS } from '../../functions/runtimes.js';
import { synthStack } from './synth.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, any>; DependsOn?: string[]; Condition?: string; DeletionPolicy?: string }>;

const ofType = (template: Template, type: string): Resources => template.findResources(type) as Resources;
const runnerFunctions = (template: Template) =>
  Object.values(ofType(template, 'AWS::Lambda::Function')).filter((f) => f.Properties!.PackageType === 'Image');
const apiFunction = (template: Template) =>
  Object.values(ofType(template, 'AWS::Lambda::Function')).find((f) => f.Properties!.Runtime === 'nodejs22.x')!;
const nagFindings = (synth: ReturnType<typeof synthStack>) =>
  new AwsSolutionsChecks(synth.app)
    .validateScope(synth.stack)
    .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);

describe('API Gateway account logging role (a first deploy on an account that never used API Gateway logs)', () => {
  let synth: ReturnType<typeof synthStack>;
  beforeAll(() => {
    synth = synthStack();
  });

  it('sets a CloudWatch Logs role trusted by API Gateway in the account settings, retained on delete', () => {
    const { template } = synth;
    const accounts = ofType(template, 'AWS::ApiGateway::Account');
    expect(Object.keys(accounts)).toHaveLength(1);
    const [account] = Object.values(accounts);
    expect(account!.DeletionPolicy).toBe('Retain');
    const roleId = account!.Properties!.CloudWatchRoleArn['Fn::GetAtt'][0] as string;
    const role = ofType(template, 'AWS::IAM::Role')[roleId]!;
    expect(role.Properties!.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' } },
    ]);
    expect(JSON.stringify(role.Properties!.ManagedPolicyArns)).toContain('service-role/AmazonAPIGatewayPushToCloudWatchLogs');
    expect((template.toJSON().Resources[roleId] as { DeletionPolicy?: string }).DeletionPolicy).toBe('Retain');
  });

  it('creates the stage (with access logs) only after the account setting', () => {
    const { template } = synth;
    const accountId = Object.keys(ofType(template, 'AWS::ApiGateway::Account'))[0]!;
    const stages = Object.values(ofType(template, 'AWS::ApiGateway::Stage'));
    expect(stages).toHaveLength(1);
    expect(stages[0]!.Properties!.AccessLogSetting.DestinationArn).toBeDefined();
    expect(stages[0]!.DependsOn).toContain(accountId);
  });

  it('logs the API key id of every request, as JSON', () => {
    const [stage] = Object.values(ofType(synth.template, 'AWS::ApiGateway::Stage'));
    const format = JSON.parse(stage!.Properties!.AccessLogSetting.Format as string) as Record<string, string>;
    expect(format).toMatchObject({ requestId: '$context.requestId', apiKeyId: '$context.identity.apiKeyId', status: '$context.status' });
  });

  it('stays clean under cdk-nag (the managed policy is acknowledged with its reason)', () => {
    expect(nagFindings(synth)).toEqual([]);
  });

  it('can be left to the account (runtools:apiGatewayAccountRole=false)', () => {
    const { template } = synthStack({ 'runtools:apiGatewayAccountRole': 'false', 'runtools:runtimes': 'python' });
    template.resourceCountIs('AWS::ApiGateway::Account', 0);
    const roles = Object.values(ofType(template, 'AWS::IAM::Role'));
    expect(JSON.stringify(roles)).not.toContain('apigateway.amazonaws.com');
    template.resourceCountIs('AWS::ApiGateway::Stage', 1);
  });
});

describe('reserved concurrency', () => {
  it('is off without the quota, and says so at synth', () => {
    const synth = synthStack({ 'runtools:runtimes': 'python,go' });
    expect(apiFunction(synth.template).Properties!.ReservedConcurrentExecutions).toBeUndefined();
    for (const f of runnerFunctions(synth.template)) expect(f.Properties!.ReservedConcurrentExecutions).toBeUndefined();
    Annotations.fromStack(synth.stack).hasWarning('*', Match.stringLikeRegexp('No reserved concurrency.*runtools:accountConcurrency is not set'));
  });

  it('is off, with a warning, where the quota is too small (a new account: 10)', () => {
    for (const quota of ['10', '100', String(LAMBDA_UNRESERVED_MINIMUM + 4 * 2 - 1)]) {
      const synth = synthStack({ 'runtools:runtimes': 'python,go', 'runtools:accountConcurrency': quota });
      expect(apiFunction(synth.template).Properties!.ReservedConcurrentExecutions).toBeUndefined();
      for (const f of runnerFunctions(synth.template)) expect(f.Properties!.ReservedConcurrentExecutions).toBeUndefined();
      Annotations.fromStack(synth.stack).hasWarning('*', Match.stringLikeRegexp(`accountConcurrency=${quota} is too small`));
    }
  });

  it('reserves for the API and caps every runner from the quota, leaving Lambda its 100 unreserved', () => {
    const synth = synthStack({ 'runtools:accountConcurrency': '1000' });
    const api = apiFunction(synth.template).Properties!.ReservedConcurrentExecutions as number;
    const runners = runnerFunctions(synth.template).map((f) => f.Properties!.ReservedConcurrentExecutions as number);
    expect(runners).toHaveLength(RUNTIME_IDS.length);
    expect(api).toBe(225);
    for (const r of runners) expect(r).toBe(Math.floor(225 / RUNTIME_IDS.length));
    expect(api + runners.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual((1000 - LAMBDA_UNRESERVED_MINIMUM) / 2);
    Annotations.fromStack(synth.stack).hasNoWarning('*', Match.stringLikeRegexp('reserved concurrency'));
    // The alarm near the API's reservation exists only when there is one.
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ConcurrentExecutions',
      Statistic: 'Maximum',
      Threshold: 180,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('sizes any two deploys so that CloudFormation can apply them in any order', () => {
    for (const quota of [148, 200, 1000, 1001, 5000, 20_000]) {
      for (const n of [1, 2, 6, RUNTIME_IDS.length]) {
        const plan = concurrencyPlan(quota, n);
        if ('off' in plan) {
          expect(quota).toBeLessThan(LAMBDA_UNRESERVED_MINIMUM + 4 * n);
          continue;
        }
        expect(plan.api).toBeGreaterThanOrEqual(1);
        expect(plan.runner).toBeGreaterThanOrEqual(1);
        // At most half of what Lambda lets an account reserve: old and new side by side still fit.
        expect(2 * (plan.api + n * plan.runner)).toBeLessThanOrEqual(quota - LAMBDA_UNRESERVED_MINIMUM);
      }
    }
    expect(concurrencyPlan(148, 12)).toEqual({ api: 12, runner: 1 });
    expect(concurrencyPlan(147, 12)).toHaveProperty('off');
    expect(concurrencyPlan(undefined, 12)).toHaveProperty('off');
    expect(() => parseConfig({ 'runtools:accountConcurrency': '-1' })).toThrow(/runtools:accountConcurrency/);
    expect(() => parseConfig({ 'runtools:accountConcurrency': 'lots' })).toThrow(/runtools:accountConcurrency/);
  });
});

describe('monitoring', () => {
  let synth: ReturnType<typeof synthStack>;
  let template: Template;
  beforeAll(() => {
    synth = synthStack({ 'runtools:runtimes': 'python,go', 'runtools:accountConcurrency': '1000', 'runtools:monthlyBudgetUsd': '250' });
    template = synth.template;
  });

  const alarms = () => Object.values(ofType(template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties!);
  const topicId = () => Object.keys(ofType(template, 'AWS::SNS::Topic'))[0]!;

  it('alarms on API 5xx, API function errors and throttles, and each runner\'s errors and throttles, all to the topic', () => {
    const seen = alarms().map((a) => `${a.Namespace}/${a.MetricName}/${Object.keys(a.Dimensions ?? {}).length ? a.Dimensions.map((d: any) => d.Name).join('+') : ''}`);
    expect(seen).toContainEqual('AWS/ApiGateway/5XXError/ApiName');
    const lambdaAlarms = alarms().filter((a) => a.Namespace === 'AWS/Lambda');
    const byMetric = (m: string) => lambdaAlarms.filter((a) => a.MetricName === m).length;
    expect(byMetric('Errors')).toBe(3); // API function + python + go
    expect(byMetric('Throttles')).toBe(3);
    expect(byMetric('ConcurrentExecutions')).toBe(1);
    for (const a of alarms()) {
      expect(a.AlarmActions).toEqual([{ Ref: topicId() }]);
      expect(a.OKActions).toEqual([{ Ref: topicId() }]);
      expect(a.TreatMissingData).toBe('notBreaching');
    }
  });

  it('tells about Fargate tasks that fail to start or exit non-zero in the runtools cluster', () => {
    const clusterId = Object.keys(ofType(template, 'AWS::ECS::Cluster'))[0]!;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: {
          clusterArn: [{ 'Fn::GetAtt': [clusterId, 'Arn'] }],
          lastStatus: ['STOPPED'],
          $or: [{ stopCode: ['TaskFailedToStart'] }, { containers: { exitCode: [{ 'anything-but': 0 }] } }],
        },
      },
      Targets: [Match.objectLike({ Arn: { Ref: topicId() }, InputTransformer: Match.objectLike({ InputPathsMap: Match.objectLike({ 'detail-taskArn': '$.detail.taskArn' }) }) })],
    });
    // Every <placeholder> of the message is one of the input paths (EventBridge rejects others).
    const [rule] = Object.values(ofType(template, 'AWS::Events::Rule'));
    const { InputPathsMap, InputTemplate } = rule!.Properties!.Targets[0].InputTransformer;
    const placeholders = [...(InputTemplate as string).matchAll(/<([^>]*)>/g)].map((m) => m[1]);
    expect(placeholders.length).toBeGreaterThanOrEqual(3);
    for (const p of placeholders) expect(Object.keys(InputPathsMap), p).toContain(p);
  });

  it('lets EventBridge and this account\'s CloudWatch alarms publish, over TLS only', () => {
    const [policy] = Object.values(ofType(template, 'AWS::SNS::TopicPolicy'));
    const statements = policy!.Properties!.PolicyDocument.Statement as any[];
    const allowed = statements.filter((s) => s.Effect === 'Allow').map((s) => s.Principal.Service);
    expect(allowed.sort()).toEqual(['cloudwatch.amazonaws.com', 'events.amazonaws.com']);
    const cw = statements.find((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
    expect(cw.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('subscribes the AlertEmail parameter to the topic, only when one is given', () => {
    const params = template.toJSON().Parameters as Record<string, any>;
    expect(params.AlertEmail).toMatchObject({ Type: 'String', Default: '' });
    const subs = Object.values(ofType(template, 'AWS::SNS::Subscription'));
    expect(subs).toHaveLength(1);
    expect(subs[0]!.Properties).toMatchObject({ Protocol: 'email', Endpoint: { Ref: 'AlertEmail' }, TopicArn: { Ref: topicId() } });
    const condition = template.toJSON().Conditions[subs[0]!.Condition!];
    expect(condition).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlertEmail' }, ''] }] });
  });

  it('has a monthly cost budget of the configured amount that e-mails the same address', () => {
    const [budget] = Object.values(ofType(template, 'AWS::Budgets::Budget'));
    expect(budget!.Properties!.Budget).toEqual({ BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: 250, Unit: 'USD' } });
    expect(budget!.Properties!.Budget.BudgetName).toBeUndefined();
    const [cond, withEmail, without] = budget!.Properties!.NotificationsWithSubscribers['Fn::If'];
    expect(template.toJSON().Conditions[cond]).toBeDefined();
    expect(without).toEqual({ Ref: 'AWS::NoValue' });
    expect(withEmail).toEqual([
      expect.objectContaining({ Notification: expect.objectContaining({ NotificationType: 'ACTUAL', Threshold: 80 }), Subscribers: [{ SubscriptionType: 'EMAIL', Address: { Ref: 'AlertEmail' } }] }),
      expect.objectContaining({ Notification: expect.objectContaining({ NotificationType: 'FORECASTED', Threshold: 100 }) }),
    ]);
    expect(parseConfig({}).monthlyBudgetUsd).toBe(100);
  });

  it('has a dashboard and a saved query of requests per API key on the access logs', () => {
    const [dashboard] = Object.values(ofType(template, 'AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard!.Properties!.DashboardBody);
    for (const needle of ['5XXError', 'ConcurrentExecutions', 'Throttles', 'Invocations', 'AWS/Events']) expect(body).toContain(needle);
    const [query] = Object.values(ofType(template, 'AWS::Logs::QueryDefinition'));
    expect(query!.Properties!.QueryString).toMatch(/stats count\(\*\) as requests by apiKeyId/);
    const accessLogs = Object.values(ofType(template, 'AWS::ApiGateway::Stage'))[0]!.Properties!.AccessLogSetting.DestinationArn['Fn::GetAtt'][0];
    expect(query!.Properties!.LogGroupNames).toEqual([{ Ref: accessLogs }]);
  });

  it('stays clean under cdk-nag', () => {
    expect(nagFindings(synth)).toEqual([]);
  });
});
