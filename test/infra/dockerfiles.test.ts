import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { RUNTIME_IDS } from '../../functions/contract.js';
import { RUNTIMES } from '../../functions/runtimes.js';
import { dockerfileVersion } from '../../infra/constructs/runtime-image.js';

const LAYERS = path.resolve(import.meta.dirname, '../../runtime-layers');

describe('runtime images', () => {
  it.each(RUNTIME_IDS)('%s: Dockerfile lints with zero errors and zero warnings', (runtime) => {
    const text = readFileSync(path.join(LAYERS, runtime, 'Dockerfile'), 'utf8');
    const problems = validate(text, {});
    expect(problems.map((p) => `${p.range.start.line + 1}: ${p.message}`)).toEqual([]);
    expect(problems.filter((p) => p.severity === ValidationSeverity.ERROR)).toHaveLength(0);
  });

  it.each(RUNTIME_IDS)('%s: every base image is pinned to an exact version', (runtime) => {
    const text = readFileSync(path.join(LAYERS, runtime, 'Dockerfile'), 'utf8');
    const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const froms = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!.replace(/\$\{(\w+)\}/g, (_, n: string) => args[n] ?? '?'));
    expect(froms.length).toBeGreaterThan(0);
    for (const image of froms) {
      expect(image, image).not.toMatch(/:latest\b|\?/);
      expect(image, image).toMatch(/:(bin-)?\d+\.\d+\.\d+/);
    }
    expect(dockerfileVersion(runtime)).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each(RUNTIMES)('$id: the Dockerfile pins the registry\'s version, which keeps the promise', (facts) => {
    expect(dockerfileVersion(facts.id)).toBe(facts.image.version);
    if (facts.image.promised !== 'latest') expect(facts.image.version.startsWith(`${facts.image.promised}.`)).toBe(true);
  });

  it('the versions the product promises (its spec: Python 3.12, Node.js 22, Go 1.23, Rust 1.80), with numpy', () => {
    const promised = Object.fromEntries(RUNTIMES.map((r) => [r.id, r.image.promised]));
    expect(promised).toMatchObject({ python: '3.12', node: '22', go: '1.23', rust: '1.80' });
    expect(readFileSync(path.join(LAYERS, 'python/Dockerfile'), 'utf8')).toMatch(/numpy==\d+\.\d+\.\d+/);
  });

  it.each(RUNTIME_IDS)('%s: builds the launcher with its seccomp filters and the non-dumpable preload, from the bundled sources', (runtime) => {
    const text = readFileSync(path.join(LAYERS, runtime, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^FROM gcc:\d+\.\d+\.\d+-bookworm AS helpers$/m);
    expect(text).toMatch(/apt-get install -y --no-install-recommends libseccomp-dev=\S+/);
    expect(text).toContain('COPY dist/launcher/ /src/');
    expect(text).toContain('RUN sh /src/build.sh /out launch nodump');
    // Beside the bundle, where launcherPath() finds it; where bootstrap.sh preloads it from.
    expect(text).toContain('COPY --from=helpers /out/runtools-launch /opt/runtools/runtools-launch');
    expect(text).toContain('COPY --from=helpers /out/runtools-nodump.so /opt/runtools/nodump.so');
  });

  it('the Go image prebuilds its build cache, the Java image builds javac\'s archive, and every image ships the runner bundle and bootstrap', () => {
    expect(readFileSync(path.join(LAYERS, 'go/Dockerfile'), 'utf8')).toMatch(/RUN .*build-go-cache\.mjs/);
    expect(readFileSync(path.join(LAYERS, 'java/Dockerfile'), 'utf8')).toMatch(/RUNTOOLS_JAVAC_CDS=\S+[\s\S]*RUN .*build-javac-cds\.mjs/);
    for (const runtime of RUNTIME_IDS) {
      const text = readFileSync(path.join(LAYERS, runtime, 'Dockerfile'), 'utf8');
      expect(text).toContain('COPY dist/lambda.mjs dist/task.mjs /opt/runtools/');
      expect(text).toMatch(/RUNTOOLS_WORK_ROOT=\/tmp\//);
      expect(text).toMatch(/HOME=\/tmp/);
    }
    const bootstrap = path.join(LAYERS, 'bootstrap.sh');
    expect(readFileSync(bootstrap, 'utf8')).toContain('/opt/runtools/nodump.so');
    expect(existsSync(bootstrap)).toBe(true);
    expect(statSync(bootstrap).mode & 0o111).not.toBe(0);
  });
});
