#!/usr/bin/env bash
# Installs what runtools needs on this machine, idempotently: bubblewrap, Python 3 with numpy,
# matplotlib and pandas, Go 1.23 (Debian bookworm-backports), GCC for C and C++ (also Rust's
# linker), a Java 17 JDK, npm dependencies (which ship Bun and Deno), the prebuilt Go build cache,
# C++'s precompiled bits/stdc++.h and javac's class-data archive. Also from Debian: Ruby, the PHP
# CLI with mbstring and bc for bash scripts. With --tests, also Chromium for the playground's
# browser tests and zsh for the completion script's. Safe to run again; fast when everything is there.
#   bash scripts/setup.sh [--quiet] [--tests]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quiet=0
tests=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --tests) tests=1 ;;
    *) echo "setup: unknown option $arg (expected --quiet, --tests)" >&2; exit 2 ;;
  esac
done
say() { echo "setup: $*" >&2; }
info() { [[ $quiet == 1 ]] || say "$@"; }

GO_BIN=/usr/lib/go-1.23/bin/go
BACKPORTS=/etc/apt/sources.list.d/runtools-bookworm-backports.sources

apt_needed=()
command -v bwrap >/dev/null 2>&1 || apt_needed+=(bubblewrap)
[[ -x /usr/bin/python3 ]] || apt_needed+=(python3)
/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || apt_needed+=(python3-numpy)
# Notebook-style programs: plots saved to files (MPLBACKEND=Agg in the python runtime) and data frames.
/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1 || apt_needed+=(python3-matplotlib)
/usr/bin/python3 -c 'import pandas' >/dev/null 2>&1 || apt_needed+=(python3-pandas)
[[ -x "$GO_BIN" ]] || apt_needed+=(golang-1.23-go)
# The c and cpp runtimes (and Rust's linker): Debian's GCC 12 and its C and C++ libraries' headers.
[[ -x /usr/bin/gcc && -f /usr/include/stdio.h ]] || apt_needed+=(gcc libc6-dev)
[[ -x /usr/bin/g++ ]] || apt_needed+=(g++)
# node-gyp builds better-sqlite3 (the server's store) with make, g++ and python3.
command -v make >/dev/null 2>&1 || apt_needed+=(make)
[[ -f /usr/include/seccomp.h ]] || apt_needed+=(libseccomp-dev)
command -v javac >/dev/null 2>&1 || apt_needed+=(openjdk-17-jdk-headless)
[[ -x /usr/bin/ruby ]] || apt_needed+=(ruby)
[[ -x /usr/bin/php ]] || apt_needed+=(php-cli)
/usr/bin/php -r 'exit(extension_loaded("mbstring") ? 0 : 1);' >/dev/null 2>&1 || apt_needed+=(php8.2-mbstring)
command -v bc >/dev/null 2>&1 || apt_needed+=(bc)
# The playground's browser tests drive Debian's Chromium with playwright-core (its own download is not used).
[[ $tests == 1 && ! -x /usr/bin/chromium ]] && apt_needed+=(chromium)
# The zsh completion script's tests run it in zsh.
[[ $tests == 1 ]] && ! command -v zsh >/dev/null 2>&1 && apt_needed+=(zsh)

if ((${#apt_needed[@]})); then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    say "missing system packages: ${apt_needed[*]}"
    say "install them as root (Debian 12): add bookworm-backports to apt's sources for golang-1.23-go, then"
    say "  apt-get install -y ${apt_needed[*]}"
    say "runtimes whose toolchain is missing answer 503 runtime_unavailable; without bubblewrap the server refuses to run code"
  else
    if [[ " ${apt_needed[*]} " == *" golang-1.23-go "* ]] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      say "adding Debian bookworm-backports to apt's sources (for golang-1.23-go)"
      cat >"$BACKPORTS" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    say "installing ${apt_needed[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${apt_needed[@]/golang-1.23-go/golang-1.23-go/bookworm-backports}" >/dev/null
  fi
fi

# Rust comes from the machine (rustup); it is not installed here.
if ! command -v rustc >/dev/null 2>&1 && [[ ! -x "${HOME:-/root}/.cargo/bin/rustc" ]]; then
  say "Rust (rustc, cargo) is not installed: install it with rustup; until then the rust runtime answers 503"
fi

# npm dependencies (Bun and Deno binaries come with them). A node_modules that is a symbolic link
# is another checkout's install (a git worktree's): it is never reinstalled from here, as npm ci
# would empty the directory it points to under that checkout.
if [[ -L node_modules ]]; then
  [[ -d node_modules/.bin ]] || say "node_modules links to $(readlink node_modules), which has no dependencies installed: run npm ci there"
elif [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  info "installing npm dependencies (npm ci; better-sqlite3 compiles from source, about a minute)"
  JOBS=max npm ci --no-audit --no-fund --loglevel=error >&2
elif [[ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]]; then
  # The server's store of background executions (SQLite): an install that skipped its build script lacks it.
  info "building better-sqlite3"
  JOBS=max npm rebuild better-sqlite3 --loglevel=error >&2
fi

# The sandbox spawner and the launcher every program starts under: small static C programs; the
# launcher embeds the seccomp filters, generated with libseccomp when it is built. Also the
# preload that keeps the Lambda runner non-dumpable (the AWS tests start it like the images do).
helpers=functions/runner/sandbox/launcher
if command -v cc >/dev/null 2>&1; then
  if [[ ! -f build/.helpers ]] || [[ -n $(find "$helpers" -newer build/.helpers -type f -print -quit) ]]; then
    sh "$helpers/build.sh" build
    touch build/.helpers
    info "built the sandbox helpers into build/"
  fi
fi

# The Go build cache, compiled once and shared read-only by every execution.
if [[ -x "$GO_BIN" ]] || command -v go >/dev/null 2>&1; then
  node_modules/.bin/tsx scripts/build-go-cache.ts
fi

# C++'s bits/stdc++.h, precompiled once with the flags compiles use and read-only to them.
if [[ -x /usr/bin/g++ ]] || command -v g++ >/dev/null 2>&1; then
  node_modules/.bin/tsx scripts/build-cpp-pch.ts
fi

# The class-data archive javac starts from (a compile starts in ~2/3 of the time), made once per JDK.
if command -v javac >/dev/null 2>&1; then
  node_modules/.bin/tsx scripts/build-javac-cds.ts
fi

info "ready: $(command -v bwrap >/dev/null 2>&1 && bwrap --version || echo 'no bubblewrap')"
