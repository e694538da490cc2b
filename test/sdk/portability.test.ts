import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const SDK = path.resolve(import.meta.dirname, '../../sdk');

describe('the SDK', () => {
  it('imports nothing but its own files (types too: sdk/types.ts, so the published declarations need no zod); node.ts, the Node-only helpers, Node built-ins too', () => {
    for (const file of readdirSync(SDK).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(path.join(SDK, file), 'utf8');
      for (const [, clause, from] of source.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
        if (clause) {
          expect(from, `${file} imports types from ${from}`).toMatch(/^(\.\/[\w-]+\.js|node:[\w/]+)$/);
          continue;
        }
        if (file === 'node.ts' && from!.startsWith('node:')) continue;
        expect(from, `${file} imports ${from}`).toMatch(/^\.\/[\w-]+\.js$/);
      }
    }
  });

  it('bundles for the browser without Node built-ins or dependencies', async () => {
    const out = await build({
      entryPoints: [path.join(SDK, 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).not.toMatch(/require\(/);
    expect(code).toMatch(/Runtools = class|class Runtools/);
    expect(code.length).toBeLessThan(30_000);
  });
});
