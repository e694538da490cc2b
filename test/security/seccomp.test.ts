import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestRunner } from '../helpers/runner.js';
import { hostileRunner } from './harness.js';

/*
 * The seccomp layer under every sandbox (functions/runner/sandbox/launcher/: the filters are
 * generated with libseccomp at build time, the launcher loads them before exec). One probe per
 * refused call, made through the raw syscall interface (Python ctypes on x86_64), so no library
 * wrapper can hide the kernel's answer. The same probe runs on the host as a control: the calls
 * that succeed or fail differently there show it is the filter that refuses them in the sandbox.
 */

const PROBE = String.raw`import ctypes, errno, json, mmap, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
buf = ctypes.create_string_buffer(256)
p = ctypes.addressof(buf)
out = {}
out["ptrace"] = sc(101, 0, 0, 0, 0)  # PTRACE_TRACEME
out["process_vm_readv"] = sc(310, os.getpid(), p, 1, p, 1, 0)
out["process_vm_writev"] = sc(311, os.getpid(), p, 1, p, 1, 0)
out["mount"] = sc(165, 0, p, 0, 0, 0)
out["umount2"] = sc(166, p, 0)
out["pivot_root"] = sc(155, p, p)
out["unshare"] = sc(272, 0x10000000)  # CLONE_NEWUSER
out["setns"] = sc(308, 0, 0)
out["add_key"] = sc(248, p, p, 0, 0, 0)
out["request_key"] = sc(249, p, p, 0, 0)
out["keyctl"] = sc(250, 0, 0)
out["bpf"] = sc(321, 0, p, 0)
out["perf_event_open"] = sc(298, p, 0, -1, -1, 0)
out["userfaultfd"] = sc(323, 0)
out["kexec_load"] = sc(246, 0, 0, 0, 0)
out["kexec_file_load"] = sc(320, -1, -1, 0, p, 0)
out["init_module"] = sc(175, p, 0, p)
out["finit_module"] = sc(313, -1, p, 0)
out["delete_module"] = sc(176, p, 0)
out["open_by_handle_at"] = sc(304, -1, p, 0)
out["name_to_handle_at"] = sc(303, -100, p, p, p, 0)
out["swapon"] = sc(167, p, 0)
out["swapoff"] = sc(168, p)
out["reboot"] = sc(169, 0, 0, 0, 0)
out["acct"] = sc(163, 0)
out["settimeofday"] = sc(164, p, 0)
out["clock_settime"] = sc(227, 0, p)
out["clock_adjtime"] = sc(305, 0, p)
out["iopl"] = sc(172, 0)
out["ioperm"] = sc(173, 0, 1, 0)
out["personality"] = sc(135, 0x0040000)  # ADDR_COMPAT_LAYOUT
out["io_uring_setup"] = sc(425, 1, p)
out["kcmp"] = sc(312, os.getpid(), os.getpid(), 0, 0, 0)
out["pidfd_send_signal"] = sc(424, os.open("/proc/self", os.O_RDONLY), 0, 0, 0)  # signal 0 to itself
out["clone_newuser"] = sc(56, 0x10000000 | 17, 0, 0, 0, 0)  # CLONE_NEWUSER | SIGCHLD
out["clone3"] = sc(435, p, 88)
for name, fam in [("inet", 2), ("inet6", 10), ("packet", 17), ("vsock", 40)]:
    out["socket_" + name] = sc(41, fam, 1 if fam != 17 else 3, 0)
    # The family with garbage in the upper half of the register: only the low 32 bits count.
    out["socket_" + name + "_high"] = sc(41, fam | (1 << 40), 1 if fam != 17 else 3, 0)
out["socket_unix"] = sc(41, 1, 1, 0)
out["x32_getpid"] = sc(0x40000000 | 39)
# i386 getpid through int 0x80 from this 64-bit process: mov eax, 20; int 0x80; ret
code = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
code.write(bytes([0xb8, 0x14, 0, 0, 0, 0xcd, 0x80, 0xc3]))
addr = ctypes.addressof(ctypes.c_char.from_buffer(code))
r = ctypes.CFUNCTYPE(ctypes.c_int)(addr)()
out["int80_getpid"] = "ok" if r >= 0 else errno.errorcode.get(-r, str(-r))
print(json.dumps(out))`;

/** What the filter answers for each probe: EPERM, ENOSYS where glibc needs it (clone3) or the ABI is refused. */
const REFUSED: Record<string, string> = {
  ptrace: 'EPERM', process_vm_readv: 'EPERM', process_vm_writev: 'EPERM', mount: 'EPERM', umount2: 'EPERM',
  pivot_root: 'EPERM', unshare: 'EPERM', setns: 'EPERM', add_key: 'EPERM', request_key: 'EPERM', keyctl: 'EPERM',
  bpf: 'EPERM', perf_event_open: 'EPERM', userfaultfd: 'EPERM', kexec_load: 'EPERM', kexec_file_load: 'EPERM',
  init_module: 'EPERM', finit_module: 'EPERM', delete_module: 'EPERM', open_by_handle_at: 'EPERM',
  name_to_handle_at: 'EPERM', swapon: 'EPERM', swapoff: 'EPERM', reboot: 'EPERM', acct: 'EPERM', settimeofday: 'EPERM',
  clock_settime: 'EPERM', clock_adjtime: 'EPERM', iopl: 'EPERM', ioperm: 'EPERM', personality: 'EPERM',
  io_uring_setup: 'EPERM', kcmp: 'EPERM', pidfd_send_signal: 'EPERM', clone_newuser: 'EPERM', clone3: 'ENOSYS',
  socket_inet: 'EPERM', socket_inet_high: 'EPERM', socket_inet6: 'EPERM', socket_inet6_high: 'EPERM',
  socket_packet: 'EPERM', socket_packet_high: 'EPERM', socket_vsock: 'EPERM', socket_vsock_high: 'EPERM',
  socket_unix: 'ok', x32_getpid: 'ENOSYS', int80_getpid: 'ENOSYS',
};

const onX86 = process.arch === 'x64';

describe.runIf(onX86).each(['bwrap', 'process'] as const)('seccomp filter (%s sandbox)', (sandbox) => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await hostileRunner({ sandbox });
  });
  afterAll(() => t.dispose());

  it('refuses every call of the denylist with a clear errno, and the program goes on', async () => {
    const r = await t.run({ runtime: 'python', code: PROBE, timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r).toMatchObject({ exitCode: 0, status: 'ok' });
    expect(JSON.parse(r.stdout)).toEqual(REFUSED);
  });
});

describe.runIf(onX86)('seccomp filter in process mode with network (RUNTOOLS_NETWORK=internet)', () => {
  let t: TestRunner;
  beforeAll(async () => {
    t = await hostileRunner({ sandbox: 'process', network: true });
  });
  afterAll(() => t.dispose());

  it('lets inet sockets through, and refuses everything else as without network', async () => {
    const r = await t.run({ runtime: 'python', code: PROBE, timeout: 20_000 });
    expect(r).toMatchObject({ exitCode: 0, status: 'ok' });
    const sockets = ['socket_inet', 'socket_inet_high', 'socket_inet6', 'socket_inet6_high'];
    const seen = JSON.parse(r.stdout) as Record<string, string>;
    for (const call of sockets) expect(seen[call], call).toBe('ok');
    // AF_PACKET and AF_VSOCK stay refused without network only; with it the kernel answers.
    const rest = Object.keys(REFUSED).filter((c) => !sockets.includes(c) && !/packet|vsock/.test(c));
    for (const call of rest) expect(seen[call], call).toBe(REFUSED[call]);
  });
});

describe.runIf(onX86)('seccomp filter: control run on the host, without it', () => {
  it('the same probe gets other answers for the calls a plain process may make', () => {
    const host = JSON.parse(execFileSync('/usr/bin/python3', ['-c', PROBE], { encoding: 'utf8' })) as Record<string, string>;
    // Allowed to any process: the filter is what refuses them in the sandbox.
    for (const call of ['ptrace', 'process_vm_readv', 'personality', 'kcmp', 'pidfd_send_signal', 'socket_inet', 'socket_inet6', 'socket_inet_high', 'socket_unix', 'int80_getpid']) {
      expect(host[call], call).toBe('ok');
    }
    expect(host.clone3).not.toBe('ENOSYS');
    // Most refused calls fail on the host too (no privilege, bad arguments), but with other errors.
    const differ = Object.keys(REFUSED).filter((call) => host[call] !== REFUSED[call]);
    expect(differ.length).toBeGreaterThanOrEqual(25);
  });
});
