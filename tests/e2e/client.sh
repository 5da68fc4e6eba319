#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# client.sh RESOLV PIDFILE [--time MSFILE] CMD [ARG...]
#
# How every test client starts, always as `unshare -m client.sh ...`:
# RESOLV is bound over /etc/resolv.conf in this private mount namespace, so a
# client that reads resolv.conf never sees the host's resolver. Then CMD is
# exec'd in this very process: the pid written to PIDFILE is the pid the block
# line must name. With --time, CMD runs as a child instead (its pid still goes
# to PIDFILE) and its wall time in milliseconds goes to MSFILE.
resolv=$1 pidfile=$2
shift 2
mount --bind "$resolv" /etc/resolv.conf || exit 125
if [ "$1" != --time ]; then
	echo $$ >"$pidfile"
	exec "$@"
fi
msfile=$2
shift 2
start=$(date +%s%N)
"$@" &
echo $! >"$pidfile"
wait $!
rc=$?
end=$(date +%s%N)
echo $(((end - start) / 1000000)) >"$msfile"
exit $rc
