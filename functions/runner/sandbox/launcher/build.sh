#!/bin/sh
# Builds the sandbox's C helpers into OUT: the seccomp filters (generated with libseccomp), the
# launcher that embeds them, the spawner, and the runner's non-dumpable preload. One recipe for
# this machine (scripts/setup.sh) and for the runtime images (runtime-layers/*/Dockerfile).
#   sh build.sh OUT [launch|spawn|nodump ...]   (default: all)
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=$1
shift
[ $# -gt 0 ] || set -- launch spawn nodump
mkdir -p "$out"
# Static where the C library allows it: the launcher runs inside sandboxes and images alike.
static() { cc -O2 -Wall -static "$@" 2>/dev/null || cc -O2 -Wall "$@"; }
for tool in "$@"; do
  case $tool in
    launch)
      cc -O2 -Wall -o "$out/seccomp-gen" "$src/seccomp-gen.c" -lseccomp
      "$out/seccomp-gen" >"$out/seccomp-filters.h.tmp"
      mv "$out/seccomp-filters.h.tmp" "$out/seccomp-filters.h"
      static -I"$out" -o "$out/runtools-launch.tmp" "$src/launch.c"
      mv "$out/runtools-launch.tmp" "$out/runtools-launch"
      ;;
    spawn)
      static -o "$out/runtools-spawn.tmp" "$src/spawn.c"
      mv "$out/runtools-spawn.tmp" "$out/runtools-spawn"
      ;;
    nodump)
      cc -O2 -Wall -shared -fPIC -o "$out/runtools-nodump.so.tmp" "$src/nodump.c"
      mv "$out/runtools-nodump.so.tmp" "$out/runtools-nodump.so"
      ;;
    *) echo "build.sh: unknown tool $tool" >&2; exit 2 ;;
  esac
done
