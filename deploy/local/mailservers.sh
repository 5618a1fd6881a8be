#!/usr/bin/env bash
# Real Dovecot (IMAP, LMTP, SASL) and Postfix (SMTP) on loopback for development and the test suite.
#
#   deploy/local/mailservers.sh start    install nothing, configure and start both (root; Debian packages
#                                        dovecot-imapd dovecot-lmtpd postfix must be installed)
#   deploy/local/mailservers.sh stop
#   deploy/local/mailservers.sh env      print the MAILROOM_TEST_* variables the tests read
#
# Mail for @example.test sent to Postfix is delivered to Dovecot over LMTP; any other domain is refused,
# so nothing leaves the machine. Users (password = "<name>-password-1"): alice, bob, carol, dave, erin, frank
# @example.test for the tests (erin sends to frank in the outbox tests; grace is the generated clients' own; henry
# and ivy are the event tests' two tenants; oscar signs in with OAuth2 and writes to petra in the OAuth2 tests),
# bench@example.test for the benchmarks.
set -euo pipefail

DIR=${MAILROOM_MAILSERVERS_DIR:-/tmp/mailroom-mailservers}
DOMAIN=example.test
IMAP_PORT=10143 IMAPS_PORT=10993 LMTP_PORT=10024 AUTH_PORT=10026
SMTP_PORT=10025 SUBMISSION_PORT=10587 SMTPS_PORT=10465
# OAuth2 (XOAUTH2, OAUTHBEARER): Dovecot asks this loopback endpoint whether a bearer token is active (RFC 7662
# introspection). Nothing listens there but an authorization server a test starts; password logins never ask it.
OAUTH_INTROSPECTION_PORT=10080
USERS=(alice bob carol dave bench erin frank grace henry ivy oscar petra)
# Where IMAP and SMTP listen: loopback on a developer's machine and in CI; 0.0.0.0 in the compose image, so the
# other containers reach them. LMTP and the SASL socket stay on loopback either way.
BIND=${MAILSERVERS_BIND:-127.0.0.1}
INTERFACES=$([ "$BIND" = 0.0.0.0 ] && echo all || echo "$BIND")

log() { echo "mailservers: $*" >&2; }

write_env() {
  cat > "$DIR/env" <<ENV
MAILROOM_TEST_MAIL_HOST=127.0.0.1
MAILROOM_TEST_IMAP_PORT=$IMAP_PORT
MAILROOM_TEST_IMAPS_PORT=$IMAPS_PORT
MAILROOM_TEST_LMTP_PORT=$LMTP_PORT
MAILROOM_TEST_SMTP_PORT=$SMTP_PORT
MAILROOM_TEST_SUBMISSION_PORT=$SUBMISSION_PORT
MAILROOM_TEST_SMTPS_PORT=$SMTPS_PORT
MAILROOM_TEST_MAIL_DOMAIN=$DOMAIN
MAILROOM_TEST_MAIL_CA_FILE=$DIR/tls/cert.pem
MAILROOM_TEST_MAIL_USERS=$(IFS=,; echo "${USERS[*]}")
MAILROOM_TEST_MAIL_DIR=$DIR/mail/$DOMAIN
MAILROOM_TEST_OAUTH_INTROSPECTION_PORT=$OAUTH_INTROSPECTION_PORT
ENV
}

make_tls() {
  mkdir -p "$DIR/tls"
  [ -f "$DIR/tls/cert.pem" ] && return
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,DNS:mailservers,IP:127.0.0.1" \
    -keyout "$DIR/tls/key.pem" -out "$DIR/tls/cert.pem" 2>/dev/null
  chmod 644 "$DIR/tls/cert.pem"; chmod 640 "$DIR/tls/key.pem"; chgrp postfix "$DIR/tls/key.pem" 2>/dev/null || true
}

write_dovecot() {
  id vmail >/dev/null 2>&1 || useradd --system --home-dir "$DIR/mail" --shell /usr/sbin/nologin vmail
  local uid gid; uid=$(id -u vmail); gid=$(id -g vmail)
  mkdir -p "$DIR/mail" "$DIR/run" "$DIR/state"
  chown vmail:vmail "$DIR/mail"; chmod 755 "$DIR"
  : > "$DIR/users"
  for name in "${USERS[@]}"; do
    echo "$name@$DOMAIN:{PLAIN}$name-password-1:$uid:$gid::$DIR/mail/$DOMAIN/$name::" >> "$DIR/users"
  done
  chmod 640 "$DIR/users"; chgrp dovecot "$DIR/users"
  cat > "$DIR/dovecot-oauth2.conf.ext" <<OAUTH
introspection_url = http://127.0.0.1:$OAUTH_INTROSPECTION_PORT/introspect
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
OAUTH
  cat > "$DIR/dovecot.conf" <<CONF
base_dir = $DIR/run
state_dir = $DIR/state
log_path = $DIR/dovecot.log
protocols = imap lmtp
listen = $BIND
ssl = yes
ssl_cert = <$DIR/tls/cert.pem
ssl_key = <$DIR/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
mail_location = maildir:~/Maildir
first_valid_uid = $uid
default_internal_user = dovecot
default_login_user = dovenull
mail_max_userip_connections = 200
# tests try wrong passwords and dead tokens on purpose; the default 2 s delay would only slow them down, and the
# per-address penalty (anvil) would grow to 15 s before every login from loopback, failed or not
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
# The password passdb first and without a mechanisms line: LMTP's user lookups go through it (with one, they fail
# and delivery is deferred with 451), and a bearer token that fails here falls through to the oauth2 passdb.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DIR/users
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $DIR/dovecot-oauth2.conf.ext
}
userdb {
  driver = passwd-file
  args = username_format=%u $DIR/users
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = subscribe
  }
}
# each IMAP connection is an imap process: room for the watch benchmark's 2,000 IDLE connections and more
service imap {
  process_limit = 4096
}
service imap-login {
  inet_listener imap {
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = $IMAPS_PORT
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $AUTH_PORT
  }
}
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
CONF
}

configure_postfix() {
  postconf -e \
    "compatibility_level = 3.6" \
    "maillog_file_prefixes = /var, /dev/stdout, $DIR" \
    "maillog_file = $DIR/postfix.log" \
    "inet_interfaces = $INTERFACES" \
    "inet_protocols = ipv4" \
    "myhostname = mail.$DOMAIN" \
    "mydestination = localhost" \
    "mynetworks = 127.0.0.0/8" \
    "virtual_mailbox_domains = $DOMAIN" \
    "virtual_transport = lmtp:inet:127.0.0.1:$LMTP_PORT" \
    "default_transport = error:this test Postfix delivers only to $DOMAIN" \
    "relay_transport = error:this test Postfix delivers only to $DOMAIN" \
    "smtpd_sasl_type = dovecot" \
    "smtpd_sasl_path = inet:127.0.0.1:$AUTH_PORT" \
    "smtpd_sasl_auth_enable = yes" \
    "smtpd_tls_cert_file = $DIR/tls/cert.pem" \
    "smtpd_tls_key_file = $DIR/tls/key.pem" \
    "smtpd_tls_security_level = may" \
    "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination" \
    "smtpd_forbid_bare_newline = yes"
  postconf -MX smtp/inet 2>/dev/null || true
  postconf -Me "$BIND:$SMTP_PORT/inet=$BIND:$SMTP_PORT inet n - n - - smtpd"
  postconf -Me "$BIND:$SUBMISSION_PORT/inet=$BIND:$SUBMISSION_PORT inet n - n - - smtpd \
-o smtpd_tls_security_level=encrypt -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
  postconf -Me "$BIND:$SMTPS_PORT/inet=$BIND:$SMTPS_PORT inet n - n - - smtpd \
-o smtpd_tls_wrappermode=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
}

wait_port() {
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  log "port $1 did not open"; return 1
}

start() {
  [ "$(id -u)" = 0 ] || { log "must run as root (Dovecot and Postfix need it)"; exit 1; }
  command -v dovecot >/dev/null && command -v postfix >/dev/null || {
    log "install the Debian packages dovecot-imapd dovecot-lmtpd postfix first"; exit 1; }
  stop >/dev/null 2>&1 || true
  mkdir -p "$DIR"
  make_tls
  write_dovecot
  dovecot -c "$DIR/dovecot.conf"
  configure_postfix
  postfix start >/dev/null 2>&1 || postfix reload >/dev/null
  for port in $IMAP_PORT $IMAPS_PORT $LMTP_PORT $AUTH_PORT $SMTP_PORT $SUBMISSION_PORT $SMTPS_PORT; do
    wait_port "$port"
  done
  write_env
  log "Dovecot and Postfix listen on $BIND (state in $DIR)"
}

stop() {
  [ -f "$DIR/dovecot.conf" ] && doveadm -c "$DIR/dovecot.conf" stop 2>/dev/null || true
  postfix stop 2>/dev/null || true
  rm -f "$DIR/env"
}

case "${1:-}" in
  start) start ;;
  run) start; exec tail -F "$DIR/dovecot.log" "$DIR/postfix.log" ;;  # in the foreground, for a container
  stop) stop ;;
  env) cat "$DIR/env" ;;
  *) echo "usage: $0 start|run|stop|env" >&2; exit 2 ;;
esac
