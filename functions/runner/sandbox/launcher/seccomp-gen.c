/*
 * seccomp-gen: writes the syscall filters of runtools-launch as a C header (stdout), built with
 * libseccomp when the launcher is built, so the launcher itself needs no library and loads a
 * ready BPF program with one prctl.
 *
 * The anchor is Docker's default profile (moby/profiles/seccomp/default.json): every call it
 * refuses to an unprivileged container is refused here, as a denylist over everything else so
 * that every toolchain keeps working. A refused call returns EPERM, never a kill, so programs
 * report a clear error; clone3 answers ENOSYS, which makes glibc fall back to clone (whose
 * namespace flags are checked, clone3's struct cannot be). System calls of another ABI (i386
 * through int 0x80, x32) answer ENOSYS.
 *
 * Two profiles: FILTER_NET leaves sockets alone; FILTER_NONET also refuses AF_INET, AF_INET6,
 * AF_PACKET and AF_VSOCK sockets (Unix sockets stay), for sandboxes without network.
 *   cc -O2 -o seccomp-gen seccomp-gen.c -lseccomp && ./seccomp-gen > seccomp-filters.h
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Refused with EPERM: kernel surface no program needs (Docker refuses them without capabilities). */
static const char *const DENIED[] = {
    /* another process's memory and state; signals through a pidfd, which may be any process's
       /proc/<pid> directory, so no pid can be checked (Go then signals by pid) */
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_send_signal",
    /* mounts and namespaces */
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    /* kernel keyrings */
    "add_key", "request_key", "keyctl",
    /* eBPF, perf, userfaultfd, io_uring (whose operations seccomp cannot see) */
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    /* kernel images and modules */
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
    "get_kernel_syms", "query_module",
    /* file handles (open_by_handle_at escaped Docker once) */
    "open_by_handle_at", "name_to_handle_at",
    /* the machine itself */
    "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "nfsservctl", "lookup_dcookie",
    "uselib", "ustat", "sysfs", "_sysctl", "vhangup", "syslog",
    /* clocks */
    "settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64",
    /* hardware ports, old vm86 */
    "iopl", "ioperm", "vm86", "vm86old",
    /* memory policy of other processes; fanotify (needs CAP_SYS_ADMIN anyway) */
    "move_pages", "fanotify_init",
};

/* clone flags that create namespaces. */
static const unsigned long CLONE_NS[] = {
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

/* Socket families refused without network. */
static const int INET_FAMILIES[] = {AF_INET, AF_INET6, AF_PACKET, AF_VSOCK};

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "seccomp-gen: %s: %s\n", what, strerror(-rc));
    exit(1);
  }
}

static void deny(scmp_filter_ctx ctx, const char *name, int err, unsigned count, const struct scmp_arg_cmp *cmp) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return; /* not a system call of this architecture */
  check(seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), nr, count, cmp), name);
}

static void emit(const char *name, int network) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) {
    fprintf(stderr, "seccomp-gen: seccomp_init failed\n");
    exit(1);
  }
  check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(ENOSYS)), "bad arch action");
  /* The launcher sets no_new_privs itself. */
  check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "no_new_privs");
  /* A binary tree of syscall numbers: a few comparisons per call instead of one per rule. */
  check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "optimize");

  for (size_t i = 0; i < sizeof DENIED / sizeof *DENIED; i++) deny(ctx, DENIED[i], EPERM, 0, NULL);
  deny(ctx, "clone3", ENOSYS, 0, NULL);
  for (size_t i = 0; i < sizeof CLONE_NS / sizeof *CLONE_NS; i++) {
    struct scmp_arg_cmp cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS[i], CLONE_NS[i]);
    deny(ctx, "clone", EPERM, 1, &cmp);
  }
  if (!network) {
    for (size_t i = 0; i < sizeof INET_FAMILIES / sizeof *INET_FAMILIES; i++) {
      /* The family is an int: compare its low 32 bits, whatever the caller left above them. */
      struct scmp_arg_cmp cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t)INET_FAMILIES[i]);
      deny(ctx, "socket", EPERM, 1, &cmp);
    }
  }

  /* Export the BPF program through a pipe and print it as a C array. */
  int fds[2];
  if (pipe(fds) != 0) {
    perror("seccomp-gen: pipe");
    exit(1);
  }
  check(seccomp_export_bpf(ctx, fds[1]), "export");
  close(fds[1]);
  unsigned char buf[1 << 16];
  size_t len = 0;
  for (ssize_t n; (n = read(fds[0], buf + len, sizeof buf - len)) > 0;) len += (size_t)n;
  close(fds[0]);
  if (len == 0 || len % 8 != 0 || len == sizeof buf) {
    fprintf(stderr, "seccomp-gen: unexpected filter size %zu\n", len);
    exit(1);
  }
  printf("static const struct sock_filter %s[] = {\n", name);
  for (size_t off = 0; off < len; off += 8) {
    unsigned short code;
    unsigned char jt, jf;
    unsigned int k;
    memcpy(&code, buf + off, 2);
    jt = buf[off + 2];
    jf = buf[off + 3];
    memcpy(&k, buf + off + 4, 4);
    printf("  {0x%04x, %u, %u, 0x%08x},\n", code, jt, jf, k);
  }
  printf("};\n\n");
  seccomp_release(ctx);
}

int main(void) {
  printf("/* Generated by seccomp-gen.c with libseccomp %u.%u.%u: do not edit. */\n\n",
         seccomp_version()->major, seccomp_version()->minor, seccomp_version()->micro);
  emit("FILTER_NET", 1);
  emit("FILTER_NONET", 0);
  return 0;
}
