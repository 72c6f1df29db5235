# Timing of named steps, for CI's table (sourced by scripts/test.sh, scripts/check_deploy.sh and
# .ci/run): `step NAME command…` runs the command, prints how long it took, and, when
# SAGEALARM_STEPS names a file, appends `NAME<TAB>seconds<TAB>status` to it. The command's
# status is returned. `steps_table FILE` prints the table.

step() { # name command...
    local name="$1" t0="${EPOCHREALTIME/,/.}" rc=0
    shift
    "$@" || rc=$?
    local took
    took=$(awk -v a="$t0" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }')
    echo "==> ${name}: ${took} s$([[ $rc -ne 0 ]] && echo " (failed: $rc)")" >&2
    if [[ -n "${SAGEALARM_STEPS:-}" ]]; then printf '%s\t%s\t%s\n' "$name" "$took" "$rc" >>"$SAGEALARM_STEPS"; fi
    return "$rc"
}

# Records a measured span without running anything (a background job's time, a test binary's).
record() { # name seconds [status]
    if [[ -n "${SAGEALARM_STEPS:-}" ]]; then printf '%s\t%s\t%s\n' "$1" "$2" "${3:-0}" >>"$SAGEALARM_STEPS"; fi
}

steps_table() { # file
    [[ -s "$1" ]] || return 0
    awk -F'\t' '
        BEGIN { printf "\n%-58s %9s  %s\n", "step", "seconds", "status"; printf "%-58s %9s  %s\n", "----", "-------", "------" }
        { printf "%-58s %9s  %s\n", $1, $2, ($3 == 0 ? "ok" : "FAILED " $3) }' "$1"
}

# Seconds since an earlier $EPOCHREALTIME, one decimal.
since() { # t0
    awk -v a="${1/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }'
}
