#!/bin/sh
# PID 1 of an emulated Lambda execution environment, standing for Lambda's own init. Started as
# root in fresh PID and mount namespaces (unshare --pid --fork --mount --mount-proc), it
#   - binds the environment's scratch directory on /tmp, the one writable place,
#   - makes every other mount read-only (in this mount namespace only; /proc stays as mounted),
#   - starts the runtime as its child, as the unprivileged sandbox user with no capabilities,
#   - waits for it, reaping whatever is orphaned to it, and exits with the runtime's status
#     (the kernel then kills everything left in the namespace).
# Its own environment holds what Lambda's init holds: the Runtime API address, the credentials.
#   lambda-init.sh UID GID SCRATCH -- RUNTIME...
set -eu
uid=$1 gid=$2 scratch=$3
shift 4

mount --bind "$scratch" /tmp
mount -o remount,bind,rw,nosuid,nodev /tmp

# Field 5 of mountinfo is the mount point, with space, tab, newline and backslash octal-escaped.
awk '{ print $5 }' /proc/self/mountinfo | while read -r escaped; do
  point=$(printf '%b' "$escaped")
  case $point in
    /proc | /proc/* | /tmp | /tmp/*) ;;
    *) mount -o remount,bind,ro "$point" ;;
  esac
done

setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all -- "$@" &
runtime=$!
status=0
wait "$runtime" || status=$?
exit "$status"
