/*
 * Preloaded into the runner (LD_PRELOAD: by runtime-layers/bootstrap.sh on Lambda, by the images'
 * ENV for Fargate tasks): marks the process non-dumpable before Node starts. Programs run as the runner's own user, and a
 * dumpable process of that user exposes its /proc/<pid>/environ (the environment it was started
 * with, including what Node later deletes), mem, oom_score_adj and ptrace. Non-dumpable, those
 * files belong to root and ptrace is refused. exec() resets the flag, so it must be set from
 * inside the new image; Node has no prctl(), hence this constructor.
 * It also removes LD_PRELOAD, so nothing the runner starts loads it.
 *   cc -O2 -shared -fPIC -o runtools-nodump.so nodump.c
 */
#include <stdlib.h>
#include <sys/prctl.h>

__attribute__((constructor)) static void runtools_nodump(void) {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  unsetenv("LD_PRELOAD");
}
