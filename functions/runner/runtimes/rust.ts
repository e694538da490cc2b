import path from 'node:path';
import { argvPath } from '../../runtimes.js';
import { relativeBeneath } from '../hostile-fs.js';
import { hostOutput, isExecutable, which } from './locate.js';
import { defineHost, type CommandContext } from './types.js';

const isCargoProject = (ctx: { files: readonly string[] }) => ctx.files.includes('Cargo.toml');

/**
 * rustc names the crate after the entry's file, and refuses a name it cannot use (`-x.rs`,
 * `a.b.rs`): such an entry's crate is `main`.
 */
function crateName(entry: string): string[] {
  const stem = path.posix.basename(entry).replace(/\.rs$/, '');
  return /^[\p{L}\p{N}_][\p{L}\p{N}_-]*$/u.test(stem) ? [] : ['--crate-name', 'main'];
}

/**
 * Reads cargo's stdout: the executable of the last binary it built, and the lines that are not
 * cargo's messages (each of which is a JSON object on a line of its own, `{"reason":…}`; a line cut
 * by the output cap included), for the user.
 */
function cargoArtifact(stdout: string): { executable: string | undefined; rest: string } {
  let executable: string | undefined;
  const rest: string[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) {
      if (line) rest.push(line);
      continue;
    }
    try {
      const msg = JSON.parse(line) as { reason?: string; executable?: unknown; target?: { kind?: string[] } };
      if (msg.reason === 'compiler-artifact' && typeof msg.executable === 'string' && msg.target?.kind?.includes('bin')) {
        executable = msg.executable;
      }
    } catch {
      /* cut by the output cap: cargo's all the same */
    }
  }
  return { executable, rest: rest.length ? `${rest.join('\n')}\n` : '' };
}

function cargoEnv(ctx: CommandContext): Record<string, string> {
  return {
    PATH: `${ctx.tool.root}/bin:/usr/bin:/bin`,
    CARGO_HOME: `${ctx.tmpDir}/cargo`,
    CARGO_TARGET_DIR: `${ctx.outDir}/target`,
    CARGO_NET_OFFLINE: 'true',
    CARGO_TERM_COLOR: 'never',
    CARGO_INCREMENTAL: '0',
    RUSTC: ctx.tool.bin,
  };
}

/** Rust: `rustc --edition 2021` for single files and `mod` siblings; offline `cargo build` for a Cargo.toml. */
export default defineHost({
  async locate(override) {
    const rustc = override ?? which('rustc');
    if (!rustc) return null;
    // rustup's proxy needs its home; the sandbox gets the real toolchain directory instead.
    const sysroot = await hostOutput(rustc, ['--print', 'sysroot']);
    if (!sysroot) return null;
    const bin = path.join(sysroot, 'bin/rustc');
    return isExecutable(bin) ? { root: sysroot, bin } : null;
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => /rustc\s+(\S+)/.exec(out)?.[1] ?? out.trim(),
  },
  compile: (ctx) =>
    isCargoProject(ctx)
      ? {
          argv: [`${ctx.tool.root}/bin/cargo`, 'build', '--offline', '--quiet', '--message-format=json-render-diagnostics'],
          env: cargoEnv(ctx),
        }
      : {
          argv: [ctx.tool.bin, '--edition', '2021', '-C', 'debuginfo=0', ...crateName(ctx.entry), '-o', `${ctx.outDir}/main`, argvPath(ctx.entry)],
          env: { PATH: `${ctx.tool.root}/bin:/usr/bin:/bin` },
        },
  compiledBinary(ctx, stdout) {
    if (!isCargoProject(ctx)) return { binary: `${ctx.outDir}/main`, stdout };
    const { executable, rest } = cargoArtifact(stdout);
    // Build scripts can write to cargo's stdout too (through /proc): a binary named outside the out dir is none.
    const binary = executable ?? `${ctx.outDir}/target/debug/main`;
    return { binary: relativeBeneath(ctx.outDir, binary) === null ? null : binary, stdout: rest };
  },
  run: (ctx) => ({ argv: [ctx.binary!, ...ctx.args] }),
});
