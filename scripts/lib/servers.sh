# Servers started and stopped by PID, for scripts/emulators.sh and scripts/prometheus.sh (sourced).
# The caller sets DIR (where the pid and log files go) and defines `log`.

port_in_use() {
    python3 -I -S -c 'import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(("127.0.0.1",int(sys.argv[1])))!=0)' "$1"
}

free_port() {
    python3 -I -S -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Runs "$@" detached in its own session (so its PID is also its process-group id) and records
# that PID in the pid file. The child writes its own PID, so it is right even if setsid forks.
spawn() { # name cmd...
    local name="$1"; shift
    rm -f "$DIR/$name.pid"
    setsid sh -c 'echo $$ > "$0"; exec "$@"' "$DIR/$name.pid" "$@" >"$DIR/$name.log" 2>&1 </dev/null &
    disown
    local i
    for i in $(seq 50); do [[ -s "$DIR/$name.pid" ]] && return; sleep 0.1; done
    log "$name: no pid file written"; return 1
}

pid_of() { [[ -s "$DIR/$1.pid" ]] && cat "$DIR/$1.pid"; }

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

stop_one() { # name expected-cmdline-word
    local name="$1" word="$2" pid i
    pid="$(pid_of "$name" || true)"
    if [[ -z "$pid" ]]; then rm -f "$DIR/$name.pid"; return; fi
    # Guard against a recycled PID: a live leader must still be what we started.
    if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$word"; then
        log "$name: PID $pid is no longer $name; not touching it"
        rm -f "$DIR/$name.pid"; return
    fi
    if group_alive "$pid"; then
        log "stopping $name (process group $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || true
        for i in $(seq 100); do group_alive "$pid" || break; sleep 0.1; done
        if group_alive "$pid"; then
            log "$name did not exit after TERM; sending KILL"
            kill -KILL -- "-$pid" 2>/dev/null || true
            for i in $(seq 20); do group_alive "$pid" || break; sleep 0.1; done
        fi
    fi
    rm -f "$DIR/$name.pid"
}
