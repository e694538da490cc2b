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

/** The toolchain version a runtime's Dockerfile pins (its `ARG RUNTIME_VERSION=`; tests keep it equal to the registry's and to its FROM tag). */
export function dockerfileVersion(runtime: RuntimeId): string {
  const text = readFileSync(path.join(RUNTIME_LAYERS_DIR, runtime, 'Dockerfile'), 'utf8');
  const match = /^ARG RUNTIME_VERSION=(\S+)$/m.exec(text);
  if (!match) throw new Error(`runtime-layers/${runtime}/Dockerfile does not pin ARG RUNTIME_VERSION`);
  return match[1]!;
}

export interface RuntimeImageProps {
  runtime: RuntimeId;
}

/**
 * The platform every image is built for, whatever the machine that builds it: the runner function
 * and task are x86_64, and the Dockerfiles pin `FROM --platform=linux/amd64` too (on an ARM
 * machine the build is emulated: slower, same image).
 */
export const IMAGE_PLATFORM = Platform.LINUX_AMD64;

/**
 * One runtime's container image, built from `runtime-layers/<runtime>/Dockerfile` at deploy
 * time (synth only stages the build context). Lambda and Fargate share it. The Dockerfile alone
 * says what is built: its base images are pinned by tag and digest (scripts/pin-images.ts), so no
 * build argument can swap them.
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
      platform: IMAGE_PLATFORM,
      ignoreMode: IgnoreMode.DOCKER,
      // Only this runtime's Dockerfile changes its image.
      exclude: RUNTIME_IDS.filter((r) => r !== props.runtime),
      displayName: `runtools-${props.runtime}`,
    });
  }
}
