import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { cgroupSupport, createCgroup, processInfo, type Cgroup } from '../cgroup.js';
import { INSTANCE_TAG } from '../instance.js';
import { firstExecutable, which } from '../runtimes/locate.js';
import type { Toolchain } from '../runtimes/types.js';
import { SandboxFault } from '../../errors.js';
import { supervise, type Child, type ProcessOutcome } from '../supervise.js';
import type { Readable, Writable } from 'node:stream';
import { createWorkspace, removeWorkspace, type Workspace, type WorkspaceMounter } from '../workspace.js';
import { launcherPath, launchSpec, spawnerPath } from './launcher.js';
import { Spawner, type SpawnedChild } from './spawner.js';
import { SandboxPool, type PreparedSandbox } from './pool.js';
import { SandboxLane } from './lane.js';
import type { ExecDirs, Lane, LaneOptions, Overlay, PoolOptions, ResourceLimits, Sandbox, SandboxSpawn, SandboxView, StartedInterpreter } from './types.js';

const execFileAsync = promisify(execFile);

const WORK = '/work';
const OUT = '/out';
const TMP = '/tmp';
const TOOLS = '/opt/runtools';
const LAUNCHER = '/opt/runtools/.launch';
/** Where the start-up hook of an interpreter started ahead is bound. */
const AHEAD_HOOK = '/opt/runtools/.ahead';
/** The pipe the launcher reports the program's end on: the one after stdio. */
const STATUS_FD = 3;
/** The pipe a prepared sandbox reads the execution's spec from. */
const SPEC_FD = 4;
/** The launcher as the sandbox's PID 1, reporting on STATUS_FD, no inet sockets for the program. */
const LAUNCH = [LAUNCHER, '-s', String(STATUS_FD), '-n'];

// The launcher is PID 1 (--as-pid-1): the kernel protects it from the program's signals, and it
// reports the program's wait status, which bwrap's own init would reduce to an exit code.
const NAMESPACES = ['--unshare-all', '--die-with-parent', '--new-session', '--as-pid-1', '--hostname', 'runtools', '--clearenv'];

/**
 * Started by root, bwrap leaves the program every capability inside its user namespace: enough
 * to remount the read-only binds (/usr, the toolchains, /out, the Go cache) read-write and write
 * through to the host. Drop them all, and forbid nested user namespaces, which would hand the
 * program a fresh set of capabilities and the kernel surface that comes with them.
 */
const PRIVILEGES = ['--unshare-user', '--disable-userns', '--cap-drop', 'ALL'];

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
 * (memory, pids) where the host has one, rlimits always; every program started by the launcher
 * under the seccomp filter.
 */
export class BwrapSandbox implements Sandbox {
  readonly kind = 'bwrap' as const;
  /** The spawner mounts overlays in the sandbox's own mount namespace: that takes root and overlayfs. */
  readonly overlays = process.getuid?.() === 0 && hasOverlayfs();
  private readonly bwrap: string | null;
  private readonly rootArgs = rootDirArgs();
  private readonly spawner: Spawner | null;
  readonly mounter?: WorkspaceMounter;

  constructor(bwrapPath?: string) {
    this.bwrap = firstExecutable([bwrapPath, process.env.RUNTOOLS_BWRAP]) ?? which('bwrap');
    const spawner = spawnerPath();
    this.spawner = spawner ? new Spawner(spawner) : null;
    const helper = this.spawner;
    // As root the spawner mounts each workspace's tmpfs with one mount(2), not a mount(8) process.
    if (helper && process.getuid?.() === 0) {
      this.mounter = { mount: (root, quota) => helper.mount(root, quota.bytes, quota.inodes), unmount: (root) => helper.unmount(root) };
    }
  }

  view(_dirs: ExecDirs, tool: Toolchain, runtime: string): SandboxView {
    const { root, bin } = toolMount(tool, runtime);
    return { workDir: WORK, outDir: OUT, tmpDir: TMP, tool: { root, bin } };
  }

  async check(): Promise<void> {
    if (!this.bwrap) {
      throw new Error('bubblewrap (bwrap) is not installed: run `npm run setup` as root (apt-get install bubblewrap), or set RUNTOOLS_SANDBOX=process to run without namespaces');
    }
    if (!this.spawner) throw new Error('build/runtools-spawn is missing: run `npm run setup` (it compiles the sandbox spawner with cc)');
    if (!launcherPath()) throw new Error('build/runtools-launch is missing: run `npm run setup` (it compiles the launcher and its seccomp filter with cc and libseccomp)');
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
    return [...NAMESPACES, ...PRIVILEGES];
  }

  /**
   * A lane keeps its user namespace's capabilities, for the mounts of each test (launch.c drops
   * them all in every test before anything of it runs); nested user namespaces stay forbidden.
   */
  private laneNamespaceArgs(): string[] {
    return [...NAMESPACES, '--unshare-user', '--disable-userns'];
  }

  /** bwrap arguments shared by fresh and prepared sandboxes: namespaces, mounts, working dir. */
  private sandboxArgs(o: {
    limits: ResourceLimits;
    tools: ReadonlyArray<{ runtime: string; tool: Toolchain }>;
    readOnlyPaths: readonly string[];
    dirs: ExecDirs;
    writableOut: boolean;
    cwd: string;
    /** The start-up hook of an interpreter started ahead, bound read-only at AHEAD_HOOK. */
    hook?: string;
    /** A lane's: its capabilities kept, the work dir read-only (each test gets a copy). */
    lane?: boolean;
  }): string[] {
    const args = [...(o.lane ? this.laneNamespaceArgs() : this.namespaceArgs()), ...this.rootArgs];
    args.push('--proc', '/proc', '--dev', '/dev');
    args.push('--size', String(o.limits.tmpBytes), '--tmpfs', TMP);
    args.push('--size', String(o.limits.tmpBytes), '--tmpfs', '/dev/shm');
    // The sandbox's uid 0 is the host's root: every root-owned file it can see passes the
    // permission check without any capability. Global sysctls (/proc/sys/kernel/core_pattern runs
    // a host command as root on the next crash) and /dev's unbounded tmpfs must not be writable.
    args.push('--remount-ro', '/proc', '--remount-ro', '/dev');
    for (const { runtime, tool } of o.tools) {
      const mount = toolMount(tool, runtime);
      if (mount.bind) args.push('--ro-bind', tool.root, mount.root);
      // What the toolchain reads outside its directory (the registry's binds), where it exists here.
      for (const p of tool.binds ?? []) args.push('--ro-bind-try', p, p);
    }
    for (const p of o.readOnlyPaths) args.push('--ro-bind-try', p, p);
    args.push(o.lane ? '--ro-bind' : '--bind', o.dirs.work, WORK);
    args.push(o.writableOut ? '--bind' : '--ro-bind', o.dirs.out, OUT);
    args.push('--ro-bind', launcherPath()!, LAUNCHER);
    if (o.hook) args.push('--ro-bind', o.hook, AHEAD_HOOK);
    // bwrap builds the root as a tmpfs; once everything is mounted it becomes read-only.
    args.push('--remount-ro', '/', '--chdir', o.cwd);
    return args;
  }

  /**
   * Creates a cgroup and starts one sandbox in it: the spawner's child moves itself in before it
   * runs bwrap (a v1 migration waits for an RCU grace period: there, not in our thread pool).
   * `args` is the whole bwrap command line; every sandbox gets the STATUS_FD pipe, a prepared one
   * the SPEC_FD pipe too.
   * The rlimits hold for bwrap and all it starts.
   */
  private async start(o: { args: string[]; cgroupName: string; limits: ResourceLimits; spec?: boolean; fds?: string; overlays?: readonly Overlay[] }) {
    const cgroup = await this.cgroupFor(o.cgroupName, o.limits);
    try {
      const child = await this.spawner!.spawn({
        argv: [this.bwrap!, ...o.args],
        env: { PATH: '/usr/bin:/bin' },
        cwd: '/',
        fds: o.fds ?? (o.spec ? 'rwwwr' : 'rwww'),
        openFiles: o.limits.openFiles,
        fileSizeBytes: o.limits.fileSizeBytes,
        overlays: o.overlays,
        cgroups: cgroup?.procs,
      });
      return { child, cgroup };
    } catch (err) {
      void cgroup?.destroy();
      throw err;
    }
  }

  private async cgroupFor(name: string, limits: ResourceLimits): Promise<Cgroup | null> {
    try {
      // One more process than the program's: bwrap's own, outside the namespaces, is in the group too.
      return await createCgroup(name, { memoryBytes: limits.memoryBytes, pids: limits.pids + 1 });
    } catch {
      return null;
    }
  }

  private killTree(cgroup: Cgroup | null) {
    return (child: Child) => {
      // Once bwrap has exited (and been reaped: its pid may be anyone's now) its pid namespace is
      // gone, and with it every process of the sandbox: nothing is left to kill.
      if (child.exitCode !== null || child.signalCode !== null) return;
      cgroup?.killAll();
      if (child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    };
  }

  async run(spec: SandboxSpawn): Promise<ProcessOutcome> {
    const prepared = this.pool.claim(spec.id, (p) => this.fits(p, spec));
    if (prepared) return this.runPrepared(prepared, spec);
    const args = this.sandboxArgs({ ...spec, tools: [{ runtime: spec.runtime, tool: spec.tool }], cwd: workCwd(spec.cwd) });
    const env = Object.entries(spec.env).flatMap(([k, v]) => ['--setenv', k, v]);
    let child: SpawnedChild;
    let cgroup: Cgroup | null;
    try {
      ({ child, cgroup } = await this.start({ args: [...args, ...env, '--', ...LAUNCH, '--', ...spec.argv], cgroupName: `${spec.id}-${spec.writableOut ? 'compile' : 'run'}`, limits: spec.limits, overlays: spec.overlays }));
    } catch (err) {
      throw new SandboxFault(`could not start the sandbox: ${(err as Error).message}`, { beforeStart: true, cause: err });
    }
    return this.supervise(child, cgroup, spec);
  }

  /**
   * A lane for a test suite (launch.c -L): one sandbox whose tests run one after another, each in
   * fresh mount and IPC namespaces, with a fresh copy of `dirs.work`, the build read-only at /out,
   * and nothing left of the test before. Its cgroup holds the limits of one test.
   */
  readonly lane = process.getuid?.() === 0 ? (o: LaneOptions) => this.startLane(o) : undefined;

  /** A lane's first process mounts each test's tmpfs with its user namespace's capabilities, which bwrap leaves only to root. */
  private async startLane(o: LaneOptions): Promise<Lane> {
    if (!launcherPath()) throw new SandboxFault('build/runtools-launch is missing', { beforeStart: true });
    const args = this.sandboxArgs({ ...o, tools: [{ runtime: o.runtime, tool: o.tool }], readOnlyPaths: [], writableOut: false, cwd: WORK, lane: true });
    const launch = [LAUNCHER, '-L', '-W', `${o.workBytes}:${o.workInodes}`, '-T', String(o.limits.tmpBytes), '-n'];
    // The lane's own process is in the group beside each test's: one more than a sandbox's.
    const limits = { ...o.limits, pids: o.limits.pids + 1 };
    let started;
    try {
      started = await this.start({ args: [...args, '--', ...launch], cgroupName: `${INSTANCE_TAG}${randomBytes(9).toString('base64url')}-lane`, limits, fds: 'rww' });
    } catch (err) {
      throw new SandboxFault(`could not start a lane: ${(err as Error).message}`, { beforeStart: true, cause: err });
    }
    const { child, cgroup } = started;
    return new SandboxLane(child, cgroup, () => this.killTree(cgroup)(child), o.outputLimitBytes, WORK);
  }

  /** Supervises a started sandbox (`release` lets a prepared one go); its result waits for its cgroup to empty. */
  private supervise(child: SpawnedChild, cgroup: Cgroup | null, spec: SandboxSpawn, release?: (child: Child) => Promise<void>) {
    return supervise({
      child,
      argv: [this.bwrap!],
      stdin: spec.stdin,
      timeoutMs: spec.timeoutMs,
      outputLimitBytes: spec.outputLimitBytes,
      signal: spec.signal,
      onOutput: spec.onOutput,
      onSpawn: release,
      killTree: this.killTree(cgroup),
      report: (c) => c.stdio[STATUS_FD] as Readable | null,
      settle: () => settle(cgroup),
    });
  }

  // ---- sandboxes prepared ahead of requests (pool.ts keeps them; this builds and runs them) ----

  private readonly pool = new SandboxPool<Prepared>({
    build: (o, interpreter) => this.prepare(o, interpreter),
    discard: (p, removeWs) => this.discard(p, removeWs),
  });

  /** Prepared sandboxes waiting, by what waits in them: a runtime's interpreter, or `launcher`. */
  pooled(): Record<string, number> {
    return this.pool.counts();
  }

  /** Executions that ran in an interpreter started ahead of them. */
  get interpreterStarts(): number {
    return this.pool.interpreterStarts;
  }

  keepPrepared(options: PoolOptions): void {
    if (launcherPath()) this.pool.keep(options);
  }

  workspace(workRoot: string, interpreter?: string): Promise<Workspace> {
    return this.pool.workspace(workRoot, interpreter);
  }

  release(ws: Workspace): Promise<void> {
    return this.pool.release(ws);
  }

  async close(): Promise<void> {
    await this.pool.close();
    this.spawner?.close();
  }

  /**
   * Builds a sandbox around a fresh workspace and leaves it waiting for the execution's spec: in
   * the launcher, or in `interpreter` started as far as its start-up hook.
   */
  private async prepare(o: PoolOptions, interpreter: StartedInterpreter | null): Promise<Prepared> {
    const ws = await createWorkspace(o.workRoot);
    const args = this.sandboxArgs({
      limits: o.limits, tools: o.tools, readOnlyPaths: [], dirs: ws.dirs, writableOut: false, cwd: WORK,
      hook: interpreter?.hostDir,
    });
    if (interpreter) {
      const env = { ...interpreter.env, ...interpreter.hookEnv(AHEAD_HOOK, SPEC_FD) };
      args.push(...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]), '--', ...LAUNCH, '--', ...interpreter.argv);
    } else {
      args.push('--', ...LAUNCH, '-w', String(SPEC_FD));
    }
    let started;
    try {
      started = await this.start({ args, cgroupName: `${ws.id}-run`, limits: o.limits, spec: true });
    } catch (err) {
      await removeWorkspace(ws);
      throw err;
    }
    const { child } = started;
    return {
      ws, ...started, interpreter, limits: o.limits, tools: new Set(o.tools.map((t) => t.tool.bin)),
      alive: () => child.exitCode === null && child.signalCode === null,
    };
  }

  private fits(p: Prepared, spec: SandboxSpawn): boolean {
    const a = p.limits;
    const b = spec.limits;
    // A waiting interpreter stands for exactly one command: its own, in the work dir.
    const i = p.interpreter;
    if (i && (spec.runtime !== i.runtime || spec.cwd || spec.argv.length !== i.argv.length || spec.argv.some((arg, k) => arg !== i.argv[k]))) return false;
    return (
      !spec.writableOut && spec.readOnlyPaths.length === 0 && p.tools.has(spec.tool.bin) &&
      a.memoryBytes === b.memoryBytes && a.pids === b.pids && a.fileSizeBytes === b.fileSizeBytes &&
      a.openFiles === b.openFiles && a.tmpBytes === b.tmpBytes
    );
  }

  private runPrepared(p: Prepared, spec: SandboxSpawn): Promise<ProcessOutcome> {
    const cwd = workCwd(spec.cwd);
    const launch = launchSpec(cwd, { ...spec.env, PWD: cwd }, spec.argv);
    return this.supervise(p.child, p.cgroup, spec, async (child) => {
      const fd = child.stdio[SPEC_FD] as Writable;
      fd.on('error', () => {});
      fd.end(launch);
    });
  }

  /** Stops a prepared sandbox: kills it and closes our ends of its pipes. */
  private async discard(p: Prepared, removeWs = true): Promise<void> {
    this.killTree(p.cgroup)(p.child);
    for (const s of p.child.stdio) s?.destroy();
    await p.cgroup?.destroy();
    if (removeWs) await removeWorkspace(p.ws);
  }
}

/** A sandbox built ahead of a request, its launcher (or interpreter) waiting on SPEC_FD. */
interface Prepared extends PreparedSandbox {
  child: SpawnedChild;
  cgroup: Cgroup | null;
  limits: ResourceLimits;
  /** Toolchain binaries it exposes. */
  tools: Set<string>;
}

function hasOverlayfs(): boolean {
  try {
    return /\toverlay$/m.test(readFileSync('/proc/filesystems', 'utf8'));
  } catch {
    return false;
  }
}

/** The program's working directory inside the sandbox. */
const workCwd = (relative?: string) => (relative ? path.posix.join(WORK, relative) : WORK);

const PF_EXITING = 0x4;

/**
 * Done with a listed process once it is reaped, or when it is a sandbox's bwrap or its launcher
 * (PID 1) already inside exit(): the status is out before the kernel tears the namespaces down,
 * which takes a few ms more, and neither runs anything of the program's.
 */
function over(pid: number): boolean {
  const info = processInfo(pid);
  return info === null || ((info.comm === 'bwrap' || info.comm === path.posix.basename(LAUNCHER)) && (info.flags & PF_EXITING) !== 0);
}

/** Waits until no process of the phase is left, reads its accounting, then removes its cgroup in the background. */
async function settle(cgroup: Cgroup | null) {
  if (!cgroup) return null;
  await cgroup.emptied(over);
  const usage = cgroup.usage();
  void cgroup.destroy();
  return usage;
}


