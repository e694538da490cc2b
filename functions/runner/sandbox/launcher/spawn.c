/*
 * runtools-spawn: starts every sandbox of one runner. Forking the Node server for each sandbox
 * copies its page tables and then costs it copy-on-write faults (several ms of CPU per spawn at
 * ~100 MB); this process is small, so its forks are cheap. It also applies the rlimits itself,
 * which saves exec'ing prlimit in front of every sandbox.
 *
 * Requests arrive on stdin: a 32-bit little-endian length, then NUL-terminated fields:
 *   S tag dirs nofile fsize cwd ncgroup procs... nmount (lower upper work target)... nenv env... argv...
 *       start argv (no PATH search) in a new session; dirs has one letter per descriptor the
 *       child gets: 'r' when the child reads it (a pipe the server writes), 'w' when it writes it.
 *       The child first moves itself into each cgroup (procs: paths of cgroup.procs files), so
 *       everything it starts is accounted and limited from its first instruction.
 *       With nmount > 0 the child gets a private mount namespace holding that many overlayfs
 *       mounts (lower read-only, writes going to upper) at their targets, which bwrap then binds:
 *       they vanish with the sandbox, nothing to unmount (needs root)
 *   R tag
 *       the server has opened tag's pipe ends through /proc: close ours
 *   M tag path bytes inodes
 *       mount a tmpfs of that size and inode count on path (a workspace: nosuid, nodev, mode 0700;
 *       needs root): a mount(2) here instead of a mount(8) process per workspace
 *   U tag path
 *       unmount path (lazily if it is still busy)
 * Answers are lines on stdout:
 *   S tag pid fd...      started; the server's ends are /proc/<this pid>/fd/<fd>, one per letter
 *   F tag errno          could not start
 *   X pid code signal    a child ended (code -1 when a signal ended it, signal 0 otherwise)
 *   D tag errno          an M or U is done (errno 0: it worked)
 * End of stdin ends this process; its children run with --die-with-parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FRAME (16u * 1024 * 1024)
#define MAX_FDS 16

struct held {
  char *tag;
  int fds[MAX_FDS];
  int n;
  struct held *next;
};

static struct held *held;

static void die(const char *what) {
  dprintf(2, "runtools-spawn: %s: %s\n", what, strerror(errno));
  _exit(1);
}

/* Answers go out whole: a short write would leave the server with half a line. */
static void answer(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (len < 0 || (size_t)len >= sizeof line) return;
  for (int off = 0; off < len;) {
    ssize_t n = write(1, line + off, (size_t)(len - off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("write");
    off += (int)n;
  }
}

static void release(const char *tag) {
  for (struct held **p = &held; *p; p = &(*p)->next) {
    if (strcmp((*p)->tag, tag) != 0) continue;
    struct held *h = *p;
    *p = h->next;
    for (int i = 0; i < h->n; i++) close(h->fds[i]);
    free(h->tag);
    free(h);
    return;
  }
}

/* In the child: descriptors in place, everything else closed, mounts made, limits set, then exec. */
static void child(int n, const int *ends, rlim_t nofile, rlim_t fsize, const char *cwd, size_t ncg, char **cgroups,
                  size_t nmount, char **mounts, char **argv, char **envp) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  if (setsid() < 0) die("setsid");
  int moved[MAX_FDS];
  for (int i = 0; i < n; i++) {
    moved[i] = fcntl(ends[i], F_DUPFD_CLOEXEC, 64);
    if (moved[i] < 0) die("dup");
  }
  for (int i = 0; i < n; i++) {
    if (dup2(moved[i], i) < 0) die("dup2");
  }
  if (syscall(SYS_close_range, (unsigned)n, ~0u, 0) != 0) {
    for (int fd = n; fd < 65536; fd++) close(fd);
  }
  for (size_t i = 0; i < ncg; i++) {
    int fd = open(cgroups[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0) die(cgroups[i]);
    close(fd);
  }
  if (nmount > 0) {
    if (unshare(CLONE_NEWNS) != 0) die("unshare mount namespace");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make mounts private");
    for (size_t i = 0; i < nmount; i++) {
      char **m = &mounts[4 * i];
      char opts[4096];
      int len = snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", m[0], m[1], m[2]);
      if (len < 0 || (size_t)len >= sizeof opts) { errno = ENAMETOOLONG; die("overlay options"); }
      if (mount("overlay", m[3], "overlay", 0, opts) != 0) die("mount overlay");
    }
  }
  struct rlimit rl = {nofile, nofile};
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) die("setrlimit nofile");
  rl.rlim_cur = rl.rlim_max = fsize;
  if (setrlimit(RLIMIT_FSIZE, &rl) != 0) die("setrlimit fsize");
  rl.rlim_cur = rl.rlim_max = 0;
  if (setrlimit(RLIMIT_CORE, &rl) != 0) die("setrlimit core");
  if (chdir(cwd) != 0) die("chdir");
  execve(argv[0], argv, envp);
  dprintf(2, "runtools-spawn: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void start(char **f, size_t count) {
  /* S tag dirs nofile fsize cwd ncgroup procs... nmount (lower upper work target)... nenv env... argv... */
  if (count < 10) return;
  const char *tag = f[1], *dirs = f[2];
  int n = (int)strlen(dirs);
  size_t ncg = strtoul(f[6], NULL, 10);
  size_t mat = 7 + ncg;
  size_t nmount = ncg <= 8 && mat < count ? strtoul(f[mat], NULL, 10) : 0;
  size_t at = mat + 1 + 4 * nmount;
  size_t nenv = ncg <= 8 && nmount <= 8 && at < count ? strtoul(f[at], NULL, 10) : 0;
  if (n < 1 || n > MAX_FDS || strspn(dirs, "rw") != (size_t)n || ncg > 8 || nmount > 8 || at + 1 + nenv >= count) {
    answer("F %s %d\n", tag, EINVAL);
    return;
  }
  char **envp = calloc(nenv + 1, sizeof(char *));
  if (!envp) die("calloc");
  for (size_t i = 0; i < nenv; i++) envp[i] = f[at + 1 + i];
  char **argv = &f[at + 1 + nenv];

  int ours[MAX_FDS], theirs[MAX_FDS], made = 0, err = 0;
  for (; made < n; made++) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) { err = errno; break; }
    /* 'r': the child reads p[0], the server writes p[1]. */
    theirs[made] = dirs[made] == 'r' ? p[0] : p[1];
    ours[made] = dirs[made] == 'r' ? p[1] : p[0];
  }
  pid_t pid = err ? -1 : fork();
  if (pid == 0) child(n, theirs, strtoull(f[3], NULL, 10), strtoull(f[4], NULL, 10), f[5], ncg, &f[7], nmount, &f[mat + 1], argv, envp);
  if (pid < 0 && !err) err = errno;
  free(envp);
  for (int i = 0; i < made; i++) close(theirs[i]);
  if (err) {
    for (int i = 0; i < made; i++) close(ours[i]);
    answer("F %s %d\n", tag, err);
    return;
  }
  struct held *h = calloc(1, sizeof *h);
  if (!h || !(h->tag = strdup(tag))) die("calloc");
  memcpy(h->fds, ours, sizeof(int) * (size_t)n);
  h->n = n;
  h->next = held;
  held = h;
  char line[256];
  int len = snprintf(line, sizeof line, "S %s %d", tag, (int)pid);
  for (int i = 0; i < n; i++) len += snprintf(line + len, sizeof line - (size_t)len, " %d", ours[i]);
  answer("%s\n", line);
}

/* A workspace's own tmpfs (M), or its removal (U). Paths come from the server, never from a program. */
static void mount_workspace(char **f, size_t count) {
  if (count < 5) return;
  char options[128];
  int len = snprintf(options, sizeof options, "size=%llu,nr_inodes=%llu,mode=0700", strtoull(f[3], NULL, 10), strtoull(f[4], NULL, 10));
  int err = len < 0 || (size_t)len >= sizeof options ? EINVAL : 0;
  if (!err && mount("runtools", f[2], "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) err = errno;
  answer("D %s %d\n", f[1], err);
}

static void unmount_workspace(char **f, size_t count) {
  if (count < 3) return;
  int err = 0;
  if (umount2(f[2], UMOUNT_NOFOLLOW) != 0) {
    err = errno;
    if (err == EBUSY && umount2(f[2], MNT_DETACH | UMOUNT_NOFOLLOW) == 0) err = 0;
  }
  answer("D %s %d\n", f[1], err);
}

static void request(char *buf, size_t len) {
  if (len == 0 || buf[len - 1] != '\0') return;
  size_t count = 0;
  for (size_t i = 0; i < len; i++) count += buf[i] == '\0';
  char **f = calloc(count + 1, sizeof(char *));
  if (!f) die("calloc");
  size_t k = 0;
  for (char *p = buf; p < buf + len; p += strlen(p) + 1) f[k++] = p;
  if (strcmp(f[0], "S") == 0) start(f, count);
  else if (strcmp(f[0], "R") == 0 && count >= 2) release(f[1]);
  else if (strcmp(f[0], "M") == 0) mount_workspace(f, count);
  else if (strcmp(f[0], "U") == 0) unmount_workspace(f, count);
  free(f);
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (WIFEXITED(status)) answer("X %d %d 0\n", (int)pid, WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) answer("X %d -1 %d\n", (int)pid, WTERMSIG(status));
  }
}

int main(void) {
  /* Without the server there is nobody to answer to: go, and take the sandboxes along. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0;
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0) die("sigprocmask");
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);

  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!buf) die("malloc");
  for (;;) {
    struct pollfd pf[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pf[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {}
      reap();
    }
    if (!(pf[0].revents & (POLLIN | POLLHUP))) continue;
    if (len == cap) {
      if (cap > MAX_FRAME + 4) { errno = E2BIG; die("request"); }
      cap *= 2;
      if (!(buf = realloc(buf, cap))) die("realloc");
    }
    ssize_t n = read(0, buf + len, cap - len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) die("read");
    if (n == 0) return 0;
    len += (size_t)n;
    size_t off = 0;
    while (len - off >= 4) {
      uint32_t frame = (uint32_t)(unsigned char)buf[off] | (uint32_t)(unsigned char)buf[off + 1] << 8 |
                       (uint32_t)(unsigned char)buf[off + 2] << 16 | (uint32_t)(unsigned char)buf[off + 3] << 24;
      if (frame > MAX_FRAME) { errno = E2BIG; die("request"); }
      if (len - off - 4 < frame) break;
      request(buf + off + 4, frame);
      off += 4 + frame;
    }
    memmove(buf, buf + off, len - off);
    len -= off;
  }
}
