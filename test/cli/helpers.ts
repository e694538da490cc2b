import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/runtools.mjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `runtools` binary; stdin gets `input` (or is closed empty). `killAfterMs`: SIGKILL it then (code null). */
export function runCli(
  args: string[],
  options: { input?: string; env?: Record<string, string>; cwd?: string; killAfterMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A temporary folder with the CLI fixtures: a script, a stdin greeter and a project folder. */
export function fixtures(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-cli-'));
  writeFileSync(path.join(dir, 'script.py'), 'import sys\nprint("args", sys.argv[1:])\nsys.exit(3)\n');
  writeFileSync(path.join(dir, 'hello.py'), 'name = input()\nprint(f"Hello, {name}!")\n');
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'pkg'), { recursive: true });
  mkdirSync(path.join(src, 'node_modules', 'x'), { recursive: true });
  writeFileSync(path.join(src, 'main.py'), 'import os\nfrom pkg import util\nprint(util.greet("World"))\nprint(sorted(os.listdir(".")))\n');
  writeFileSync(path.join(src, 'pkg', '__init__.py'), '');
  writeFileSync(path.join(src, 'pkg', 'util.py'), 'def greet(name):\n    return f"Hello, {name}!"\n');
  writeFileSync(path.join(src, '.env'), 'SECRET=1\n');
  writeFileSync(path.join(src, 'node_modules', 'x', 'index.js'), '');
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
