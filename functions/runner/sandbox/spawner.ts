import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants as fsc, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Child } from '../supervise.js';
import { signalName } from '../status.js';
import type { Overlay } from './types.js';

/** What to start: argv[0] is a full path (no PATH search); `fds` has one letter per child descriptor. */
export interface SpawnRequest {
  argv: readonly string[];
  env: Record<string, string>;
  cwd: string;
  /** 'r' for a descriptor the child reads (we write it), 'w' for one it writes (we read it): "rww" is stdio. */
  fds: string;
  openFiles: number;
  fileSizeBytes: number;
  /** overlayfs mounts made in a private mount namespace before argv starts (root only). */
  overlays?: readonly Overlay[];
  /** cgroup.procs files the process moves itself into before argv starts. */
  cgroups?: readonly string[];
}

const ERRNOS = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** A process started by the spawner: the part of ChildProcess that supervision uses. */
export class SpawnedChild extends EventEmitter implements Child {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private openReaders: number;
  private exited = false;

  constructor(
    readonly pid: number,
    readonly stdio: Array<Socket | null>,
    readers: Socket[],
  ) {
    super();
    this.openReaders = readers.length;
    for (const r of readers) {
      r.on('error', () => {});
      r.once('close', () => {
        this.openReaders--;
        this.maybeClose();
      });
    }
    for (const s of stdio) s?.on('error', () => {});
  }

  get stdin() {
    return this.stdio[0] ?? null;
  }
  get stdout() {
    return this.stdio[1] ?? null;
  }
  get stderr() {
    return this.stdio[2] ?? null;
  }

  /** @internal The spawner reaped it. */
  ended(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.exited && this.openReaders === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}

/**
 * Starts processes through `runtools-spawn` (functions/runner/sandbox/launcher/spawn.c), a small
 * long-lived helper: forking a ~100 MB Node server for every sandbox costs it several ms of CPU in
 * page-table copies and copy-on-write faults; forking the helper costs a fraction of that. The
 * helper creates the pipes; we open our ends through /proc/<helper>/fd, then it closes its copies.
 */
export class Spawner {
  private proc: ChildProcess | null = null;
  private seq = 0;
  private readonly waiting = new Map<string, { req: SpawnRequest; resolve(c: SpawnedChild): void; reject(e: Error): void }>();
  private readonly running = new Map<number, SpawnedChild>();
  /** Mounts and unmounts waiting for their `D` line. */
  private readonly ops = new Map<string, { resolve(): void; reject(e: Error): void }>();
  private closed = false;

  constructor(private readonly binary: string) {}

  spawn(req: SpawnRequest): Promise<SpawnedChild> {
    const entries = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
    const tag = String(++this.seq);
    const overlays = req.overlays ?? [];
    const mounts = overlays.flatMap((o) => [o.lower, o.upper, o.work, o.target]);
    if (mounts.some((m) => m.includes(',') || m.includes(':'))) return Promise.reject(new Error('overlay paths must not contain "," or ":"'));
    const cgroups = req.cgroups ?? [];
    const fields = ['S', tag, req.fds, String(req.openFiles), String(req.fileSizeBytes), req.cwd, String(cgroups.length), ...cgroups, String(overlays.length), ...mounts, String(entries.length), ...entries, ...req.argv];
    if (fields.some((f) => f.includes('\0'))) return Promise.reject(new Error('arguments and environment must not contain NUL bytes'));
    if (!/^[rw]{1,16}$/.test(req.fds)) return Promise.reject(new Error(`bad descriptor list: ${req.fds}`));
    if (this.closed) return Promise.reject(new Error('the sandbox spawner is closed'));
    const proc = this.started();
    return new Promise((resolve, reject) => {
      this.waiting.set(tag, { req, resolve, reject });
      this.reference();
      proc.stdin!.write(frame(fields));
    });
  }

  /** Mounts a workspace's own tmpfs of `bytes` and `inodes` on `path` (the helper runs as root). */
  mount(path: string, bytes: number, inodes: number): Promise<void> {
    return this.op(['M', String(++this.seq), path, String(bytes), String(inodes)], `mounting a workspace on ${path}`);
  }

  /** Unmounts a workspace's tmpfs (lazily when still busy). */
  unmount(path: string): Promise<void> {
    return this.op(['U', String(++this.seq), path], `unmounting ${path}`);
  }

  private op(fields: string[], what: string): Promise<void> {
    if (fields.some((f) => f.includes('\0'))) return Promise.reject(new Error(`${what}: NUL in a path`));
    if (this.closed) return Promise.reject(new Error('the sandbox spawner is closed'));
    const proc = this.started();
    return new Promise((resolve, reject) => {
      this.ops.set(fields[1]!, {
        resolve,
        reject: (e) => reject(Object.assign(new Error(`${what}: ${e.message}`), { code: e.message })),
      });
      this.reference();
      proc.stdin!.write(frame(fields));
    });
  }

  /** Stops the helper for good; processes it started die with it (bwrap --die-with-parent). */
  close(): void {
    this.closed = true;
    this.proc?.stdin?.end();
    this.proc = null;
  }

  private started(): ChildProcess {
    if (this.proc) return this.proc;
    // Nothing of the server's environment: the helper passes each child exactly the env it is given.
    const proc = spawn(this.binary, [], { stdio: ['pipe', 'pipe', 'inherit'], env: {} });
    this.proc = proc;
    proc.on('error', () => {});
    proc.stdin!.on('error', () => {});
    let pending = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.answer(pending.slice(0, nl), proc.pid!);
        pending = pending.slice(nl + 1);
      }
    });
    proc.on('exit', () => {
      if (this.proc === proc) this.proc = null;
      const err = new Error('the sandbox spawner stopped');
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
      for (const o of this.ops.values()) o.reject(err);
      this.ops.clear();
      // Its processes die with it (--die-with-parent); nobody is left to report them.
      for (const child of this.running.values()) child.ended(null, 'SIGKILL');
      this.running.clear();
    });
    // An idle helper must not keep the process alive; a spawn in flight or a running child must.
    proc.unref();
    this.reference();
    return proc;
  }

  /** Keeps the process alive while a spawn is in flight or a child may still report its exit. */
  private reference(): void {
    const out = this.proc?.stdout as Socket | undefined;
    if (this.waiting.size > 0 || this.running.size > 0 || this.ops.size > 0) out?.ref();
    else out?.unref();
    (this.proc?.stdin as Socket | undefined)?.unref();
  }

  private answer(line: string, helperPid: number): void {
    const [kind, a, ...rest] = line.split(' ');
    if (kind === 'X') {
      const child = this.running.get(Number(a));
      this.running.delete(Number(a));
      this.reference();
      const code = Number(rest[0]);
      child?.ended(code >= 0 ? code : null, code >= 0 ? null : ((signalName(Number(rest[1])) ?? 'SIGKILL') as NodeJS.Signals));
      return;
    }
    if (kind === 'D') {
      const o = this.ops.get(a!);
      this.ops.delete(a!);
      this.reference();
      const errno = Number(rest[0]);
      if (errno === 0) o?.resolve();
      else o?.reject(new Error(ERRNOS.get(errno) ?? `errno ${errno}`));
      return;
    }
    const w = this.waiting.get(a!);
    if (!w) return;
    this.waiting.delete(a!);
    this.reference();
    if (kind === 'F') {
      w.reject(new Error(ERRNOS.get(Number(rest[0])) ?? `errno ${rest[0]}`));
      return;
    }
    const pid = Number(rest[0]);
    const stdio: Array<Socket | null> = [];
    const readers: Socket[] = [];
    rest.slice(1).forEach((fd, i) => {
      const s = openEnd(`/proc/${helperPid}/fd/${fd}`, w.req.fds[i] === 'w');
      stdio.push(s);
      if (s && w.req.fds[i] === 'w') readers.push(s);
    });
    this.proc?.stdin!.write(frame(['R', a!]));
    const child = new SpawnedChild(pid, stdio, readers);
    this.running.set(pid, child);
    this.reference();
    w.resolve(child);
  }
}

/** Our end of one of the child's pipes, as a stream. */
function openEnd(file: string, read: boolean): Socket | null {
  try {
    if (read) return new Socket({ fd: openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK), readable: true, writable: false });
    let fd: number;
    try {
      fd = openSync(file, fsc.O_WRONLY | fsc.O_NONBLOCK);
    } catch {
      // ENXIO: the child has already closed its end; a stream nobody reads stands in for it.
      fd = openSync(file, fsc.O_RDWR | fsc.O_NONBLOCK);
    }
    return new Socket({ fd, readable: false, writable: true });
  } catch {
    return null;
  }
}

function frame(fields: string[]): Buffer {
  const body = Buffer.from(fields.map((f) => `${f}\0`).join(''));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}
