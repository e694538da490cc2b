/*
 * runtools-launch FD: the first program of a prepared sandbox. It waits on FD for the execution's
 * spec (NUL-separated: cwd, number of env entries, the env entries, then argv), then replaces
 * itself with the program. This lets the sandbox be built before the request arrives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SPEC (16 * 1024 * 1024)

static void die(const char *what) {
  dprintf(2, "runtools-launch: %s: %s\n", what, strerror(errno));
  _exit(127);
}

int main(int argc, char **argv0) {
  if (argc != 2) { errno = EINVAL; die("usage: runtools-launch FD"); }
  int spec_fd = atoi(argv0[1]);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!buf) die("malloc");
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_SPEC) { errno = E2BIG; die("spec"); }
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) die("realloc");
    }
    ssize_t n = read(spec_fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("read");
    if (n == 0) break;
    len += (size_t)n;
  }
  close(spec_fd);
  if (len == 0) _exit(0); /* the sandbox was discarded unused */
  if (buf[len - 1] != '\0') { errno = EINVAL; die("spec"); }

  size_t count = 0;
  for (size_t i = 0; i < len; i++) if (buf[i] == '\0') count++;
  char **fields = calloc(count + 1, sizeof(char *));
  if (!fields) die("calloc");
  size_t k = 0;
  for (char *p = buf; p < buf + len; p += strlen(p) + 1) fields[k++] = p;

  if (count < 3) { errno = EINVAL; die("spec"); }
  const char *cwd = fields[0];
  size_t nenv = strtoul(fields[1], NULL, 10);
  if (2 + nenv >= count) { errno = EINVAL; die("spec"); }
  char **envp = calloc(nenv + 1, sizeof(char *));
  if (!envp) die("calloc");
  for (size_t i = 0; i < nenv; i++) envp[i] = fields[2 + i];
  char **argv = &fields[2 + nenv];

  if (chdir(cwd) != 0) die("chdir");
  execve(argv[0], argv, envp);
  dprintf(2, "runtools-launch: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(errno == ENOENT ? 127 : 126);
}
