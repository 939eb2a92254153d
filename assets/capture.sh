#!/usr/bin/env bash
# Regenerate the README screenshots from a real terminal running `cutover demo`.
#
#   assets/capture.sh [OUT_DIR]        (default: the assets/ folder)
#
# Drives the demo in a private tmux server (socket "pics", 100x30), captures
# the screens with `tmux capture-pane -p -e` and renders them to PNG with
# assets/render_ansi.py:
#   wizard-summary.png  the wizard's Summary screen (NO_CHECKSUM warning)
#   dashboard.png       the live dashboard ~20-40 s into a normal-speed run
#   cutover-dialog.png  the cutover dialog of Sales, tail-log backup restored
#                       and the name typed (a second run, with --fast)
# The raw captures (*.ans) are left in $WORK (printed at the end).
#
# Needs: tmux, python3 with Pillow (pip install pillow), DejaVu Sans Mono
# (apt-get install fonts-dejavu-core), cargo.  Set CUTOVER_BIN to use a
# prebuilt binary instead of `cargo build`.  Takes about 1-2 minutes.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OUT="$(mkdir -p "${1:-$HERE}" && cd "${1:-$HERE}" && pwd)"
WORK="$(mktemp -d /tmp/cutover-pics.XXXXXX)"
COLS=100
ROWS=30
SOCK=pics
SESSION=d

if [[ -z "${CUTOVER_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --quiet)
    CUTOVER_BIN="$ROOT/target/debug/cutover"
fi

t() { tmux -L "$SOCK" "$@"; }
cleanup() { t kill-server 2>/dev/null || true; }
trap cleanup EXIT

screen() { t capture-pane -t "$SESSION" -p; }

# wait_for REGEX [TIMEOUT_S]: poll the screen until it matches (extended regex).
wait_for() {
    local re="$1" timeout="${2:-20}" i
    for ((i = 0; i < timeout * 4; i++)); do
        if screen | grep -Eq -- "$re"; then return 0; fi
        sleep 0.25
    done
    echo "timed out waiting for /$re/; screen was:" >&2
    screen >&2
    return 1
}

key() { t send-keys -t "$SESSION" "$@"; sleep "${PAUSE:-1}"; }

# snap NAME: capture the screen with colours and render NAME.png
snap() {
    sleep 0.5  # let the next frame land
    t capture-pane -t "$SESSION" -p -e > "$WORK/$1.ans"
    python3 "$HERE/render_ansi.py" --cols "$COLS" --rows "$ROWS" \
        "$WORK/$1.ans" "$OUT/$1.png"
    echo "wrote $OUT/$1.png ($(stat -c %s "$OUT/$1.png") bytes)"
}

start_demo() {
    cleanup
    t new-session -d -s "$SESSION" -x "$COLS" -y "$ROWS" \
        "cd '$ROOT' && '$CUTOVER_BIN' demo $*; sleep 600"
    wait_for 'Test connection' 30
}

# Walk the wizard up to the Summary screen.
wizard_to_summary() {
    key C-t; wait_for 'Connected: SANDBOX' 30
    key Enter; wait_for '┌ Target' 10
    key C-t; wait_for 'Connected: sandbox managed instance' 30
    key Enter; wait_for '┌ Databases' 10
    wait_for 'HR' 30
    key a; wait_for '4 of 4 selected' 10
    key Enter; wait_for 'Migration settings' 10
    key Enter; wait_for '┌ Summary' 10
    wait_for 'Preflight:' 30
}

# Acknowledge the warnings (if any) and run.
run_from_summary() {
    if screen | grep -q 'Acknowledge warnings'; then
        key Down
        key Space; wait_for 'Acknowledge warnings +\[x\]' 10
    fi
    key Enter; wait_for 'Databases \(4\)' 30
}

# Put the dashboard cursor on Sales.
select_sales() {
    local i
    for ((i = 0; i < 6; i++)); do
        screen | grep -Eq '^>Sales ' && return 0
        key k
    done
    for ((i = 0; i < 6; i++)); do
        screen | grep -Eq '^>Sales ' && return 0
        key j
    done
    echo "could not select Sales" >&2
    return 1
}

# --- 1. wizard summary and live dashboard (normal speed) --------------------
start_demo
wizard_to_summary
snap wizard-summary
run_from_summary
select_sales
# Wait (at least 20 s) until uploading, restoring and catching-up databases
# show at once, with Sales still busy; give up after 90 s and take what is there.
for ((i = 0; i < 90; i++)); do
    s="$(screen)"
    if (( i >= 20 )) && grep -q 'CATCHING UP' <<<"$s" && grep -q 'UPLOADING' <<<"$s" \
        && grep -q 'RESTORING' <<<"$s" && grep -Eq '^>Sales +(UPLOADING|RESTORING)' <<<"$s"; then
        break
    fi
    sleep 1
done
select_sales
snap dashboard
key q; key y

# --- 2. cutover dialog of Sales (fast run) -----------------------------------
start_demo --fast
wizard_to_summary
run_from_summary
wait_for '^.Sales +READY' 240
select_sales
key c; wait_for 'Cutover: Sales' 10
key s         # stop traffic with READ_ONLY
key Enter; wait_for 'Traffic stopped' 30; wait_for 't take it now' 30
key t; wait_for 'Tail-log backup Sales_TAIL' 60
wait_for 'newest backup: Sales_TAIL' 120
wait_for 'pending restore: 0' 120
t send-keys -t "$SESSION" -l Sales
wait_for '^│> Sales' 10
wait_for 'Enter: Complete cutover +│' 10
snap cutover-dialog
key Escape  # abandon: leaves the source as it was
key q; key y

echo "raw captures in $WORK"
