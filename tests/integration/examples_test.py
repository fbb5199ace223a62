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


def main():
    load_env()
    passed = failed = 0
    try:
        for t in (test_quickstart, test_tls_scram, test_poll_many, test_leave_on_server):
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
