/**
 * The CDK app (`cdk.json` runs it): builds the runner bundle the images copy in, validates the
 * `runtools:*` context and creates the stack. Synth never builds images; `cdk deploy` does.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildRunnerBundle } from './bundle.js';
import { parseConfig } from './config.js';
import { RuntoolsStack } from './stack.js';

const app = new App();
const config = parseConfig(app.node.getAllContext());
buildRunnerBundle();
new RuntoolsStack(app, config.stackName, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'runtools: run untrusted code in isolated sandboxes (API Gateway, Lambda, Fargate)',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
