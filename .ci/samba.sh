#!/usr/bin/env bash
# Starts a private Samba (`smbd`) on 127.0.0.1 for the SMB tests and benches: its own smb.conf and
# state/lock/cache/pid/private folders under $TMPDIR (nothing in /etc/samba is read or written),
# SMB 2.10 or newer only (never SMB1), signing required, NTLMv2 only.
#
#   share `backups`  read-only, a copy of ../shared/samples/appveyor-lab, plus `denied/` (a folder
#                    the test user cannot enter); nothing is writable over SMB: tests and benches
#                    add files through $CUTOVER_TEST_SMB_ROOT (the local folder behind the share)
#   share `private`  the test user is not among its valid users (access denied on the share)
#   share `secure`   encryption required (the same files as `backups`)
#   share `writer`   the same folder, writable by the test user in `incoming/` only: a test plays
#                    SQL Server writing a backup over SMB (a handle that shares nothing), which
#                    cutover reads through `backups` (`backups/incoming/...`)
#
# Usage: source .ci/samba.sh   -> exports CUTOVER_TEST_SMB_HOST, _PORT, _USER, _PASSWORD_ENV (the
#                                 name of the variable holding the password: CUTOVER_TEST_SMB_PASSWORD),
#                                 _PASSWORD, _ROOT (the local folder shared as `backups`), _PID, _CONF
#        bash .ci/samba.sh stop
#        bash .ci/samba.sh restart [SECONDS]   stops smbd (and its per-connection children), waits
#                                 SECONDS (default 3), starts it again on the same port, same files
# The unix account the test user maps to (`cutover-smb`, no login shell, no home) is created when
# missing: that needs root, as smbd itself does to switch to the user on each connection. Not root:
# the script fails with that message (the SMB tests then fail under CI=true, and say why elsewhere).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state_file="$here/samba.state"
port="${CUTOVER_SMB_PORT:-4445}"
user="cutover-smb"

samba_stop() {
    if [ -f "$state_file" ]; then
        local pid dir
        pid="$(sed -n 1p "$state_file")"
        dir="$(sed -n 2p "$state_file")"
        if [ -n "$pid" ]; then samba_kill_server "$pid"; fi
        case "$dir" in */cutover-samba-*) rm -rf "$dir" ;; esac
        rm -f "$state_file"
    fi
}

# Stops smbd and every smbd it forked (one per connection: they would otherwise keep serving the
# connections already open), found as its children in /proc, by pid; the folder stays.
samba_kill_server() {
    local pid="$1" kids
    kids="$(grep -l "^PPid:[[:space:]]*$pid\$" /proc/[0-9]*/status 2>/dev/null | cut -d/ -f3 || true)"
    kill "$pid" $kids 2>/dev/null || true
    for _ in $(seq 1 50); do
        local alive=0
        for k in "$pid" $kids; do kill -0 "$k" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    kill -9 "$pid" $kids 2>/dev/null || true
}

# Starts smbd as a daemon (a foreground smbd stops when its stdin closes, which a restart from a
# test would do at once); its pid from the pid file, in $pid.
samba_start_server() {
    local dir="$1" port="$2"
    rm -f "$dir/pid/smbd.pid"
    smbd -D --configfile="$dir/smb.conf" </dev/null >>"$dir/log/smbd.out" 2>&1 || return 1
    for _ in $(seq 1 100); do
        pid="$(cat "$dir/pid/smbd.pid" 2>/dev/null || true)"
        if [ -n "$pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

if [ "${1:-}" = "stop" ]; then
    samba_stop
    exit 0
fi
if [ "${1:-}" = "restart" ]; then
    [ -f "$state_file" ] || { echo "error: no test Samba to restart ($state_file missing): source .ci/samba.sh first" >&2; exit 1; }
    old="$(sed -n 1p "$state_file")"
    dir="$(sed -n 2p "$state_file")"
    port="$(sed -n 's/^ *smb ports = //p' "$dir/smb.conf")"
    samba_kill_server "$old"
    sleep "${2:-3}"
    if ! samba_start_server "$dir" "$port"; then
        echo "error: smbd did not start again on port $port; its log: $dir/log/smbd.out" >&2
        exit 1
    fi
    printf '%s\n%s\n' "$pid" "$dir" >"$state_file"
    echo "samba restarted on port $port (pid $pid)" >&2
    exit 0
fi

command -v smbd >/dev/null || { echo "error: smbd is missing (apt-get install samba smbclient)" >&2; return 1 2>/dev/null || exit 1; }
if [ "$(id -u)" != "0" ]; then
    echo "error: .ci/samba.sh needs root (smbd switches to the test user per connection, and the unix account $user is created here)" >&2
    return 1 2>/dev/null || exit 1
fi
samples="$(cd "$here/../.." && pwd)/shared/samples/appveyor-lab"
if [ ! -d "$samples" ]; then
    echo "error: $samples is missing: the Samba share holds copies of the sample backups" >&2
    return 1 2>/dev/null || exit 1
fi
samba_stop
if ! id "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
fi

# The first free port from $port (another checkout's Samba may hold 4445).
for _ in $(seq 1 20); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then port=$((port + 1)); else break; fi
done
dir="$(mktemp -d "${TMPDIR:-/tmp}/cutover-samba-XXXXXX")"
# smbd enters the shares as the test user: it needs to traverse the folders above them. mktemp makes
# 0700 folders; open the ones under $TMPDIR (and $TMPDIR itself) for traversal only (o+x, no read).
p="$dir"
while [ "$p" != "/" ]; do
    if [ -O "$p" ] && [ ! -k "$p" ]; then chmod o+x "$p"; fi
    [ "$p" = "${TMPDIR:-/tmp}" ] && break
    p="$(dirname "$p")"
done
mkdir -p "$dir"/{private,lock,state,cache,pid,ncalrpc,log,shares}
chmod 0700 "$dir"/{private,state,cache,pid,ncalrpc,log}
# The lock folder is 0755 as in a packaged Samba (/run/samba/lock): before honouring another
# connection's open (its share modes), smbd checks, acting as the user, that the smbd holding it is
# alive (msg.lock/<pid> in here); with 0700 it could not look, took every other connection's open
# for stale and never answered STATUS_SHARING_VIOLATION across connections.
chmod 0755 "$dir/lock"
root="$dir/shares/backups"
cp -r "$samples" "$root"
mkdir -p "$root/denied" "$root/incoming" "$dir/shares/private"
cp "$samples/singlerestore/"* "$root/denied/" 2>/dev/null || true
cp -r "$samples/singlerestore" "$dir/shares/private/"
chmod -R a+rX "$root" "$dir/shares/private"
chmod 0700 "$root/denied"
chown "$user" "$root/incoming"
password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')Aa1"

cat >"$dir/smb.conf" <<EOF
[global]
    netbios name = CUTOVERTEST
    workgroup = CUTOVER
    server role = standalone server
    security = user
    passdb backend = tdbsam:$dir/private/passdb.tdb
    private dir = $dir/private
    lock directory = $dir/lock
    state directory = $dir/state
    cache directory = $dir/cache
    pid directory = $dir/pid
    ncalrpc dir = $dir/ncalrpc
    log file = $dir/log/%m.log
    log level = 1
    interfaces = 127.0.0.1
    bind interfaces only = yes
    smb ports = $port
    disable netbios = yes
    disable spoolss = yes
    load printers = no
    printcap name = /dev/null
    server min protocol = SMB2_10
    server signing = mandatory
    ntlm auth = ntlmv2-only
    map to guest = never
    restrict anonymous = 2
    usershare max shares = 0
    unix extensions = no

[backups]
    path = $root
    read only = yes
    browseable = yes
    valid users = $user

[private]
    path = $dir/shares/private
    read only = yes
    valid users = nobody-but-root

[secure]
    path = $root
    read only = yes
    valid users = $user
    server smb encrypt = required

[writer]
    path = $root
    read only = no
    valid users = $user
EOF

printf '%s\n%s\n' "$password" "$password" \
    | smbpasswd -c "$dir/smb.conf" -s -a "$user" >/dev/null

pid=""
samba_start_server "$dir" "$port" || true
printf '%s\n%s\n' "$pid" "$dir" >"$state_file"
if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: smbd did not start on port $port; its log:" >&2
    cat "$dir/log/smbd.out" >&2
    samba_stop
    return 1 2>/dev/null || exit 1
fi
export CUTOVER_TEST_SMB_HOST=127.0.0.1
export CUTOVER_TEST_SMB_PORT="$port"
export CUTOVER_TEST_SMB_USER="CUTOVER\\$user"
export CUTOVER_TEST_SMB_PASSWORD_ENV=CUTOVER_TEST_SMB_PASSWORD
export CUTOVER_TEST_SMB_PASSWORD="$password"
export CUTOVER_TEST_SMB_ROOT="$root"
export CUTOVER_TEST_SMB_PID="$pid"
export CUTOVER_TEST_SMB_CONF="$dir/smb.conf"
echo "samba at smb://127.0.0.1:$port/backups (pid $pid, user $user, files $root)" >&2
