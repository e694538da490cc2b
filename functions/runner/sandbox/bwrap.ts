import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cgroupSupport, createCgroup, type Cgroup } from '../cgroup.js';
import { firstExecutable, which } from '../runtimes/locate.js';
import type { Toolchain } from '../runtimes/types.js';
import { supervise, type ProcessOutcome } from '../supervise.js';
import { withRlimits } from './rlimits.js';
import type { ExecDirs, Sandbox, SandboxSpawn, SandboxView } from './types.js';

const execFileAsync = promisify(execFile);

const WORK = '/work';
const OUT = '/out';
const TMP = '/tmp';
const TOOLS = '/opt/runtools';

/** Host paths of /etc the toolchains need (dynamic linker cache, `cc` alternatives, time zone). */
const ETC = ['/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/alternatives', '/etc/localtime'];

function rootDirArgs(): string[] {
  const args: string[] = ['--ro-bind', '/usr', '/usr'];
  for (const dir of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
      else if (st.isDirectory()) args.push('--ro-bind', dir, dir);
    } catch {
      /* absent on this host */
    }
  }
  for (const p of ETC) args.push('--ro-bind-try', p, p);
  return args;
}

/** Where a toolchain directory appears inside the sandbox: /usr stays put, anything else moves to /opt/runtools. */
function toolMount(tool: Toolchain, runtime: string): { root: string; bin: string; bind: boolean } {
  if (tool.root === '/usr' || tool.root.startsWith('/usr/')) return { ...tool, bind: false };
  const root = path.posix.join(TOOLS, runtime);
  return { root, bin: path.posix.join(root, path.relative(tool.root, tool.bin)), bind: true };
}

/**
 * bubblewrap: fresh user, pid, ipc, uts, cgroup and network namespaces; read-only /usr and
 * toolchain binds; private /tmp; the work dir the only writable place; a per-phase cgroup
 * (memory, pids) where the host has one, rlimits always.
 */
export class BwrapSandbox implements Sandbox {
  readonly kind = 'bwrap' as const;
  private readonly bwrap: string | null;
  private readonly rootArgs = rootDirArgs();

  constructor(bwrapPath?: string) {
    this.bwrap = firstExecutable([bwrapPath, process.env.RUNTOOLS_BWRAP]) ?? which('bwrap');
  }

  view(_dirs: ExecDirs, tool: Toolchain, runtime: string): SandboxView {
    const { root, bin } = toolMount(tool, runtime);
    return { workDir: WORK, outDir: OUT, tmpDir: TMP, tool: { root, bin } };
  }

  async check(): Promise<void> {
    if (!this.bwrap) {
      throw new Error('bubblewrap (bwrap) is not installed: run `npm run setup` as root (apt-get install bubblewrap), or set RUNTOOLS_SANDBOX=process to run without namespaces');
    }
    try {
      await execFileAsync(this.bwrap, [...this.namespaceArgs(), ...this.rootArgs, '--', '/usr/bin/true'], { timeout: 10_000 });
    } catch (err) {
      const detail = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
      throw new Error(`bubblewrap cannot create namespaces on this host (${detail}); allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces) or set RUNTOOLS_SANDBOX=process to run without namespaces`);
    }
  }

  describe(): string {
    const cg = cgroupSupport();
    return cg
      ? `bwrap namespaces; cgroup v${cg} memory and pids limits; rlimits for file size and descriptors`
      : 'bwrap namespaces; no usable cgroup: rlimits for file size and descriptors only (memory and process count are not capped)';
  }

  private namespaceArgs(): string[] {
    return ['--unshare-all', '--die-with-parent', '--new-session', '--hostname', 'runtools', '--clearenv'];
  }

  run(spec: SandboxSpawn): Promise<ProcessOutcome> {
    const mount = toolMount(spec.tool, spec.runtime);
    const args = [...this.namespaceArgs(), ...this.rootArgs];
    args.push('--proc', '/proc', '--dev', '/dev');
    args.push('--size', String(spec.limits.tmpBytes), '--tmpfs', TMP);
    args.push('--size', String(spec.limits.tmpBytes), '--tmpfs', '/dev/shm');
    if (mount.bind) args.push('--ro-bind', spec.tool.root, mount.root);
    for (const p of spec.readOnlyPaths) args.push('--ro-bind-try', p, p);
    args.push('--bind', spec.dirs.work, WORK);
    args.push(spec.writableOut ? '--bind' : '--ro-bind', spec.dirs.out, OUT);
    // bwrap builds the root as a tmpfs; once everything is mounted it becomes read-only.
    args.push('--remount-ro', '/');
    args.push('--chdir', spec.cwd ? path.posix.join(WORK, spec.cwd) : WORK);
    for (const [k, v] of Object.entries(spec.env)) args.push('--setenv', k, v);

    let cgroup: Cgroup | null = null;
    try {
      cgroup = createCgroup(`${spec.id}-${spec.writableOut ? 'compile' : 'run'}`, {
        memoryBytes: spec.limits.memoryBytes,
        pids: spec.limits.pids,
      });
    } catch {
      cgroup = null;
    }
    // With a cgroup, the sandbox waits on fd 3 until we have moved it in (its pid comes on fd 4).
    if (cgroup) args.push('--block-fd', '3', '--info-fd', '4');
    args.push('--', ...spec.argv);

    return supervise({
      argv: withRlimits([this.bwrap!, ...args], spec.limits),
      env: { PATH: '/usr/bin:/bin' },
      cwd: '/',
      stdin: spec.stdin,
      timeoutMs: spec.timeoutMs,
      outputLimitBytes: spec.outputLimitBytes,
      extraFds: cgroup ? 2 : 0,
      signalFromStatus: true,
      signal: spec.signal,
      onSpawn: cgroup ? (child) => joinCgroup(child, cgroup!) : undefined,
      killTree: (child) => {
        cgroup?.killAll();
        if (child.pid) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      },
    }).finally(() => cgroup?.destroy());
  }
}

/** Reads bwrap's info JSON, moves the sandbox's pid 1 into the cgroup, then lets it start. */
function joinCgroup(child: ChildProcess, cgroup: Cgroup): Promise<void> {
  return new Promise((resolve, reject) => {
    const info = child.stdio[4] as NodeJS.ReadableStream;
    const block = child.stdio[3] as NodeJS.WritableStream;
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (!match) return;
      info.off('data', onData);
      try {
        cgroup.join(Number(match[1]));
        block.write('1');
        resolve();
      } catch (err) {
        reject(err);
      }
    };
    info.on('data', onData);
    info.once('end', () => reject(new Error('bubblewrap exited before the sandbox started')));
  });
}

