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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
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
  if (buf[len - 1] != '\0') { errno = EINVAL; die("spec"); }
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

/* Writes the whole report; a reader that went away is not an error. */
static void report(int fd, int status, const struct rusage *ru) {
  char line[160];
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  long long user = (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
  long long sys = (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
  int len = snprintf(line, sizeof line, "E %d %d %lld %lld %ld\n", code, sig, user, sys, ru->ru_maxrss);
  for (int off = 0; off < len;) {
    ssize_t n = write(fd, line + off, (size_t)(len - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += (int)n;
  }
}

int main(int argc, char **argv) {
  int status_fd = -1, spec_fd = -1, network = 1, process_mode = 0, opt;
  rlim_t nofile = 0, fsize = 0;
  while ((opt = getopt(argc, argv, "+s:w:npo:f:")) != -1) {
    switch (opt) {
      case 's': status_fd = atoi(optarg); break;
      case 'w': spec_fd = atoi(optarg); break;
      case 'n': network = 0; break;
      case 'p': process_mode = 1; break;
      case 'o': nofile = strtoull(optarg, NULL, 10); break;
      case 'f': fsize = strtoull(optarg, NULL, 10); break;
      default: errno = EINVAL; die("usage: runtools-launch [-s FD] [-w FD] [-n] [-p] [-o N] [-f N] [-- argv...]");
    }
  }
  struct spec s = {.cwd = NULL, .envp = environ, .argv = &argv[optind]};
  if (spec_fd >= 0) read_spec(spec_fd, &s);
  else if (optind >= argc) { errno = EINVAL; die("no program to run"); }
  if (status_fd >= 0 && fcntl(status_fd, F_SETFD, FD_CLOEXEC) != 0) die("status descriptor");
  if (process_mode && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("subreaper");

  __u32 values[MAX_PROTECTED];
  size_t nvalues = protected_values(values, process_mode);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) start(&s, values, nvalues, network, process_mode, nofile, fsize);

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
