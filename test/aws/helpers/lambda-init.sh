#!/bin/sh
# PID 1 of an emulated Lambda execution environment, standing for Lambda's own init. Started as
# root in fresh PID and mount namespaces (unshare --pid --fork --mount --mount-proc), it
#   - binds the repository read-only at VIEW (on a tmpfs over VIEW's parent, in this mount
#     namespace only), where the runtime's paths point, as a function's code sits in /var/task;
#   - binds the environment's scratch directory on /tmp, the one writable place,
#   - makes every other mount read-only (in this mount namespace only; /proc stays as mounted),
#   - starts the runtime as its child, as the unprivileged sandbox user with no capabilities,
#   - waits for it, reaping whatever is orphaned to it, and exits with the runtime's status
#     (the kernel then kills everything left in the namespace).
# Its own environment holds what Lambda's init holds: the Runtime API address, the credentials.
#   lambda-init.sh UID GID SCRATCH REPO VIEW -- RUNTIME...
set -eu
uid=$1 gid=$2 scratch=$3 repo=$4 view=$5
shift 6

# First the repository: it may itself live under /tmp, which the scratch bind hides.
mount -t tmpfs -o size=1m,mode=755 runtools-code "$(dirname "$view")"
mkdir "$view"
mount --bind "$repo" "$view"
cd "$view"

mount --bind "$scratch" /tmp
mount -o remount,bind,rw,nosuid,nodev /tmp

# Field 5 of mountinfo is the mount point, with space, tab, newline and backslash octal-escaped.
awk '{ print $5 }' /proc/self/mountinfo | while read -r escaped; do
  point=$(printf '%b' "$escaped")
  case $point in
    /proc | /proc/* | /tmp | /tmp/*) ;;
    # A mount hidden under another one (below VIEW's tmpfs) has no path left to reach it by.
    *) [ ! -e "$point" ] || mount -o remount,bind,ro "$point" ;;
  esac
done

setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all -- "$@" &
runtime=$!
status=0
wait "$runtime" || status=$?
exit "$status"
