import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildRunnerBundle } from '../../infra/bundle.js';
import { parseConfig } from '../../infra/config.js';
import { RuntoolsStack } from '../../infra/stack.js';

/**
 * Synthesizes the stack in memory for assertions. The API function's esbuild bundling is
 * skipped (`aws:cdk:bundling-stacks` empty); image assets are only staged, never built.
 */
export function synthStack(context: Record<string, unknown> = {}) {
  buildRunnerBundle();
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new RuntoolsStack(app, 'Runtools', {
    config: parseConfig(app.node.getAllContext()),
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return { app, stack, template: Template.fromStack(stack) };
}
