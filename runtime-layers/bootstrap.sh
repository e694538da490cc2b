#!/bin/sh
# Entry point of every runtools image on Lambda: replaces itself with "$@" (the runner) under a
# clean environment. The credentials Lambda places in the environment then exist in no process
# a program could inspect (/proc/<pid>/environ); only runtools settings and the Runtime API
# address are passed on.
# The runner is started with RUNTOOLS_NODUMP (default /opt/runtools/nodump.so) preloaded, which
# makes it non-dumpable: programs run as the same user, and could otherwise read its
# /proc/<pid>/environ (the Runtime API address) and memory, or ptrace it. (The image's
# LD_PRELOAD does the same for whatever it starts first: on Fargate, the runner itself.)
# Needs no privileges: Lambda runs it as an unprivileged user of its own, whatever the image's USER.
set -euf
: "${AWS_LAMBDA_RUNTIME_API:?this entry point runs inside AWS Lambda}"
nodump=${RUNTOOLS_NODUMP:-/opt/runtools/nodump.so}
preload=
if [ -f "$nodump" ] && [ -r "$nodump" ]; then
  preload="LD_PRELOAD=$nodump"
else
  echo "bootstrap: warning: $nodump is missing; the runner stays dumpable (its /proc/<pid> files are readable by programs)" >&2
fi
kept=$(env | grep -E '^(RUNTOOLS_[A-Z0-9_]+|RUSTUP_HOME|CARGO_HOME|PATH|LANG)=' || true)
IFS='
'
# shellcheck disable=SC2086 # one word per kept line is intended
exec /usr/bin/env -i HOME=/tmp $kept ${preload:+"$preload"} RUNTOOLS_RUNTIME_API="$AWS_LAMBDA_RUNTIME_API" "$@"
