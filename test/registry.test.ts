import { readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { RUNTIME_NAMES, RUNTIMES } from '../functions/runtimes.js';
import { README, renderedReadme } from '../scripts/runtime-docs.js';

/*
 * The registry (functions/runtimes.ts) is the only list of runtimes: what repeats it elsewhere is
 * generated from it or checked against it here.
 */

describe('the runtime registry', () => {
  it('names every runtime once: ids and aliases are unique and lowercase', () => {
    const names = RUNTIMES.flatMap((r) => [r.id, ...r.aliases]);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toBe(name.toLowerCase());
    expect(RUNTIME_NAMES.size).toBe(names.length);
  });

  it('has every id, alias and entry file the public contract fixes (API.md)', () => {
    const contract: Array<[id: string, aliases: string[], entry: string]> = [
      ['python', ['py', 'python3'], 'main.py'],
      ['node', ['js', 'javascript', 'nodejs'], 'main.js'],
      ['bun', [], 'main.ts'],
      ['deno', [], 'main.ts'],
      ['go', ['golang'], 'main.go'],
      ['rust', ['rs'], 'main.rs'],
      ['c', [], 'main.c'],
      ['cpp', ['c++'], 'main.cpp'],
      ['java', [], 'Main.java'],
      ['ruby', ['rb'], 'main.rb'],
      ['php', [], 'main.php'],
      ['bash', ['sh'], 'main.sh'],
    ];
    for (const [id, aliases, entry] of contract) {
      expect(RUNTIMES.find((r) => r.id === id), id).toMatchObject({ entrypoint: entry });
      for (const alias of aliases) expect(RUNTIME_NAMES.get(alias), alias).toBe(id);
    }
  });

  it('gives every runtime a usable entry file, extension and hello world', () => {
    for (const r of RUNTIMES) {
      expect(r.extensions.some((ext) => r.entrypoint.endsWith(ext)), r.id).toBe(true);
      expect(r.hello.endsWith('\n'), r.id).toBe(true);
      expect(r.toolVariable, r.id).toMatch(/^RUNTOOLS_[A-Z]+$/);
    }
  });

  it('the README runtime section and first line are what scripts/runtime-docs.ts renders (npm run docs)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(renderedReadme(readme));
  });

  it("the API's Lambda bundle carries the registry and nothing of the runner", async () => {
    const result = await build({
      entryPoints: [path.resolve(import.meta.dirname, '../functions/api/lambda.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      write: false,
      metafile: true,
      outfile: 'api.mjs',
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('functions/runtimes.ts');
    expect(inputs.filter((f) => f.startsWith('functions/runner/'))).toEqual([]);
    // The local server's store (a native module) stays out of the Lambda bundle.
    expect(inputs.filter((f) => f.includes('better-sqlite3') || f === 'functions/dispatch/store.ts')).toEqual([]);
  });
});
