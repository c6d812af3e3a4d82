#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin probe --starttls against real servers from Debian 12, each started
# here on a free loopback port with its own config and a self-signed cert in
# a temp dir, run in the foreground (no systemd), and stopped at the end:
#   smtp postfix (master -d)          TLS 1.3 only; a 2nd listener without TLS
#   imap, pop3 dovecot (-F)           TLS 1.2 and up
#   ldap slapd (-d 0; GnuTLS)          TLS 1.2 and up
#   postgres postgres (initdb)        TLS 1.2 only; then ssl=off ('N')
#   mysql mariadbd (install-db)       TLS 1.3 only
#   xmpp prosody (-F)                 TLS 1.2 and up; a wrong to= domain
#   ftp vsftpd (background=NO)        OpenSSL defaults
# Each record is checked on the JSON: the versions each server was
# configured for, how it refused the others, the close tests; then the
# error paths, against real servers where one can show them and against
# tests/integration/starttls/fake_servers.py where not (a FIN mid-dialogue,
# garbage, floods, lying lengths): exit 3 with the reason, never a crash.
# Exit 77 when not root, or when a server's package is missing (the rest
# still runs).  usage: test_starttls.sh TLSFIN
set -uo pipefail
T=$1
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "skip: needs root (the servers run as their own users)"
  exit 77
fi
tmp=$(mktemp -d /tmp/tlsfin-starttls.XXXXXX)
chmod 755 "$tmp" # the servers' own users read their files here
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
pass=0 fail=0 missing=()
ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
ms() { date +%s%3N; }
# Free ports, all asked at once: a Python start is the slow part here.
read -ra free < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(16)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
nfree=0
freeport() { printf -v "$1" %s "${free[nfree]}"; nfree=$((nfree + 1)); }
waitport() { # port [seconds]: until something accepts on it
  local i
  for ((i = 0; i < ${2:-15} * 20; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
have() { # command package: is the server installed?
  if command -v "$1" >/dev/null 2>&1 || [[ -x $1 ]]; then return 0; fi
  echo "skip $2: not installed"
  missing+=("$2")
  return 1
}
timing() { echo "time $1: server start $2 ms, probe $3 ms"; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 2 \
  -subj /CN=localhost 2>/dev/null
chmod 644 "$tmp/k.pem" "$tmp/c.pem"

# The two database servers' data directories take seconds to make: both
# are made in the background while the other servers are tested.
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -x ${pgbin:-/nonexistent}/initdb ]]; then
  mkdir -p "$tmp/pg"
  cp "$tmp/c.pem" "$tmp/k.pem" "$tmp/pg/"
  chown -R postgres "$tmp/pg"
  chmod 600 "$tmp/pg/k.pem" # postgres refuses a key others can read
  setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$pgbin/initdb" -D "$tmp/pg/data" -A trust -U postgres --no-sync \
    >"$tmp/pg/initdb.log" 2>&1 &
  pg_init=$!
fi
if command -v mariadb-install-db >/dev/null 2>&1; then
  mkdir -p "$tmp/mariadb"
  mariadb-install-db --no-defaults --datadir="$tmp/mariadb/data" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >"$tmp/mariadb/install.log" 2>&1 &
  my_init=$!
fi

# check NAME PORT PYTHON [probe args]: probe, expect exit $want (default 0),
# then the assertions with r (the record), v (versions by name), c (close)
check() {
  local name=$1 port=$2 py=$3 rc=0 t0; shift 3
  t0=$(ms)
  "$T" probe --format=json --timeout="${timeout:-2000}" "$@" "127.0.0.1:$port" \
    >"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
  probe_ms=$(($(ms) - t0))
  if [[ $rc -eq ${want:-0} ]] &&
     python3 - "$tmp/$name.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
v = {x["offered"]: x for x in r["versions"]}
c = r["close"]
ENDED = ("close_notify", "fin", "rst")
REFUSED = ("alert", "closed", "reset")
def tls_from(lo, best, starttls):
    """accepted from lo up to best, refused below and above"""
    order = ["TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"]
    assert r["tested"] is True and r["reason"] is None and r["starttls"] == starttls, r
    for k in order:
        want = order.index(lo) <= order.index(k) <= order.index(best)
        if want:
            assert v[k]["outcome"] == "accepted" and v[k]["version"] == k, (k, v[k])
        else:
            assert v[k]["outcome"] in REFUSED, (k, v[k])
    assert v["SSL3"]["outcome"] in REFUSED, v["SSL3"]
    assert v["max"]["outcome"] == "accepted" and v["max"]["version"] == best, v["max"]
    for t in ("close_notify", "truncation"):
        assert c[t]["server"] in ENDED and 0 <= c[t]["ms"] < 2000, (t, c[t])
    assert c["close_notify"]["then"] in (None, "fin", "rst"), c
    assert c["half_close"]["server"] == "skipped" and c["idle"]["server"] == "skipped", c
def untested(reason, starttls):
    assert r["tested"] is False and r["starttls"] == starttls, r
    assert r["reason"].startswith(starttls + ": "), r["reason"]
    assert reason in r["reason"], (reason, r["reason"])
    assert r["close"] == {}, r
    assert [x["outcome"] for x in r["versions"]] in ([], ["starttls_failed"]), r["versions"]
# what the server did, for whoever reads the log
with open(sys.argv[1][:-5] + ".said", "w") as said:
  if r["tested"]:
    print("     versions:", ", ".join("%s=%s%s" % (x["offered"], x["outcome"],
          "(%s)" % (x["alert"] or x["version"]) if x["alert"] or x["version"] else "")
          for x in r["versions"]), file=said)
    print("     close:", ", ".join("%s=%s/%s" % (k, x["server"], x["then"])
          for k, x in r["close"].items() if x["server"] != "skipped"), file=said)
  else:
    print("     reason:", r["reason"], file=said)
$py
PY
  then ok "$name"; else ko "$name (exit $rc)"; cat "$tmp/$name.json" "$tmp/$name.err"; fi
  cat "$tmp/$name.said" 2>/dev/null
}

# ---- smtp: postfix ------------------------------------------------------
if have /usr/lib/postfix/sbin/master postfix; then
  t0=$(ms)
  freeport port; freeport plain
  d=$tmp/postfix
  # what master(8) needs of the queue; `postfix check` would make them,
  # and a dozen more, in 3 s
  mkdir -p "$d/etc" "$d/spool/pid" "$d/spool/private" "$d/spool/public" "$d/data"
  chown postfix "$d/data" "$d/spool/private" "$d/spool/public"
  cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
myhostname = probe.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# no syslog here: postlogd writes this file
maillog_file = $d/maillog
maillog_file_prefixes = $tmp
smtpd_tls_cert_file = $tmp/c.pem
smtpd_tls_key_file = $tmp/k.pem
smtpd_tls_security_level = may
smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.2
EOF
  cat >"$d/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
127.0.0.1:$plain inet n - n - - smtpd -o smtpd_tls_security_level=none
tlsmgr    unix  -  -  n  1000?  1  tlsmgr
anvil     unix  -  -  n  -      1  anvil
proxymap  unix  -  -  n  -      -  proxymap
postlog   unix-dgram n  -  n  -  1  postlogd
EOF
  /usr/lib/postfix/sbin/master -c "$d/etc" -d >"$d/out" 2>&1 &
  pids+=($!)
  if waitport "$port" && waitport "$plain"; then
    start=$(($(ms) - t0))
    check postfix_smtp "$port" '
tls_from("TLS1.3", "TLS1.3", "smtp")
assert v["TLS1.2"]["outcome"] == "alert" and v["TLS1.2"]["alert"] == "protocol_version", v' \
      --starttls=smtp
    timing postfix "$start" "$probe_ms"
    want=3 check postfix_no_starttls "$plain" '
untested("smtp: server does not offer STARTTLS (EHLO reply has no STARTTLS)", "smtp")' \
      --starttls=smtp
  else
    ko "postfix did not start"; cat "$d/out" "$d/maillog" 2>/dev/null
  fi
fi

# ---- imap, pop3: dovecot ------------------------------------------------
if have dovecot dovecot-imapd; then
  t0=$(ms)
  freeport imap; freeport pop3
  d=$tmp/dovecot
  mkdir -p "$d/run" "$d/state" "$d/home"
  cat >"$d/dovecot.conf" <<EOF
base_dir = $d/run
state_dir = $d/state
instance_name = tlsfin-starttls
protocols = imap pop3
listen = 127.0.0.1
log_path = $d/log
ssl = yes
ssl_cert = <$tmp/c.pem
ssl_key = <$tmp/k.pem
ssl_min_protocol = TLSv1.2
mail_location = maildir:$d/home/Maildir
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/home
}
service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
  dovecot -F -c "$d/dovecot.conf" >"$d/out" 2>&1 &
  pids+=($!)
  if waitport "$imap" && waitport "$pop3"; then
    start=$(($(ms) - t0))
    check dovecot_imap "$imap" 'tls_from("TLS1.2", "TLS1.3", "imap")' --starttls=imap
    timing dovecot-imap "$start" "$probe_ms"
    if [[ -x /usr/lib/dovecot/pop3-login ]]; then
      check dovecot_pop3 "$pop3" 'tls_from("TLS1.2", "TLS1.3", "pop3")' --starttls=pop3
      timing dovecot-pop3 0 "$probe_ms"
    else
      echo "skip dovecot-pop3d: not installed"; missing+=(dovecot-pop3d)
    fi
  else
    ko "dovecot did not start"; cat "$d/out" "$d/log" 2>/dev/null
  fi
fi

# ---- ldap: slapd (linked with GnuTLS in Debian) -------------------------
if have slapd slapd; then
  t0=$(ms)
  freeport port
  d=$tmp/slapd
  mkdir -p "$d/db"
  cat >"$d/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $tmp/c.pem
TLSCertificateKeyFile $tmp/k.pem
# GnuTLS priorities: TLSProtocolMin has no effect with GnuTLS here
TLSCipherSuite NORMAL:-VERS-TLS1.0:-VERS-TLS1.1
database mdb
suffix "dc=test"
directory $d/db
EOF
  slapd -d 0 -f "$d/slapd.conf" -h "ldap://127.0.0.1:$port/" >"$d/out" 2>&1 &
  pids+=($!)
  if waitport "$port"; then
    start=$(($(ms) - t0))
    check slapd_ldap "$port" 'tls_from("TLS1.2", "TLS1.3", "ldap")' --starttls=ldap
    timing slapd "$start" "$probe_ms"
  else
    ko "slapd did not start"; cat "$d/out"
  fi
fi

# ---- postgres -----------------------------------------------------------
if have "${pgbin:-/nonexistent}/postgres" postgresql; then
  t0=$(ms)
  freeport port
  d=$tmp/pg
  wait "$pg_init"
  cat >>"$d/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$d'
ssl = on
ssl_cert_file = '$d/c.pem'
ssl_key_file = '$d/k.pem'
ssl_max_protocol_version = 'TLSv1.2'
EOF
  setpriv --reuid=postgres --regid=postgres --init-groups -- \
    "$pgbin/postgres" -D "$d/data" >"$d/out" 2>&1 &
  pgpid=$!
  pids+=($pgpid)
  if waitport "$port"; then
    start=$(($(ms) - t0))
    check postgres "$port" '
tls_from("TLS1.2", "TLS1.2", "postgres")
assert v["TLS1.3"]["alert"] == "protocol_version", v["TLS1.3"]' --starttls=postgres
    timing postgres "$start" "$probe_ms"
    # ssl is reloadable: the same server, now answering 'N'
    echo "ssl = off" >>"$d/data/postgresql.conf"
    kill -HUP "$pgpid"
    for _ in $(seq 40); do grep -q "parameter \"ssl\" changed" "$d/out" && break; sleep 0.05; done
    want=3 check postgres_ssl_off "$port" '
untested("postgres: server answered '"'N'"' to SSLRequest: TLS not enabled", "postgres")' \
      --starttls=postgres
  else
    ko "postgres did not start"; cat "$d/initdb.log" "$d/out"
  fi
fi

# ---- mysql: mariadb -----------------------------------------------------
if have mariadbd mariadb-server; then
  t0=$(ms)
  freeport port
  d=$tmp/mariadb
  wait "$my_init"
  # every refused version is a failed connect to mariadb: keep the host
  # from being blocked (max_connect_errors) whatever else runs
  mariadbd --no-defaults --datadir="$d/data" --user=root --port="$port" \
    --bind-address=127.0.0.1 --socket="$d/sock" --pid-file="$d/pid" --skip-log-bin \
    --skip-name-resolve --max-connect-errors=100000 --innodb-buffer-pool-size=16M \
    --ssl-cert="$tmp/c.pem" --ssl-key="$tmp/k.pem" --tls-version=TLSv1.3 >"$d/out" 2>&1 &
  pids+=($!)
  if waitport "$port" 30; then
    start=$(($(ms) - t0))
    check mariadb "$port" '
tls_from("TLS1.3", "TLS1.3", "mysql")
assert v["TLS1.2"]["alert"] == "protocol_version", v["TLS1.2"]' --starttls=mysql
    timing mariadb "$start" "$probe_ms"
  else
    ko "mariadbd did not start"; cat "$d/install.log" "$d/out"
  fi
fi

# ---- xmpp: prosody ------------------------------------------------------
if have prosody prosody; then
  t0=$(ms)
  freeport port
  d=$tmp/prosody
  mkdir -p "$d/data"
  cat >"$d/prosody.cfg.lua" <<EOF
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
interfaces = { "127.0.0.1" }
c2s_ports = { $port }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s", "offline" }
log = { { levels = { min = "info" }, to = "file", filename = "$d/prosody.log" } }
ssl = { certificate = "$tmp/c.pem", key = "$tmp/k.pem", protocol = "tlsv1_2+" }
c2s_require_encryption = true
VirtualHost "localhost"
EOF
  prosody -F --config "$d/prosody.cfg.lua" >"$d/out" 2>&1 &
  pids+=($!)
  if waitport "$port"; then
    start=$(($(ms) - t0))
    check prosody_xmpp "$port" 'tls_from("TLS1.2", "TLS1.3", "xmpp")' \
      --starttls=xmpp --xmpp-host=localhost
    timing prosody "$start" "$probe_ms"
    # to= defaults to HOST, here 127.0.0.1: not a host prosody serves
    want=3 check prosody_unknown_host "$port" '
untested("xmpp: server sent a stream error: host-unknown", "xmpp")' --starttls=xmpp
  else
    ko "prosody did not start"; cat "$d/out" "$d/prosody.log" 2>/dev/null
  fi
fi

# ---- ftp: vsftpd --------------------------------------------------------
if have vsftpd vsftpd; then
  t0=$(ms)
  freeport port
  d=$tmp/vsftpd
  mkdir -p "$d/empty"
  cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$port
background=NO
anonymous_enable=NO
local_enable=YES
secure_chroot_dir=$d/empty
seccomp_sandbox=NO
ssl_enable=YES
rsa_cert_file=$tmp/c.pem
rsa_private_key_file=$tmp/k.pem
vsftpd_log_file=$d/log
EOF
  vsftpd "$d/vsftpd.conf" >"$d/out" 2>&1 &
  pids+=($!)
  if waitport "$port"; then
    start=$(($(ms) - t0))
    check vsftpd_ftp "$port" 'tls_from("TLS1.2", "TLS1.3", "ftp")' --starttls=ftp
    timing vsftpd "$start" "$probe_ms"
  else
    ko "vsftpd did not start"; cat "$d/out"
  fi
fi

# ---- error paths: scripted servers --------------------------------------
# one process serves every mode, each on its own port
t0=$(ms)
python3 "$here/fake_servers.py" closemid longline flood inject ldaphuge ldapnotice \
  mysqlerr mysqlbig xmpperror garbage random >"$tmp/fakes" 2>&1 &
pids+=($!)
for _ in $(seq 200); do grep -q '^ready' "$tmp/fakes" && break; sleep 0.05; done
fake() { port=$(awk -v m="$1" '$1 == m { print $2 }' "$tmp/fakes"); }
fake closemid
want=3 check closed_mid_dialogue "$port" '
untested("smtp: server closed the connection (FIN) waiting for the EHLO reply", "smtp")' \
  --starttls=smtp
fake longline
want=3 check long_line "$port" 'untested("longer than 4096 bytes", "smtp")' --starttls=smtp
fake flood
want=3 check endless_reply "$port" 'untested("the EHLO reply has more than 256 lines", "smtp")' \
  --starttls=smtp
fake inject
want=3 check bytes_after_go_ahead "$port" '
untested("smtp: server sent 7 bytes after its 220 to STARTTLS, before TLS", "smtp")' \
  --starttls=smtp
fake ldaphuge
want=3 check ldap_huge_length "$port" 'untested("announces 2147483647 bytes", "ldap")' \
  --starttls=ldap
fake ldapnotice
want=3 check ldap_notice_of_disconnection "$port" '
untested("server answered messageID 0, not our 1: resultCode 52 (unavailable): server shutting down", "ldap")' \
  --starttls=ldap
fake mysqlerr
want=3 check mysql_err_packet "$port" '
untested("server refused the connection: error 1040 \"Too many connections\"", "mysql")' \
  --starttls=mysql
fake mysqlbig
want=3 check mysql_huge_packet "$port" 'untested("greeting announces 16777215 bytes", "mysql")' \
  --starttls=mysql
fake xmpperror
want=3 check xmpp_stream_error "$port" 'untested("stream error: host-unknown", "xmpp")' \
  --starttls=xmpp
# garbage and random bytes for every protocol: a reason, never a crash
for mode in garbage random; do
  fake $mode
  for proto in smtp imap pop3 ftp ldap postgres mysql xmpp; do
    timeout=400 want=3 check "${mode}_$proto" "$port" "untested('', '$proto')" \
      --starttls=$proto
  done
done
echo "time error paths: $(($(ms) - t0)) ms"

# nobody listening: the connection fails before any dialogue
freeport port
want=3 check refused "$port" '
assert r["tested"] is False and r["reason"].startswith("cannot connect"), r
assert r["starttls"] == "smtp", r' --starttls=smtp

# the table says it too
fake closemid
rc=0; "$T" probe --starttls=smtp --timeout=1000 "127.0.0.1:$port" >"$tmp/table" 2>&1 || rc=$?
if [[ $rc -eq 3 ]] && grep -q "starttls smtp" "$tmp/table" &&
   grep -q "not tested: smtp: server closed the connection" "$tmp/table"; then
  ok table; else ko "table (exit $rc)"; cat "$tmp/table"; fi

# bad usage: exit 2, nothing probed
for args in "--starttls=gopher" "--starttls=smtp --http" "--xmpp-host=x" \
            "--starttls=smtp --xmpp-host=x"; do
  rc=0
  # shellcheck disable=SC2086
  "$T" probe $args 127.0.0.1:1 >/dev/null 2>"$tmp/usage.err" || rc=$?
  if [[ $rc -eq 2 ]]; then ok "usage: $args"; else ko "usage: $args (exit $rc)"; cat "$tmp/usage.err"; fi
done

echo "$pass passed, $fail failed"
if [[ $fail -gt 0 ]]; then exit 1; fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "skip: not installed: ${missing[*]} (scripts/setup installs them)"
  exit 77
fi
exit 0
