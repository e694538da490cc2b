import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IgnoreMode } from 'aws-cdk-lib';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { RUNTIME_IDS, type RuntimeId } from '../../functions/contract.js';
import { runtimeFacts } from '../../functions/runtimes.js';

/** The images' build context: the Dockerfiles, the bootstrap and the runner bundle. */
export const RUNTIME_LAYERS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../runtime-layers');

/** The toolchain version a runtime's Dockerfile defaults to (its `ARG RUNTIME_VERSION=`; tests keep it equal to the registry's). */
export function dockerfileVersion(runtime: RuntimeId): string {
  const text = readFileSync(path.join(RUNTIME_LAYERS_DIR, runtime, 'Dockerfile'), 'utf8');
  const match = /^ARG RUNTIME_VERSION=(\S+)$/m.exec(text);
  if (!match) throw new Error(`runtime-layers/${runtime}/Dockerfile does not pin ARG RUNTIME_VERSION`);
  return match[1]!;
}

export interface RuntimeImageProps {
  runtime: RuntimeId;
  /** @default Platform.LINUX_AMD64 (Lambda and Fargate x86_64) */
  platform?: Platform;
}

/**
 * One runtime's container image, built from `runtime-layers/<runtime>/Dockerfile` at deploy
 * time (synth only stages the build context). Lambda and Fargate share it.
 */
export class RuntimeImage extends Construct {
  readonly asset: DockerImageAsset;
  readonly version: string;

  constructor(scope: Construct, id: string, props: RuntimeImageProps) {
    super(scope, id);
    this.version = runtimeFacts(props.runtime).image.version;
    this.asset = new DockerImageAsset(this, 'Asset', {
      directory: RUNTIME_LAYERS_DIR,
      file: `${props.runtime}/Dockerfile`,
      platform: props.platform ?? Platform.LINUX_AMD64,
      ignoreMode: IgnoreMode.DOCKER,
      // The registry's pin wins over the Dockerfile's default (a test keeps the two equal).
      buildArgs: { RUNTIME_VERSION: this.version },
      // Only this runtime's Dockerfile changes its image.
      exclude: RUNTIME_IDS.filter((r) => r !== props.runtime),
      displayName: `runtools-${props.runtime}`,
    });
  }
}
