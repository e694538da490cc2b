import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, DefaultStackSynthesizer, Stack, type DockerImageAssetSource } from 'aws-cdk-lib';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { RUNTIME_IDS } from '../../functions/contract.js';
import { RUNTIMES } from '../../functions/runtimes.js';
import { dockerfileVersion, RuntimeImage } from '../../infra/constructs/runtime-image.js';
import {
  DIGEST,
  fromImages,
  manifestPlatforms,
  parseImageRef,
  parseImagetoolsInspect,
  pinDockerfile,
  runtimeDockerfiles,
  type DigestLookup,
} from '../../scripts/pin-images.js';

const LAYERS = path.resolve(import.meta.dirname, '../../runtime-layers');
const dockerfile = (runtime: string) => readFileSync(path.join(LAYERS, runtime, 'Dockerfile'), 'utf8');

/** The uid:gid every image runs as on Fargate (Lambda picks its own user). */
const RUNNER_USER = '10001:10001';

/**
 * Base images no public source gave a digest for: pinned by exact tag until someone with
 * network access runs scripts/pin-images.ts (the test below proves it pins them).
 */
const TAG_ONLY = ['oven/bun:1.4.5-slim', 'ruby:3.3.10-slim-bookworm'];

/** The instructions of a Dockerfile, in order: keyword upper-cased, arguments with continuations joined. */
function instructions(text: string): { keyword: string; args: string }[] {
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() !== '');
  return logical.map((l) => {
    const m = /^\s*(\S+)\s*(.*)$/.exec(l)!;
    return { keyword: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim() };
  });
}

/** The instructions of the last stage (the image that runs). */
function finalStageOf(text: string) {
  const all = instructions(text);
  return all.slice(all.map((i) => i.keyword).lastIndexOf('FROM'));
}

/** A fake registry: a digest derived from the image name, and the images asked for. */
function fakeRegistry(platforms = ['linux/amd64', 'linux/arm64/v8']) {
  const asked: string[] = [];
  const lookup: DigestLookup = async (image) => {
    asked.push(image);
    let h = 0;
    for (const c of image) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return { digest: `sha256:${h.toString(16).padStart(8, '0').repeat(8)}`, platforms };
  };
  return { lookup, asked };
}

describe('runtime images', () => {
  it.each(RUNTIME_IDS)('%s: Dockerfile lints with zero errors and zero warnings', (runtime) => {
    const problems = validate(dockerfile(runtime), {});
    expect(problems.map((p) => `${p.range.start.line + 1}: ${p.message}`)).toEqual([]);
    expect(problems.filter((p) => p.severity === ValidationSeverity.ERROR)).toHaveLength(0);
  });

  it.each(RUNTIME_IDS)('%s: every base image is an exact version tag, built for linux/amd64, pinned by digest or left to the refresh script', (runtime) => {
    const text = dockerfile(runtime);
    const froms = fromImages(text);
    expect(froms.length).toBeGreaterThan(0);
    // Every FROM, including those of earlier stages: fromImages() leaves none out here.
    expect(froms).toHaveLength(instructions(text).filter((i) => i.keyword === 'FROM').length);
    for (const { ref, platform } of froms) {
      const image = `${ref.name}:${ref.tag}`;
      expect(platform, image).toBe('linux/amd64');
      expect(ref.tag, image).toMatch(/^(bin-)?\d+\.\d+\.\d+/);
      expect(ref.tag, image).not.toMatch(/latest/);
      if (TAG_ONLY.includes(image)) expect(ref.digest, `${image} is pinned now: drop it from TAG_ONLY`).toBeNull();
      else expect(ref.digest, `${image} has no digest (pin it with scripts/pin-images.ts, or list it in TAG_ONLY)`).toMatch(DIGEST);
    }
    // BuildKit warns about a constant --platform unless told this is the point.
    expect(text.split('\n')[0]).toBe('# check=skip=FromPlatformFlagConstDisallowed');
    expect(dockerfileVersion(runtime)).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('a base image has the same digest in every Dockerfile', () => {
    const digests = new Map<string, Set<string | null>>();
    for (const runtime of RUNTIME_IDS) {
      for (const { ref } of fromImages(dockerfile(runtime))) {
        const image = `${ref.name}:${ref.tag}`;
        digests.set(image, (digests.get(image) ?? new Set()).add(ref.digest));
      }
    }
    for (const [image, set] of digests) expect([...set], image).toHaveLength(1);
  });

  it.each(RUNTIMES)('$id: the Dockerfile pins the registry\'s version, which keeps the promise, and its base image carries it', (facts) => {
    expect(dockerfileVersion(facts.id)).toBe(facts.image.version);
    if (facts.image.promised !== 'latest') expect(facts.image.version.startsWith(`${facts.image.promised}.`)).toBe(true);
    // The toolchain comes from a base image tagged with its version; bash is Debian's (checked at build time).
    const tags = fromImages(dockerfile(facts.id)).map((f) => f.ref.tag ?? '');
    if (facts.id === 'bash') expect(dockerfile('bash')).toMatch(/= "\$RUNTIME_VERSION"$/m);
    else expect(tags.some((t) => t === facts.image.version || t.startsWith(`${facts.image.version}-`) || t.startsWith(`${facts.image.version}_`) || t === `bin-${facts.image.version}`)).toBe(true);
  });

  it('the versions the product promises (its spec: Python 3.12, Node.js 22, Go 1.23, Rust 1.80), with numpy', () => {
    const promised = Object.fromEntries(RUNTIMES.map((r) => [r.id, r.image.promised]));
    expect(promised).toMatchObject({ python: '3.12', node: '22', go: '1.23', rust: '1.80' });
    expect(dockerfile('python')).toMatch(/numpy==\d+\.\d+\.\d+/);
  });

  it.each(RUNTIME_IDS)('%s: builds the launcher with its seccomp filters and the non-dumpable preload, from the bundled sources', (runtime) => {
    const text = dockerfile(runtime);
    expect(text).toMatch(/^FROM --platform=linux\/amd64 gcc:\d+\.\d+\.\d+-bookworm@sha256:[0-9a-f]{64} AS helpers$/m);
    expect(text).toMatch(/apt-get install -y --no-install-recommends libseccomp-dev=\S+/);
    expect(text).toContain('COPY dist/launcher/ /src/');
    expect(text).toContain('RUN sh /src/build.sh /out launch nodump');
    // Beside the bundle, where launcherPath() finds it; where bootstrap.sh preloads it from.
    expect(text).toContain('COPY --from=helpers /out/runtools-launch /opt/runtools/runtools-launch');
    expect(text).toContain('COPY --from=helpers /out/runtools-nodump.so /opt/runtools/nodump.so');
  });

  it.each(RUNTIME_IDS)('%s: runs as a non-root user that owns /tmp (a volume on Fargate) and nothing it runs', (runtime) => {
    const text = dockerfile(runtime);
    const finalStage = finalStageOf(text);
    const at = (keyword: string, args?: string) => finalStage.findIndex((i) => i.keyword === keyword && (args === undefined || i.args === args));
    const users = finalStage.filter((i) => i.keyword === 'USER');
    // One USER, numeric (a runtime needs no passwd look-up to see it is not root), before the entry point.
    expect(users.map((u) => u.args)).toEqual([RUNNER_USER]);
    expect(at('USER')).toBeLessThan(at('ENTRYPOINT'));
    expect(finalStage.some((i) => i.keyword === 'CMD' && at('USER') > finalStage.indexOf(i))).toBe(false);
    // The user exists with that uid, owns /tmp (emptied of what the build left), and nothing else is given to it.
    const create = finalStage.find((i) => i.keyword === 'RUN' && i.args.includes('useradd'));
    expect(create?.args).toMatch(/groupadd --system --gid 10001 runner/);
    expect(create?.args).toMatch(/useradd --system --uid 10001 --gid runner --home-dir \/tmp --no-create-home runner/);
    expect(create?.args).toMatch(/find \/tmp -mindepth 1 -delete[\s\S]*chown runner:runner \/tmp[\s\S]*chmod 1777 \/tmp/);
    expect(text).not.toMatch(/--chown|chown -R|chmod -R|chmod [0-7]*7[0-7]* \/(?!tmp\b)/);
    // Every build step that writes the image runs as root, before the switch.
    for (const [i, step] of finalStage.entries()) {
      if (step.keyword === 'COPY' || step.keyword === 'ADD') expect(i, step.args).toBeLessThan(at('USER'));
    }
    // ECS copies a VOLUME path's contents, owner and mode into the bind mount at the same path;
    // declared last, after every step that could write /tmp.
    expect(finalStage.filter((i) => i.keyword === 'VOLUME').map((i) => i.args)).toEqual(['["/tmp"]']);
    expect(at('VOLUME')).toBeGreaterThan(at('RUN', finalStage.filter((i) => i.keyword === 'RUN').at(-1)!.args));
    expect(text).toMatch(/HOME=\/tmp/);
    expect(text).toMatch(/RUNTOOLS_WORK_ROOT=\/tmp\//);
    expect(text).toMatch(/RUNTOOLS_SCRATCH_ROOT=\/tmp\b/);
  });

  it.each(RUNTIME_IDS)('%s: as that user, the build proves it can read the runner and run the launcher and the toolchain', (runtime) => {
    const finalStage = finalStageOf(dockerfile(runtime));
    const user = finalStage.findIndex((i) => i.keyword === 'USER');
    const check = finalStage.slice(user).find((i) => i.keyword === 'RUN');
    expect(check, 'a RUN after USER').toBeDefined();
    for (const part of ['test -r /opt/runtools/lambda.mjs', 'test -r /opt/runtools/task.mjs', 'test -r /opt/runtools/nodump.so', 'test -x /opt/runtools/bootstrap', 'test -x /opt/runtools/runtools-launch', '/usr/local/bin/node --version']) {
      expect(check!.args).toContain(part);
    }
    expect(check!.args).toMatch(/"\$RUNTOOLS_[A-Z]+"/);
    // Our own files get their modes from the Dockerfile, not from the umask of the machine that built the bundle.
    expect(dockerfile(runtime)).toContain('COPY --chmod=0555 bootstrap.sh /opt/runtools/bootstrap');
    expect(dockerfile(runtime)).toContain('COPY --chmod=0444 dist/lambda.mjs dist/task.mjs /opt/runtools/');
  });

  it.each(RUNTIME_IDS)('%s: whatever starts the runner (Lambda\'s bootstrap, Fargate\'s node) starts it non-dumpable', (runtime) => {
    const finalStage = finalStageOf(dockerfile(runtime));
    const preload = finalStage.findIndex((i) => i.keyword === 'ENV' && i.args === 'LD_PRELOAD=/opt/runtools/nodump.so');
    expect(preload).toBeGreaterThan(-1);
    // After every root build step (they would preload it too) and after the file exists.
    const lastRootRun = finalStage.findLastIndex((i, n) => i.keyword === 'RUN' && n < finalStage.findIndex((u) => u.keyword === 'USER'));
    expect(preload).toBeGreaterThan(lastRootRun);
    expect(preload).toBeGreaterThan(finalStage.findIndex((i) => i.args.includes('/opt/runtools/nodump.so') && i.keyword === 'COPY'));
    // The preload removes the variable itself, so nothing the runner starts inherits it.
    expect(readFileSync(path.resolve(import.meta.dirname, '../../functions/runner/sandbox/launcher/nodump.c'), 'utf8')).toContain('unsetenv("LD_PRELOAD")');
  });

  it('the Go image prebuilds its build cache, the Java image builds javac\'s archive, and every image ships the runner bundle and bootstrap', () => {
    expect(dockerfile('go')).toMatch(/RUN .*build-go-cache\.mjs/);
    expect(dockerfile('java')).toMatch(/RUNTOOLS_JAVAC_CDS=\S+[\s\S]*RUN .*build-javac-cds\.mjs/);
    for (const runtime of RUNTIME_IDS) expect(dockerfile(runtime)).toMatch(/^ENTRYPOINT \["\/opt\/runtools\/bootstrap", /m);
    const bootstrap = path.join(LAYERS, 'bootstrap.sh');
    expect(readFileSync(bootstrap, 'utf8')).toContain('/opt/runtools/nodump.so');
    expect(existsSync(bootstrap)).toBe(true);
    expect(statSync(bootstrap).mode & 0o111).not.toBe(0);
  });

  it('the bootstrap needs no privileges: no sudo, su, setpriv, chown, mount or writes outside /tmp', () => {
    const code = readFileSync(path.join(LAYERS, 'bootstrap.sh'), 'utf8')
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
    expect(code).not.toMatch(/\b(sudo|su|setpriv|runuser|chown|chmod|mount|unshare|capsh|setcap)\b/);
    expect(code).not.toMatch(/>\s*\/(?!dev\/null|tmp\/)/);
    expect(code).toMatch(/^exec \/usr\/bin\/env -i HOME=\/tmp /m);
  });
});

describe('the CDK image asset', () => {
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'runtools-image-asset-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  /** Keeps what each image asset asks to be built (no synthesis needed). */
  class RecordingSynthesizer extends DefaultStackSynthesizer {
    readonly sources: DockerImageAssetSource[] = [];
    override addDockerImageAsset(source: DockerImageAssetSource) {
      this.sources.push(source);
      return super.addDockerImageAsset(source);
    }
  }

  it('is built for linux/amd64 from the Dockerfile alone (no build argument can swap a pinned base)', () => {
    const synthesizer = new RecordingSynthesizer();
    new RuntimeImage(new Stack(new App({ outdir }), 'Images', { synthesizer }), 'Image', { runtime: 'node' });
    expect(synthesizer.sources).toHaveLength(1);
    expect(synthesizer.sources[0]).toMatchObject({ platform: 'linux/amd64', dockerFile: 'node/Dockerfile' });
    expect(synthesizer.sources[0]!.dockerBuildArgs).toBeUndefined();
  });
});

describe('scripts/pin-images.ts', () => {
  const SAMPLE = [
    '# check=skip=FromPlatformFlagConstDisallowed',
    'ARG RUNTIME_VERSION=1.2.3',
    '',
    `FROM --platform=linux/amd64 gcc:14.2.0-bookworm@sha256:${'0'.repeat(64)} AS helpers`,
    'RUN make',
    '',
    'from node:22.21.1-bookworm-slim as node',
    'FROM helpers AS again',
    'FROM scratch AS empty',
    'FROM --platform=linux/amd64 registry.example.com:5000/team/python:3.12.12-slim-bookworm',
    'COPY --from=node /usr/local/bin/node /usr/local/bin/node',
    'ENTRYPOINT ["/bin/true"]',
    '',
  ].join('\n');

  it('parses references with registries, ports, tags and digests', () => {
    expect(parseImageRef('node:22')).toEqual({ name: 'node', tag: '22', digest: null });
    expect(parseImageRef('registry.example.com:5000/team/python')).toEqual({ name: 'registry.example.com:5000/team/python', tag: null, digest: null });
    expect(parseImageRef(`denoland/deno:bin-2.9.6@sha256:${'a'.repeat(64)}`)).toEqual({ name: 'denoland/deno', tag: 'bin-2.9.6', digest: `sha256:${'a'.repeat(64)}` });
  });

  it('finds the image FROMs, not those of earlier stages or scratch', () => {
    expect(fromImages(SAMPLE).map((f) => [f.line, f.platform, f.ref.name, f.ref.tag])).toEqual([
      [3, 'linux/amd64', 'gcc', '14.2.0-bookworm'],
      [6, null, 'node', '22.21.1-bookworm-slim'],
      [9, 'linux/amd64', 'registry.example.com:5000/team/python', '3.12.12-slim-bookworm'],
    ]);
  });

  it('pins every image FROM to its tag\'s digest, refreshes old pins and touches nothing else', async () => {
    const { lookup, asked } = fakeRegistry();
    const { text, changes } = await pinDockerfile(SAMPLE, lookup);
    expect(asked).toEqual(['gcc:14.2.0-bookworm', 'node:22.21.1-bookworm-slim', 'registry.example.com:5000/team/python:3.12.12-slim-bookworm']);
    const [gcc, node, python] = await Promise.all(asked.map(async (image) => (await lookup(image)).digest));
    const want = SAMPLE.split('\n');
    want[3] = `FROM --platform=linux/amd64 gcc:14.2.0-bookworm@${gcc} AS helpers`;
    want[6] = `from node:22.21.1-bookworm-slim@${node} as node`;
    want[9] = `FROM --platform=linux/amd64 registry.example.com:5000/team/python:3.12.12-slim-bookworm@${python}`;
    expect(text).toBe(want.join('\n'));
    expect(changes.map((c) => [c.line, c.from])).toEqual([
      [3, `sha256:${'0'.repeat(64)}`],
      [6, null],
      [9, null],
    ]);
    // Pinned already: nothing changes the second time.
    expect(await pinDockerfile(text, lookup)).toEqual({ text, changes: [] });
  });

  it('refuses what it cannot pin honestly: a variable, no tag, a bad digest, no image for the FROM\'s platform', async () => {
    const { lookup } = fakeRegistry();
    await expect(pinDockerfile('FROM node:${NODE_VERSION}-slim\n', lookup)).rejects.toThrow(/uses a variable/);
    await expect(pinDockerfile('FROM debian\n', lookup)).rejects.toThrow(/has no tag/);
    await expect(pinDockerfile('FROM debian:12\n', async () => ({ digest: 'latest', platforms: [] }))).rejects.toThrow(/not a sha256 digest/);
    await expect(pinDockerfile('FROM --platform=linux/amd64 debian:12\n', fakeRegistry(['linux/arm64/v8']).lookup)).rejects.toThrow(/has no linux\/amd64 image/);
    // A single-platform image lists no platforms: nothing to check against.
    await expect(pinDockerfile('FROM --platform=linux/amd64 debian:12\n', fakeRegistry([]).lookup)).resolves.toMatchObject({ changes: [{ image: 'debian:12' }] });
  });

  it('reads what docker buildx imagetools and crane answer', () => {
    const inspect = [
      'Name:      docker.io/library/alpine:latest',
      'MediaType: application/vnd.docker.distribution.manifest.list.v2+json',
      `Digest:    sha256:${'2'.repeat(64)}`,
      '',
      'Manifests:',
      `  Name:      docker.io/library/alpine:latest@sha256:${'3'.repeat(64)}`,
      '  MediaType: application/vnd.docker.distribution.manifest.v2+json',
      '  Platform:  linux/amd64',
      '',
      `  Name:      docker.io/library/alpine:latest@sha256:${'4'.repeat(64)}`,
      '  MediaType: application/vnd.docker.distribution.manifest.v2+json',
      '  Platform:  linux/arm64/v8',
    ].join('\n');
    expect(parseImagetoolsInspect(inspect)).toEqual({ digest: `sha256:${'2'.repeat(64)}`, platforms: ['linux/amd64', 'linux/arm64/v8'] });
    expect(() => parseImagetoolsInspect('error: not found')).toThrow(/no Digest/);
    const index = { manifests: [{ platform: { os: 'linux', architecture: 'amd64' } }, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }, { platform: { os: 'unknown', architecture: 'unknown' } }] };
    expect(manifestPlatforms(JSON.stringify(index))).toEqual(['linux/amd64', 'linux/arm64/v8', 'unknown/unknown']);
    expect(manifestPlatforms(JSON.stringify({ config: {}, layers: [] }))).toEqual([]);
  });

  it('covers every runtime image, and pins each of them completely with the registry\'s answers', async () => {
    expect(runtimeDockerfiles().map((f) => path.basename(path.dirname(f)))).toEqual([...RUNTIME_IDS].sort());
    const { lookup } = fakeRegistry();
    for (const file of runtimeDockerfiles()) {
      const before = readFileSync(file, 'utf8');
      const { text } = await pinDockerfile(before, lookup);
      const pinned = fromImages(text);
      expect(pinned.map((f) => [f.platform, f.ref.name, f.ref.tag])).toEqual(fromImages(before).map((f) => [f.platform, f.ref.name, f.ref.tag]));
      for (const f of pinned) expect(f.ref.digest).toBe((await lookup(`${f.ref.name}:${f.ref.tag}`)).digest);
      // Only FROM lines change.
      const changed = before.split('\n').flatMap((l, i) => (l === text.split('\n')[i] ? [] : [l]));
      expect(changed.every((l) => l.startsWith('FROM '))).toBe(true);
    }
  });
});
