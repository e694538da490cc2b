#!/bin/sh
# Entry point of every runtools image on Lambda: replaces itself with "$@" (the runner) under a
# clean environment. The credentials Lambda places in the environment then exist in no process
# a program could inspect (/proc/<pid>/environ); only runtools settings and the Runtime API
# address are passed on.
set -euf
: "${AWS_LAMBDA_RUNTIME_API:?this entry point runs inside AWS Lambda}"
kept=$(env | grep -E '^(RUNTOOLS_[A-Z0-9_]+|RUSTUP_HOME|CARGO_HOME|PATH|LANG)=' || true)
IFS='
'
# shellcheck disable=SC2086 # one word per kept line is intended
exec /usr/bin/env -i HOME=/tmp $kept RUNTOOLS_RUNTIME_API="$AWS_LAMBDA_RUNTIME_API" "$@"
