# Shared by tools/e2e/up, tools/e2e/down and the image builders. Source it; do not run it.
# shellcheck shell=bash
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../versions/cluster.env
source "$E2E_DIR/versions/cluster.env"

# Builds and downloads, kept between runs (outside the repository).
CACHE=${GRIDDB_TODO_CLUSTER_CACHE:-/var/cache/griddb-todo/cluster}
# Cluster state (etcd data, certificates, containerd root): survives `down`, removed by `down --purge`.
STATE=${GRIDDB_TODO_CLUSTER_STATE:-/var/lib/griddb-todo-e2e}
# Pid files, sockets, logs of the running cluster.
RUN=${GRIDDB_TODO_CLUSTER_RUN:-/run/griddb-todo-e2e}
LOGS=$STATE/logs
KUBECONFIG_PATH=$STATE/kubeconfig
# Go downloads and build cache live in the cluster cache too, so CI on this machine rebuilds warm.
export GOMODCACHE=$CACHE/gomod GOCACHE=$CACHE/gocache GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

log() { printf '[e2e %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Short hash of files: part of every cache key, so a recipe change rebuilds like a pin bump does.
recipe_hash() { cat "$@" | sha256sum | cut -c1-12; }

# run_long DESCRIPTION LOGFILE CMD...: run a long step quietly, printing its progress (elapsed time
# and the log's last line) every 20 s; on failure print the log's tail and return its status.
run_long() {
	local desc=$1 logf=$2 start rc pid
	shift 2
	mkdir -p "$(dirname "$logf")"
	start=$(date +%s)
	log "$desc (log: $logf)"
	"$@" >"$logf" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
		kill -0 "$pid" 2>/dev/null &&
			log "  ... $desc: $(($(date +%s) - start))s, $(tail -n 1 "$logf" | cut -c1-100)"
	done
	wait "$pid" && rc=0 || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -n 30 "$logf" >&2
		log "FAILED ($rc) after $(($(date +%s) - start))s: $desc"
		return "$rc"
	fi
	log "done in $(($(date +%s) - start))s: $desc"
}

# registry_has IMAGE: the local registry serves this repository:tag.
registry_has() {
	local ref=${1#*/} repo tag
	repo=${ref%:*}
	tag=${ref##*:}
	curl -fsS -o /dev/null -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY/v2/$repo/manifests/$tag" 2>/dev/null
}

# pid_alive NAME: the process recorded in $RUN/NAME.pid is running and is still the program we
# started ($RUN/NAME.exe), not another process that got the same PID after a restart.
pid_alive() {
	local pid
	[ -f "$RUN/$1.pid" ] || return 1
	pid=$(cat "$RUN/$1.pid")
	kill -0 "$pid" 2>/dev/null || return 1
	[ ! -f "$RUN/$1.exe" ] || [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$(cat "$RUN/$1.exe")" ]
}

# stop_daemons NAME...: SIGTERM every process in $RUN/NAME.pid at once, SIGKILL those still there
# after 15 s; remove the pid files. Only processes that are still the program up started.
stop_daemons() {
	local name pid i left
	local -A pids=()
	for name in "$@"; do
		if pid_alive "$name"; then
			pids[$name]=$(cat "$RUN/$name.pid")
			kill -TERM "${pids[$name]}" 2>/dev/null || true
		fi
	done
	for i in $(seq 30); do
		left=0
		for name in "${!pids[@]}"; do kill -0 "${pids[$name]}" 2>/dev/null && left=1; done
		[ "$left" = 0 ] && break
		sleep 0.5
	done
	for name in "${!pids[@]}"; do
		pid=${pids[$name]}
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) did not stop in 15s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		log "stopped $name (pid $pid)"
	done
	for name in "$@"; do rm -f "$RUN/$name.pid" "$RUN/$name.exe"; done
}
stop_daemon() { stop_daemons "$1"; }

# close_inherited_fds: in a subshell about to exec a daemon, close every descriptor but 0-2.
close_inherited_fds() {
	local fd fds
	fds=$(ls /proc/$BASHPID/fd)
	for fd in $fds; do
		((fd > 2)) && eval "exec $fd>&-"
	done
	return 0
}
