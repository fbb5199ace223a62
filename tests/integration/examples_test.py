#!/usr/bin/env python3
"""Runs the examples (examples/*.cpp) against the Dovecot of dovecot.sh, so that they keep
working, not only compiling (registered in ctest as pop3_examples_test).

    POP3_TEST_ENV=DIR/env python3 examples_test.py EXAMPLES-BINARY-DIR

An example that was not built (poll_many without coroutine support, leave_on_server
without the leave-on-server headers) is skipped. Python 3 standard library only.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

BIN = sys.argv[1] if len(sys.argv) > 1 else "."
ENV = {}
SCRATCH = tempfile.mkdtemp(prefix="pop3-examples-test.")


def load_env():
    with open(os.environ["POP3_TEST_ENV"]) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                ENV[k] = v


def uids(user):
    with open(os.path.join(ENV["POP3_TEST_EXPECTED"], user + ".tsv")) as f:
        return [line.split("\t")[1] for line in f if line.strip()]


def run(name, *args, password="secret-alice"):
    exe = os.path.join(BIN, name)
    if not os.access(exe, os.X_OK):
        return None
    env = dict(os.environ, POP3_PASSWORD=password)
    return subprocess.run([exe] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=120)


def check(cond, what, p=None):
    if not cond:
        if p is not None:
            what += "\nexit %d\nstdout: %r\nstderr: %r" % (p.returncode, p.stdout[-1500:], p.stderr[-1500:])
        raise AssertionError(what)


def test_quickstart():
    p = run("quickstart", ENV["POP3_TEST_HOST"], "alice", ENV["POP3_TEST_TLS_PORT"], ENV["POP3_TEST_CA"])
    if p is None:
        return "skipped"
    check(p.returncode == 0, "quickstart failed", p)
    for i, uid in enumerate(uids("alice"), 1):
        check(b"%d %s\n" % (i, uid.encode()) in p.stdout, "quickstart does not list UID %s" % uid, p)
    check(b"Subject: Plain CRLF message" in p.stdout, "quickstart did not print message 1", p)
    # Without the CA the certificate is not trusted: it must fail, not connect.
    p = run("quickstart", ENV["POP3_TEST_HOST"], "alice", ENV["POP3_TEST_TLS_PORT"])
    check(p.returncode != 0, "quickstart trusted an unknown CA", p)


def test_tls_scram():
    p = run("tls_scram", ENV["POP3_TEST_HOST"], "alice", ENV["POP3_TEST_PORT"], ENV["POP3_TEST_CA"])
    if p is None:
        return "skipped"
    check(p.returncode == 0 and b"TLS active" in p.stdout and b"13 messages" in p.stdout, "tls_scram", p)
    p = run("tls_scram", ENV["POP3_TEST_HOST"], "alice", ENV["POP3_TEST_NOSTLS_PORT"], ENV["POP3_TEST_CA"])
    check(p.returncode == 1 and b"does not offer STLS" in p.stderr, "tls_scram without STLS must refuse", p)
    p = run("tls_scram", ENV["POP3_TEST_HOST"], "alice", ENV["POP3_TEST_PORT"], ENV["POP3_TEST_CA"],
            password="wrong")
    check(p.returncode == 1, "tls_scram with a wrong password", p)


def test_poll_many():
    accounts = os.path.join(SCRATCH, "accounts")
    with open(accounts, "w") as f:
        f.write("# host port tls user password\n")
        f.write("%s %s starttls alice secret-alice\n" % (ENV["POP3_TEST_HOST"], ENV["POP3_TEST_PORT"]))
        f.write("%s %s implicit many secret-many\n" % (ENV["POP3_TEST_HOST"], ENV["POP3_TEST_TLS_PORT"]))
        f.write("%s %s starttls empty secret-empty\n" % (ENV["POP3_TEST_HOST"], ENV["POP3_TEST_PORT"]))
        f.write("%s %s implicit alice wrong-password\n" % (ENV["POP3_TEST_HOST"], ENV["POP3_TEST_TLS_PORT"]))
    os.chmod(accounts, 0o600)
    p = run("poll_many", "--rounds", "2", "--interval", "1", "--cafile", ENV["POP3_TEST_CA"], accounts)
    if p is None:
        return "skipped"
    out = p.stdout.decode()
    check(p.returncode == 1, "poll_many must report the failing account", p)
    host = ENV["POP3_TEST_HOST"]
    check("alice@%s:%s: round 1: 13 messages, 13 new" % (host, ENV["POP3_TEST_PORT"]) in out, "alice round 1", p)
    check("alice@%s:%s: round 2: 13 messages, 0 new" % (host, ENV["POP3_TEST_PORT"]) in out, "alice round 2", p)
    check("many@%s:%s: round 1: 5000 messages, 5000 new" % (host, ENV["POP3_TEST_TLS_PORT"]) in out, "many", p)
    check("empty@%s:%s: round 2: 0 messages, 0 new" % (host, ENV["POP3_TEST_PORT"]) in out, "empty", p)
    check(out.count("alice@%s:%s: round" % (host, ENV["POP3_TEST_TLS_PORT"])) == 2, "failing account", p)


def test_leave_on_server():
    state = os.path.join(SCRATCH, "alice.uids")
    out_dir = os.path.join(SCRATCH, "leave-out")
    os.makedirs(out_dir)
    args = [ENV["POP3_TEST_HOST"], "alice", state, out_dir, ENV["POP3_TEST_TLS_PORT"], ENV["POP3_TEST_CA"]]
    p = run("leave_on_server", *args)
    if p is None:
        return "skipped"
    check(p.returncode == 0 and p.stdout.startswith(b"13 new, 0 deleted"), "first run", p)
    check(sorted(os.listdir(out_dir)) == sorted(u + ".eml" for u in uids("alice")), "files")
    p = run("leave_on_server", *args)
    check(p.returncode == 0 and p.stdout.startswith(b"0 new, 0 deleted"), "second run", p)


class hostile_tls_server:
    """An implicit-TLS POP3 server (Dovecot's test certificate) whose UIDs try to escape the
    output directory: one session, USER/PASS, CAPA, UIDL, LIST, RETR, DELE, QUIT."""

    def __init__(self, uids):
        import socket
        import ssl
        import threading
        self.uids = uids
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(ENV["POP3_TEST_DIR"], "server.pem"),
                                 os.path.join(ENV["POP3_TEST_DIR"], "server.key"))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(30)
        self.port = str(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        try:
            conn.settimeout(30)
            with self.ctx.wrap_socket(conn, server_side=True) as t:
                f = t.makefile("rwb")
                f.write(b"+OK ready\r\n")
                f.flush()
                bodies = [b"Subject: %d\r\n\r\nbody\r\n" % i for i in range(len(self.uids))]
                for line in f:
                    verb, _, arg = line.strip().partition(b" ")
                    verb = verb.upper()
                    if verb == b"CAPA":
                        f.write(b"+OK\r\nUSER\r\nUIDL\r\nSASL PLAIN\r\n.\r\n")
                    elif verb in (b"LIST", b"UIDL"):
                        f.write(b"+OK\r\n")
                        for i, (u, b) in enumerate(zip(self.uids, bodies), 1):
                            f.write(b"%d %s\r\n" % (i, u if verb == b"UIDL" else b"%d" % len(b)))
                        f.write(b".\r\n")
                    elif verb == b"RETR":
                        f.write(b"+OK\r\n" + bodies[int(arg) - 1] + b".\r\n")
                    elif verb == b"QUIT":
                        f.write(b"+OK\r\n")
                        f.flush()
                        return
                    else:  # AUTH PLAIN ..., USER, PASS, DELE, NOOP
                        f.write(b"+OK\r\n")
                    f.flush()
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.listener.close()
        self.thread.join(10)


def test_leave_on_server_hostile_uids():
    """UIDs are the server's text: "../x" and "/etc/y" must not become paths."""
    hostile = [b"../escaped", b"/tmp/absolute", b"a/../../b", b"..", b"%2e%2e", b"plain-uid_1"]
    server = hostile_tls_server(hostile)
    try:
        base = os.path.join(SCRATCH, "hostile")
        out_dir = os.path.join(base, "out")
        os.makedirs(out_dir)
        p = run("leave_on_server", "localhost", "alice", os.path.join(base, "state"), out_dir, server.port,
                ENV["POP3_TEST_CA"])
        if p is None:
            return "skipped"
        check(p.returncode == 0 and p.stdout.startswith(b"%d new" % len(hostile)), "run", p)
        names = sorted(os.listdir(out_dir))
        check(len(names) == len(hostile), "one file per UID, all inside OUT-DIR: %r" % names)
        check(all("/" not in n and not n.startswith(".") for n in names), "names %r" % names)
        check(sorted(os.listdir(base)) == ["out", "state", "state.lock"], "nothing beside OUT-DIR: %r" % os.listdir(base))
        check(not os.path.exists("/tmp/absolute.eml"), "wrote /tmp/absolute.eml")
        check("plain-uid_1.eml" in names, "a plain UID keeps its name: %r" % names)
    finally:
        server.close()


def main():
    load_env()
    passed = failed = 0
    try:
        for t in (test_quickstart, test_tls_scram, test_poll_many, test_leave_on_server,
                  test_leave_on_server_hostile_uids):
            try:
                result = t()
                passed += 1
                print("%s %s" % ("SKIP" if result == "skipped" else "PASS", t.__name__), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s" % t.__name__, flush=True)
                traceback.print_exc()
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
