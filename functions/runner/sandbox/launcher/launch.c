/*
 * runtools-launch: the first process of every execution. In a bwrap sandbox it is PID 1; in
 * process mode (Lambda, Fargate) it is the program's parent. It starts the program under the
 * seccomp filter, waits for it, and reports how it ended on a descriptor the program cannot
 * reach: the launcher is not dumpable (no /proc/<pid>/fd, mem or environ for anyone without
 * CAP_SYS_PTRACE), cannot be traced (the program's filter refuses ptrace) and cannot be
 * signalled or re-limited by the program (PID 1 of its namespace, and the filter below).
 *
 *   runtools-launch [-s FD] [-w FD] [-n] [-p] [-o NOFILE] [-f FSIZE] [-- argv...]
 *     -s FD    report on FD once the program has ended:
 *                "E <code> <signal> <user µs> <system µs> <max RSS KiB>\n"
 *              code is -1 when a signal ended it; the times and the RSS cover every descendant
 *              the launcher reaped (with -p it adopts orphans, as PID 1 does anyway)
 *     -w FD    read the program's spec from FD first (cwd, number of env entries, the env
 *              entries, argv; NUL-separated): a prepared sandbox waits here for its execution
 *     -n       no network: refuse AF_INET, AF_INET6, AF_PACKET and AF_VSOCK sockets
 *     -p       process mode: the program gets its own process group; this process and its
 *              ancestors are protected from it; orphans are adopted (child subreaper)
 *     -o, -f   RLIMIT_NOFILE and RLIMIT_FSIZE for the program (core dumps are always off)
 * Without -w the program is argv after "--", with this process's environment and cwd.
 * Exits with the program's status (128+N for signal N).
 *
 *   runtools-launch -L -W BYTES:INODES -T BYTES [-n]
 *     a lane: PID 1 of a sandbox that runs a test suite's tests one after another, each in a
 *     fresh mount and IPC namespace with fresh tmpfs at /work (a copy of the files bound at
 *     /work; -W its size and inodes), /tmp and /dev/shm (-T), and every process of a test
 *     killed before the next starts. It keeps its capabilities (its own user namespace's, for
 *     those mounts); each test drops them all before anything of the test runs. Frames
 *     (a type byte, a 32-bit little-endian length, the payload) on stdin:
 *       T  a test: its stdin's length (32-bit), its stdin, the length of its own files (32-bit),
 *          its files (a count, then each: name length, name, size, content; 32-bit lengths),
 *          written into its /work over the copy, then a spec as -w reads it
 *       K  kill the test in progress
 *     and on stdout: o / e (a chunk of the test's stdout / stderr), R (the test is over and all
 *     its processes are gone: the launcher's report line, or nothing when the test was killed).
 *     End of stdin ends the lane.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <dirent.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp-filters.h"

#define MAX_SPEC (16 * 1024 * 1024)
#define MAX_PROTECTED 64

extern char **environ;

static void die(const char *what) {
  dprintf(2, "runtools-launch: %s: %s\n", what, strerror(errno));
  _exit(127);
}

/* ---- the spec of a prepared sandbox ---- */

struct spec {
  const char *cwd;
  char **envp;
  char **argv;
};

static void parse_spec(char *buf, size_t len, struct spec *s);

static void read_spec(int fd, struct spec *s) {
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!buf) die("malloc");
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_SPEC) { errno = E2BIG; die("spec"); }
      cap *= 2;
      if (!(buf = realloc(buf, cap))) die("realloc");
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read spec");
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (len == 0) _exit(0); /* the sandbox was discarded unused */
  parse_spec(buf, len, s);
}

/* cwd, number of env entries, the entries, argv: NUL-terminated fields filling buf. */
static void parse_spec(char *buf, size_t len, struct spec *s) {
  if (len == 0 || buf[len - 1] != '\0') { errno = EINVAL; die("spec"); }
  size_t count = 0;
  for (size_t i = 0; i < len; i++) count += buf[i] == '\0';
  char **fields = calloc(count + 1, sizeof(char *));
  if (!fields) die("calloc");
  size_t k = 0;
  for (char *p = buf; p < buf + len; p += strlen(p) + 1) fields[k++] = p;
  if (count < 3) { errno = EINVAL; die("spec"); }
  size_t nenv = strtoul(fields[1], NULL, 10);
  if (2 + nenv >= count) { errno = EINVAL; die("spec"); }
  s->cwd = fields[0];
  s->envp = calloc(nenv + 1, sizeof(char *));
  if (!s->envp) die("calloc");
  memcpy(s->envp, &fields[2], nenv * sizeof(char *));
  s->argv = &fields[2 + nenv];
}

/* ---- what the program may not do to us ---- */

/*
 * Calls that act on another process named by their first argument, which the program must not
 * aim at the launcher or its ancestors. The kernel allows them between processes of the same user.
 */
static const int BY_PID[] = {
    SYS_kill, SYS_tkill, SYS_tgkill, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo, SYS_pidfd_open, SYS_prlimit64,
    SYS_sched_setaffinity, SYS_sched_setscheduler, SYS_sched_setparam, SYS_sched_setattr, SYS_migrate_pages,
};

#ifdef __x86_64__
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "unsupported architecture"
#endif

/* The low 32 bits of a syscall argument (pids are ints: the kernel ignores the upper half). */
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))

/* personality() values Docker allows: query, Linux, UNAME26, ADDR_NO_RANDOMIZE and its mix. */
static const __u32 PERSONALITIES[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/*
 * Owners of a descriptor's SIGIO/SIGURG (and with F_SETSIG, of any signal, SIGKILL included):
 * another way to signal a process. F_SETOWN's pid is checked; F_SETOWN_EX and the ioctls take a
 * pointer the filter cannot read, so they are refused.
 */
#define F_SETOWN_CMD 8
#define F_SETOWN_EX_CMD 15
#define FIOSETOWN_CMD 0x8901
#define SIOCSPGRP_CMD 0x8902

/* A small BPF assembler: jump targets are labels, resolved once every label's position is known. */
enum label { NEXT, PERS, PRIO, IOPRIO, FCNTL, IOCTL, ARG2, ARG1, ARG0, LABELS };
struct insn {
  struct sock_filter f;
  enum label jt, jf;
};

struct guard {
  struct insn code[256];
  size_t n;
  size_t at[LABELS];
};

static void put(struct guard *g, struct sock_filter f, enum label jt, enum label jf) {
  if (g->n == sizeof g->code / sizeof *g->code) { errno = E2BIG; die("guard filter"); }
  g->code[g->n++] = (struct insn){.f = f, .jt = jt, .jf = jf};
}
#define LD(g, off) put(g, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)), NEXT, NEXT)
#define RET(g, v) put(g, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (v)), NEXT, NEXT)
/* Jumps to labels (NEXT: the next instruction). */
#define JEQ(g, v, jt, jf) put(g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), 0, 0), (jt), (jf))
/* Skips a number of instructions (a block's own returns). */
#define JEQ_SKIP(g, v, jt, jf) put(g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (v), (jt), (jf)), NEXT, NEXT)

static unsigned char offset(const struct guard *g, size_t from, enum label to) {
  size_t d = g->at[to] - from - 1;
  if (g->at[to] <= from || d > 255) { errno = ERANGE; die("guard filter jump"); }
  return (unsigned char)d;
}

/* Refuses the calls aimed at any of `values` (pids and negated pgids) in argument `arg`, else allows. */
static void aimed(struct guard *g, enum label at, int arg, const __u32 *values, size_t nvalues) {
  g->at[at] = g->n;
  LD(g, ARG_LO(arg));
  for (size_t v = 0; v < nvalues; v++) JEQ_SKIP(g, values[v], (unsigned char)(nvalues - v), 0);
  RET(g, SECCOMP_RET_ALLOW);
  RET(g, SECCOMP_RET_ERRNO | EPERM);
}

/*
 * A second filter, built here because it depends on this process: refuses (EPERM) the BY_PID
 * calls, setpriority, ioprio_set and F_SETOWN aimed at any of `values` (pids and negated pgids),
 * the descriptor-owner calls the filter cannot check, setpriority/ioprio_set on a whole user
 * (which reaches the runner in process mode), and personality() values other than Docker's. A
 * dispatch on the syscall number leads to one shared check per argument position, so its size
 * grows with the number of values, not with calls times values.
 */
static void load_guard(const __u32 *values, size_t nvalues) {
  static struct guard g;
  const __u32 allow = SECCOMP_RET_ALLOW, eperm = SECCOMP_RET_ERRNO | EPERM;
  enum { NPERS = sizeof PERSONALITIES / sizeof *PERSONALITIES };
  LD(&g, offsetof(struct seccomp_data, arch));
  JEQ_SKIP(&g, ARCH, 1, 0);
  RET(&g, allow); /* another ABI: the generated filter answers it */
  LD(&g, offsetof(struct seccomp_data, nr));
  JEQ(&g, SYS_personality, PERS, NEXT);
  JEQ(&g, SYS_setpriority, PRIO, NEXT);
  JEQ(&g, SYS_ioprio_set, IOPRIO, NEXT);
  JEQ(&g, SYS_fcntl, FCNTL, NEXT);
  JEQ(&g, SYS_ioctl, IOCTL, NEXT);
  for (size_t c = 0; c < sizeof BY_PID / sizeof *BY_PID; c++) JEQ(&g, (__u32)BY_PID[c], ARG0, NEXT);
  RET(&g, allow);
  /* personality: only Docker's values */
  g.at[PERS] = g.n;
  LD(&g, ARG_LO(0));
  for (size_t i = 0; i < NPERS; i++) JEQ_SKIP(&g, PERSONALITIES[i], (unsigned char)(NPERS - i), 0);
  RET(&g, eperm);
  RET(&g, allow);
  /* setpriority(PRIO_USER = 2, ...), ioprio_set(IOPRIO_WHO_USER = 3, ...): every process of the user; else the pid */
  g.at[PRIO] = g.n;
  LD(&g, ARG_LO(0));
  JEQ(&g, 2, NEXT, ARG1);
  RET(&g, eperm);
  g.at[IOPRIO] = g.n;
  LD(&g, ARG_LO(0));
  JEQ(&g, 3, NEXT, ARG1);
  RET(&g, eperm);
  /* fcntl(fd, F_SETOWN, pid): the pid checked; F_SETOWN_EX: refused */
  g.at[FCNTL] = g.n;
  LD(&g, ARG_LO(1));
  JEQ(&g, F_SETOWN_CMD, ARG2, NEXT);
  JEQ_SKIP(&g, F_SETOWN_EX_CMD, 0, 1);
  RET(&g, eperm);
  RET(&g, allow);
  /* ioctl(fd, FIOSETOWN or SIOCSPGRP, &pid): refused */
  g.at[IOCTL] = g.n;
  LD(&g, ARG_LO(1));
  JEQ_SKIP(&g, FIOSETOWN_CMD, 2, 0);
  JEQ_SKIP(&g, SIOCSPGRP_CMD, 1, 0);
  RET(&g, allow);
  RET(&g, eperm);
  aimed(&g, ARG2, 2, values, nvalues);
  aimed(&g, ARG1, 1, values, nvalues);
  aimed(&g, ARG0, 0, values, nvalues);
  struct sock_filter f[sizeof g.code / sizeof *g.code];
  for (size_t i = 0; i < g.n; i++) {
    f[i] = g.code[i].f;
    if (g.code[i].jt != NEXT) f[i].jt = offset(&g, i, g.code[i].jt);
    if (g.code[i].jf != NEXT) f[i].jf = offset(&g, i, g.code[i].jf);
  }
  struct sock_fprog prog = {.len = (unsigned short)g.n, .filter = f};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) die("seccomp guard");
}

static void load_filter(const struct sock_filter *f, size_t n) {
  struct sock_fprog prog = {.len = (unsigned short)n, .filter = (struct sock_filter *)f};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) die("seccomp");
}

/* This process (the launcher), its ancestors and their process groups, as the guard's values (pid and -pid). */
static size_t protected_values(__u32 *out, int process_mode) {
  size_t n = 0;
  pid_t pid = getpid();
  while (pid > 0 && n + 4 <= MAX_PROTECTED) {
    pid_t pgid = getpgid(pid);
    out[n++] = (__u32)pid;
    out[n++] = (__u32)-pid;
    if (pgid > 0 && pgid != pid) {
      out[n++] = (__u32)pgid;
      out[n++] = (__u32)-pgid;
    }
    if (!process_mode) break; /* PID 1 of a namespace: nothing above it is visible */
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) break;
    buf[len] = '\0';
    char *end = strrchr(buf, ')');
    int ppid;
    if (!end || sscanf(end + 2, "%*c %d", &ppid) != 1) break;
    pid = ppid;
  }
  if (process_mode) out[n++] = (__u32)-1; /* kill(-1): every process this user may signal */
  return n;
}

/* ---- the program ---- */

/* In the child: limits, working directory and filters in place, then the program. */
static void start(const struct spec *s, const __u32 *values, size_t nvalues, int network, int process_mode, rlim_t nofile,
                  rlim_t fsize) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  if (process_mode && setpgid(0, 0) != 0) die("setpgid");
  struct rlimit rl = {0, 0};
  if (setrlimit(RLIMIT_CORE, &rl) != 0) die("setrlimit core");
  if (nofile) {
    rl.rlim_cur = rl.rlim_max = nofile;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die("setrlimit nofile");
  }
  if (fsize) {
    rl.rlim_cur = rl.rlim_max = fsize;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) die("setrlimit fsize");
  }
  if (s->cwd && chdir(s->cwd) != 0) die("chdir");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
#ifndef RUNTOOLS_BENCH_WITHOUT_FILTERS /* only bench/seccomp.ts builds this, to measure what the filters cost */
  load_guard(values, nvalues);
  if (network) load_filter(FILTER_NET, sizeof FILTER_NET / sizeof *FILTER_NET);
  else load_filter(FILTER_NONET, sizeof FILTER_NONET / sizeof *FILTER_NONET);
#endif
  execve(s->argv[0], s->argv, s->envp);
  int err = errno;
  dprintf(2, "runtools-launch: cannot run %s: %s\n", s->argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

/* Writes all of buf: 0, or -1 when the reader went away (or another error). */
static int write_all(int fd, const void *buf, size_t len) {
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, (const char *)buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    off += (size_t)n;
  }
  return 0;
}

/* Writes the whole report; a reader that went away is not an error. */
static void report(int fd, int status, const struct rusage *ru) {
  char line[160];
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  long long user = (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
  long long sys = (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
  int len = snprintf(line, sizeof line, "E %d %d %lld %lld %ld\n", code, sig, user, sys, ru->ru_maxrss);
  (void)write_all(fd, line, (size_t)len);
}

/*
 * Starts the program (spec) and waits for it; reports how it ended on status_fd. With lane set
 * this process is not PID 1: the program may not signal it, PID 1 (the lane) or every process at
 * once (kill(-1) would reach this process), and orphans come back to it (child subreaper).
 */
static int run_program(const struct spec *s, int status_fd, int network, int process_mode, int lane, rlim_t nofile, rlim_t fsize) {
  if (status_fd >= 0 && fcntl(status_fd, F_SETFD, FD_CLOEXEC) != 0) die("status descriptor");
  if ((process_mode || lane) && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("subreaper");

  __u32 values[MAX_PROTECTED];
  size_t nvalues = protected_values(values, process_mode);
  if (lane) {
    values[nvalues++] = 1;
    values[nvalues++] = (__u32)-1;
  }
  pid_t child = fork();
  if (child < 0) die("fork");
  /* In a lane, as in process mode, the program's process group is its own: kill(0) reaches only it. */
  if (child == 0) start(s, values, nvalues, network, process_mode || lane, nofile, fsize);

  /* The program's: nothing of ours may keep its pipes open or be inspected through /proc. */
  prctl(PR_SET_DUMPABLE, 0);
  signal(SIGPIPE, SIG_IGN);
  for (int fd = 0; fd <= 2; fd++) if (fd != status_fd) close(fd);

  int status = 0;
  for (;;) {
    int st;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) die("wait");
    if (pid == child) {
      status = st;
      break;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  if (status_fd >= 0) report(status_fd, status, &ru);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- lanes (-L): a suite's tests one after another in one sandbox ---- */

struct lane {
  unsigned long long work_bytes, work_inodes, tmp_bytes;
  int network;
};


/* Reads exactly len bytes; 0 at a clean end before the first byte, 1 when read. */
static int read_all(int fd, void *buf, size_t len) {
  for (size_t off = 0; off < len;) {
    ssize_t n = read(fd, (char *)buf + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read command");
    if (n == 0) {
      if (off == 0) return 0;
      errno = EPIPE;
      die("command cut short");
    }
    off += (size_t)n;
  }
  return 1;
}

static void frame(char type, const void *data, uint32_t len) {
  char head[5] = {type, (char)(len & 0xff), (char)((len >> 8) & 0xff), (char)((len >> 16) & 0xff), (char)(len >> 24)};
  if (write_all(1, head, sizeof head) != 0 || write_all(1, data, len) != 0) _exit(0); /* the server went away */
}

/*
 * Copies the tree at src (the request's files, written by the server) into dst: directories,
 * regular files and their modes; links and anything else are skipped, none is followed.
 */
static void copy_tree(int src, int dst) {
  DIR *dir = fdopendir(src);
  if (!dir) die("template");
  struct dirent *e;
  while ((e = readdir(dir))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(src, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) die("template entry");
    if (S_ISDIR(st.st_mode)) {
      if (mkdirat(dst, e->d_name, st.st_mode & 07777) != 0) die("mkdir");
      int from = openat(src, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int to = openat(dst, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (from < 0 || to < 0) die("open dir");
      copy_tree(from, to);
      close(to);
    } else if (S_ISREG(st.st_mode)) {
      int from = openat(src, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      int to = openat(dst, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
      if (from < 0 || to < 0) die("open file");
      char buf[65536];
      for (;;) {
        ssize_t n = read(from, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("read file");
        if (n == 0) break;
        if (write_all(to, buf, (size_t)n) != 0) die("write file");
      }
      if (fchmod(to, st.st_mode & 07777) != 0) die("chmod");
      close(from);
      close(to);
    }
  }
  closedir(dir);
}

static void mount_tmpfs(const char *target, unsigned long long bytes, unsigned long long inodes, const char *mode) {
  char options[160];
  if (inodes) snprintf(options, sizeof options, "size=%llu,nr_inodes=%llu,mode=%s", bytes, inodes, mode);
  else snprintf(options, sizeof options, "size=%llu,mode=%s", bytes, mode);
  if (mount("runtools", target, "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) die(target);
}

/* Every capability gone for good: bounding set, ambient, and no way back through exec as uid 0. */
static void drop_capabilities(void) {
  if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
                                   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) != 0)
    die("securebits");
  for (int cap = 0; cap <= 63; cap++)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) die("bounding set");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) die("ambient");
  struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &head, data) != 0) die("capset");
  if (syscall(SYS_capget, &head, data) != 0) die("capget");
  if (data[0].effective | data[0].permitted | data[0].inheritable | data[1].effective | data[1].permitted | data[1].inheritable ||
      prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) {
    errno = EPERM;
    die("capabilities left");
  }
}

/* Moves fd to at least 10, so that placing the test's descriptors at 0-3 cannot overwrite it. */
static int high(int fd) {
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (moved < 0) die("dup");
  close(fd);
  return moved;
}

/* The test's own files (a checker's input, expected, output): count, then each as name length, name, size, content. */
struct files {
  const char *at;
  size_t len;
};

static uint32_t take32(const char **p, const char *end) {
  uint32_t v;
  if ((size_t)(end - *p) < 4) { errno = EINVAL; die("files"); }
  memcpy(&v, *p, 4);
  *p += 4;
  return v;
}

/* Writes the test's own files into its /work, over any of the same name; plain names only. */
static void write_files(int work, struct files f) {
  const char *p = f.at, *end = f.at + f.len;
  for (uint32_t n = take32(&p, end); n > 0; n--) {
    uint32_t name_len = take32(&p, end);
    if (name_len == 0 || name_len > 255 || (size_t)(end - p) < name_len) { errno = EINVAL; die("file name"); }
    char name[256];
    memcpy(name, p, name_len);
    name[name_len] = '\0';
    p += name_len;
    if (strlen(name) != name_len || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) { errno = EINVAL; die("file name"); }
    uint32_t size = take32(&p, end);
    if ((size_t)(end - p) < size) { errno = EINVAL; die("file"); }
    unlinkat(work, name, 0);
    int fd = openat(work, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, p, size) != 0) die(name);
    close(fd);
    p += size;
  }
}

/* The test's first process, in its fresh mount and IPC namespaces: its mounts, no capabilities, then the program. */
static void test_process(char *spec, size_t spec_len, struct files files, const struct lane *lane, int in, int out, int err, int status) {
  in = high(in), out = high(out), err = high(err), status = high(status);
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("private mounts");
  /* The files bound at /work stay under the fresh tmpfs, out of reach: copied from this descriptor. */
  int template = open("/work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (template < 0) die("/work");
  mount_tmpfs("/work", lane->work_bytes, lane->work_inodes, "0755");
  int work = open("/work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (work < 0) die("/work");
  copy_tree(template, work);
  write_files(work, files);
  close(work);
  mount_tmpfs("/tmp", lane->tmp_bytes, 0, "1777");
  mount_tmpfs("/dev/shm", lane->tmp_bytes, 0, "1777");
  drop_capabilities();
  struct spec s;
  parse_spec(spec, spec_len, &s);
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0 || dup2(status, 3) < 0) die("dup2");
  if (syscall(SYS_close_range, 4, ~0U, 0) != 0) die("close_range");
  _exit(run_program(&s, 3, lane->network, 0, 1, 0, 0));
}

/* Kills every process of the lane but this one (PID 1) and reaps them all. */
static void kill_all_but_me(void) {
  for (;;) {
    kill(-1, SIGKILL);
    pid_t pid = waitpid(-1, NULL, 0);
    if (pid < 0 && errno == ECHILD) return;
    if (pid < 0 && errno != EINTR) die("reap");
  }
}

/* One test: frames its output and its report to the server; kills it on K; returns once all of it is gone. */
static void lane_test(char *payload, uint32_t len, const struct lane *lane) {
  uint32_t in_len, files_len;
  if (len < 8) { errno = EINVAL; die("test frame"); }
  memcpy(&in_len, payload, 4);
  if (in_len > len - 8) { errno = EINVAL; die("test frame"); }
  const char *input = payload + 4;
  memcpy(&files_len, payload + 4 + in_len, 4);
  if (files_len > len - 8 - in_len) { errno = EINVAL; die("test frame"); }
  struct files files = {payload + 8 + in_len, files_len};
  char *spec = payload + 8 + in_len + files_len;
  size_t spec_len = len - 8 - in_len - files_len;
  int pin[2], pout[2], perr[2], pst[2];
  if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC) || pipe2(pst, O_CLOEXEC)) die("pipe");
  pid_t test = (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWIPC | SIGCHLD, 0, 0, 0, 0);
  if (test < 0) die("clone");
  if (test == 0) {
    close(pin[1]), close(pout[0]), close(perr[0]), close(pst[0]);
    test_process(spec, spec_len, files, lane, pin[0], pout[1], perr[1], pst[1]);
  }
  close(pin[0]), close(pout[1]), close(perr[1]), close(pst[1]);
  fcntl(pin[1], F_SETFL, O_NONBLOCK);
  size_t in_off = 0;
  if (in_len == 0) close(pin[1]), pin[1] = -1;
  char line[256];
  size_t line_len = 0;
  int open_streams = 3, killed = 0;
  char buf[65536];
  while (open_streams > 0) {
    struct pollfd p[5] = {
        {.fd = 0, .events = POLLIN},
        {.fd = pout[0], .events = POLLIN},
        {.fd = perr[0], .events = POLLIN},
        {.fd = pst[0], .events = POLLIN},
        {.fd = pin[1], .events = POLLOUT},
    };
    if (poll(p, 5, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (p[0].revents) {
      char type;
      uint32_t n;
      if (!read_all(0, &type, 1)) _exit(0); /* the server went away: the lane ends, and the test with it */
      read_all(0, &n, 4);
      if (type != 'K' || n != 0) { errno = EINVAL; die("command during a test"); }
      if (!killed) kill_all_but_me(), killed = 1;
      continue; /* the descriptors polled may be closed by now */
    }
    for (int i = 1; i <= 3; i++) {
      if (!p[i].revents) continue;
      ssize_t n = read(p[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        close(p[i].fd);
        if (i == 1) pout[0] = -1;
        if (i == 2) perr[0] = -1;
        if (i == 3) pst[0] = -1;
        open_streams--;
        /* The test's first process is over (its report is in): what it left running goes now,
           so the output pipes its strays hold reach their end. */
        if (i == 3 && !killed) kill_all_but_me(), killed = 1;
        continue;
      }
      if (i == 3) {
        if (line_len + (size_t)n < sizeof line) memcpy(line + line_len, buf, (size_t)n), line_len += (size_t)n;
      } else {
        frame(i == 1 ? 'o' : 'e', buf, (uint32_t)n);
      }
    }
    if (p[4].revents) {
      ssize_t n = write(pin[1], input + in_off, in_len - in_off);
      if (n > 0) in_off += (size_t)n;
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) close(pin[1]), pin[1] = -1;
    }
  }
  if (pin[1] >= 0) close(pin[1]);
  frame('R', line, (uint32_t)line_len);
}

static int lane_main(const struct lane *lane) {
  prctl(PR_SET_DUMPABLE, 0);
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    char type;
    uint32_t len;
    if (!read_all(0, &type, 1)) return 0;
    read_all(0, &len, 4);
    if (type == 'K' && len == 0) continue; /* the test it was meant for is over already */
    if (type != 'T' || len > MAX_SPEC) { errno = EINVAL; die("lane command"); }
    char *payload = malloc(len ? len : 1);
    if (!payload) die("malloc");
    read_all(0, payload, len);
    lane_test(payload, len, lane);
    free(payload);
  }
}

int main(int argc, char **argv) {
  int status_fd = -1, spec_fd = -1, network = 1, process_mode = 0, lane_mode = 0, opt;
  rlim_t nofile = 0, fsize = 0;
  struct lane lane = {0, 0, 0, 1};
  while ((opt = getopt(argc, argv, "+s:w:npo:f:LW:T:")) != -1) {
    switch (opt) {
      case 's': status_fd = atoi(optarg); break;
      case 'w': spec_fd = atoi(optarg); break;
      case 'n': network = 0; break;
      case 'p': process_mode = 1; break;
      case 'o': nofile = strtoull(optarg, NULL, 10); break;
      case 'f': fsize = strtoull(optarg, NULL, 10); break;
      case 'L': lane_mode = 1; break;
      case 'W': if (sscanf(optarg, "%llu:%llu", &lane.work_bytes, &lane.work_inodes) != 2) { errno = EINVAL; die("-W"); } break;
      case 'T': lane.tmp_bytes = strtoull(optarg, NULL, 10); break;
      default: errno = EINVAL; die("usage: runtools-launch [-s FD] [-w FD] [-n] [-p] [-o N] [-f N] [-- argv...] | -L -W BYTES:INODES -T BYTES [-n]");
    }
  }
  if (lane_mode) {
    if (!lane.work_bytes || !lane.work_inodes || !lane.tmp_bytes || getpid() != 1) { errno = EINVAL; die("a lane needs -W and -T and must be PID 1"); }
    lane.network = network;
    return lane_main(&lane);
  }
  struct spec s = {.cwd = NULL, .envp = environ, .argv = &argv[optind]};
  if (spec_fd >= 0) read_spec(spec_fd, &s);
  else if (optind >= argc) { errno = EINVAL; die("no program to run"); }
  return run_program(&s, status_fd, network, process_mode, 0, nofile, fsize);
}
