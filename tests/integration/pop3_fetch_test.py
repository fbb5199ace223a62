#!/usr/bin/env python3
"""pop3-fetch against the Dovecot of dovecot.sh (registered in ctest as pop3_fetch_test).

    POP3_TEST_ENV=DIR/env POP3_TEST_SCRIPT=.../dovecot.sh python3 pop3_fetch_test.py PATH/TO/pop3-fetch

Checks Maildir and mbox contents byte for byte against DIR/expected/<user>/<n>.eml (mbox after
the documented mboxrd transformation), --keep twice, deletion after storing, --max, --list,
--json, netrc and password files, the trace's redaction, the progress bar (only on a
terminal) and every documented exit code. Python 3 standard library only.
"""
import json
import os
import pty
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

FETCH = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
ENV = {}
RESULTS = {"passed": 0, "failed": 0}
SCRATCH = tempfile.mkdtemp(prefix="pop3-fetch-test.")


def load_env():
    with open(os.environ["POP3_TEST_ENV"]) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                ENV[k] = v


def manifest(user):
    """[(number, uid, octets, bytes)] in message-number order."""
    out = []
    with open(os.path.join(ENV["POP3_TEST_EXPECTED"], user + ".tsv")) as f:
        for line in f:
            if not line.strip():
                continue
            number, uid, octets, path = line.rstrip("\n").split("\t")
            with open(path, "rb") as m:
                out.append((int(number), uid, int(octets), m.read()))
    return out


def reset(user):
    subprocess.run(["bash", os.environ["POP3_TEST_SCRIPT"], "reset", ENV["POP3_TEST_DIR"], user],
                   check=True, stdout=subprocess.DEVNULL)


def fetch(*args, password=None, user="alice", env_extra=None, tls=True, timeout=300, preexec=None):
    """Runs pop3-fetch; returns CompletedProcess (bytes). Defaults: STLS on the plain port."""
    env = {k: v for k, v in os.environ.items() if k != "POP3_PASSWORD"}
    env["HOME"] = os.path.join(SCRATCH, "home-empty")  # no ~/.netrc unless a test makes one
    os.makedirs(env["HOME"], exist_ok=True)
    if password is not None:
        env["POP3_PASSWORD"] = password
    if env_extra:
        env.update(env_extra)
    cmd = [FETCH, "--host", ENV["POP3_TEST_HOST"]]
    if user is not None:
        cmd += ["--user", user]
    if tls:
        cmd += ["--port", ENV["POP3_TEST_PORT"], "--cafile", ENV["POP3_TEST_CA"]]
    cmd += list(args)
    return subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=timeout, preexec_fn=preexec)


def expect_rc(p, rc, what):
    if p.returncode != rc:
        raise AssertionError("%s: exit code %d, expected %d\nstdout: %s\nstderr: %s"
                             % (what, p.returncode, rc, p.stdout[-2000:], p.stderr[-2000:]))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def json_lines(p):
    """Every stdout line must be one JSON object; the last one is the summary."""
    records = [json.loads(line) for line in p.stdout.decode("utf-8").splitlines()]
    check(records, "no JSON output")
    for r in records:
        check(isinstance(r, dict) and "type" in r, "record without type: %r" % r)
    check(records[-1]["type"] == "summary", "last record is not the summary: %r" % records[-1])
    check(sum(1 for r in records if r["type"] == "summary") == 1, "more than one summary")
    return records


def maildir_messages(d):
    """Maildir new/ files in delivery order (time.pid_seq.host: sorted by time, then seq)."""
    names = os.listdir(os.path.join(d, "new"))

    def key(name):
        m = re.match(r"^(\d+)\.(\d+)_(\d+)\.", name)
        check(m, "Maildir name %r is not time.pid_seq.host" % name)
        return (int(m.group(1)), int(m.group(2)), int(m.group(3)))

    out = []
    for name in sorted(names, key=key):
        with open(os.path.join(d, "new", name), "rb") as f:
            out.append(f.read())
    return out


def mboxrd(body):
    """The documented transformation of one message (without its From_ line)."""
    body = body.replace(b"\r\n", b"\n")
    body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
    if not body.endswith(b"\n"):
        body += b"\n"
    return body + b"\n"


FROM_LINE = re.compile(rb"From (\S+) (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}\n")


def check_mbox(data, expected_bodies):
    """data must be From_ line + mboxrd(body) for every body, in order. Returns the senders."""
    at = 0
    senders = []
    for i, body in enumerate(expected_bodies):
        m = FROM_LINE.match(data, at)
        check(m, "message %d: no valid From_ line at offset %d: %r" % (i + 1, at, data[at:at + 80]))
        senders.append(m.group(1).decode())
        at = m.end()
        want = mboxrd(body)
        got = data[at:at + len(want)]
        if got != want:
            diff = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
            raise AssertionError("mbox message %d differs at byte %d: got %r want %r"
                                 % (i + 1, diff, got[diff:diff + 40], want[diff:diff + 40]))
        at += len(want)
    check(at == len(data), "mbox has %d extra bytes at the end" % (len(data) - at))
    return senders


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------

def test_maildir_keep_twice():
    """STLS + --cafile into a Maildir, byte-equal; --keep again fetches nothing new."""
    expected = manifest("alice")
    d = os.path.join(SCRATCH, "maildir-keep")
    p = fetch("--maildir", d, "--keep", password="secret-alice")
    expect_rc(p, 0, "first --keep run")
    check(b"13 new messages fetched" in p.stdout, "summary: %r" % p.stdout)
    for sub in ("cur", "new", "tmp"):
        check(os.path.isdir(os.path.join(d, sub)), "Maildir lacks %s/" % sub)
    got = maildir_messages(d)
    check(len(got) == len(expected), "%d files in new/, expected %d" % (len(got), len(expected)))
    for (number, _, _, body), data in zip(expected, got):
        check(data == body, "Maildir message %d differs from the expected bytes" % number)
    check(os.listdir(os.path.join(d, "tmp")) == [], "tmp/ not empty")
    check(any(n.startswith(".pop3-fetch-alice@") and n.endswith(".state") for n in os.listdir(d)),
          "no default state file in the Maildir: %r" % os.listdir(d))

    p = fetch("--maildir", d, "--keep", "--json", password="secret-alice")
    expect_rc(p, 0, "second --keep run")
    s = json_lines(p)[-1]
    check(s["ok"] is True and s["exit_code"] == 0, "summary %r" % s)
    check(s["fetched"] == 0 and s["new"] == 0 and s["on_server"] == 13, "second run fetched: %r" % s)
    check(len(maildir_messages(d)) == 13, "second run changed the Maildir")
    p = fetch("--maildir", d, "--keep", password="secret-alice")
    expect_rc(p, 0, "third --keep run")
    check(b"0 new messages" in p.stdout, "human summary: %r" % p.stdout)


def test_mbox_implicit_tls():
    """Implicit TLS into an mbox: mboxrd transformation byte-checked; --max and --keep."""
    expected = manifest("alice")
    path = os.path.join(SCRATCH, "alice.mbox")
    common = ["--port", ENV["POP3_TEST_TLS_PORT"], "--tls", "implicit", "--cafile", ENV["POP3_TEST_CA"],
              "--mbox", path, "--keep"]
    p = fetch(*common, "--max", "5", "--json", password="secret-alice", tls=False)
    expect_rc(p, 0, "mbox --max 5")
    records = json_lines(p)
    fetched = [r for r in records if r["type"] == "fetched"]
    check([r["number"] for r in fetched] == [1, 2, 3, 4, 5], "fetched %r" % fetched)
    check([r["uid"] for r in fetched] == [e[1] for e in expected[:5]], "UIDs in JSON")
    check(records[-1]["new"] == 13 and records[-1]["fetched"] == 5, "summary %r" % records[-1])
    p = fetch(*common, password="secret-alice", tls=False)
    expect_rc(p, 0, "mbox rest")
    check(b"8 new messages fetched" in p.stdout, "summary: %r" % p.stdout)
    with open(path, "rb") as f:
        check_mbox(f.read(), [e[3] for e in expected])
    p = fetch(*common, password="secret-alice", tls=False)
    expect_rc(p, 0, "mbox nothing new")
    with open(path, "rb") as f:
        check_mbox(f.read(), [e[3] for e in expected])


QUOTING_MESSAGE = (
    b"Return-Path: <envelope@example.org>\r\n"
    b"From: Quoting Test <header@example.org>\r\n"
    b"Subject: mboxrd quoting\r\n"
    b"\r\n"
    b"From the start of a line\r\n"
    b">From one arrow\r\n"
    b">>From two arrows\r\n"
    b" From after a space (not quoted)\r\n"
    b"From\r\n"
    b"Fromage\r\n"
    b">>>Fro\r\n"
    b">\r\n"
    b"From \r\n"
    b"..From dot-stuffed on the wire\r\n"
    b"bare CR\rFrom after a bare CR (same line: not quoted)\r\n"
    b"From the last line\r\n"
)


def test_mbox_from_quoting():
    """A message with ^>*From lines, delivered into scratch's Maildir: mboxrd quoting, the
    sender from Return-Path, and Maildir bytes unchanged."""
    reset("scratch")
    expected = manifest("scratch")
    maildir = os.path.join(ENV["POP3_TEST_DIR"], "home", "scratch", "Maildir")
    st = os.stat(maildir)
    path = os.path.join(maildir, "new", "1700000000.M1P1.pop3-fetch-test")
    try:
        with open(path, "wb") as f:
            f.write(QUOTING_MESSAGE)
        os.chown(path, st.st_uid, st.st_gid)
        mbox = os.path.join(SCRATCH, "quoting.mbox")
        p = fetch("--mbox", mbox, "--keep", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "mbox with From lines")
        with open(mbox, "rb") as f:
            data = f.read()
        senders = check_mbox(data, [e[3] for e in expected] + [QUOTING_MESSAGE])
        check(senders[-1] == "envelope@example.org", "From_ sender %r" % senders[-1])
        check(b"\n>From the start of a line\n>>From one arrow\n>>>From two arrows\n From after" in data,
              "quoting as documented")
        d = os.path.join(SCRATCH, "maildir-quoting")
        p = fetch("--maildir", d, "--keep", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "Maildir with From lines")
        check(maildir_messages(d)[-1] == QUOTING_MESSAGE, "Maildir must keep the bytes unchanged")
    finally:
        reset("scratch")


def maildir_tag(account, uid):
    """The ",P=<16 hex>" tag of maildir.hpp: 64-bit FNV-1a of "USER@HOST\\0UID"."""
    h = 0xcbf29ce484222325
    for c in account.encode() + b"\0" + uid.encode():
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return ",P=%016x" % h


def maildir_files(d):
    """{relative path: bytes} of every message in new/ and cur/."""
    out = {}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(d, sub)):
            with open(os.path.join(d, sub, name), "rb") as f:
                out[sub + "/" + name] = f.read()
    return out


def check_each_once(d, user, expected):
    """Every expected message exactly once, found by its UID tag, byte-identical; nothing else."""
    files = maildir_files(d)
    check(len(files) == len(expected), "%d messages in the Maildir, expected %d: %r"
          % (len(files), len(expected), sorted(files)))
    for number, uid, _, body in expected:
        tag = maildir_tag("%s@%s" % (user, ENV["POP3_TEST_HOST"]), uid)
        named = [n for n in files if re.search(re.escape(tag) + r"(:|,|$)", n)]
        check(len(named) == 1, "message %d (UID %s): %d files tagged %s: %r" % (number, uid, len(named), tag, named))
        check(files[named[0]] == body, "message %d: %s differs from the expected bytes" % (number, named[0]))
    check(os.listdir(os.path.join(d, "tmp")) == [], "tmp/ not empty: %r" % os.listdir(os.path.join(d, "tmp")))
    return files


CRASH_HOOK = "POP3_FETCH_TEST_EXIT_AFTER_COMMIT"


def test_maildir_no_duplicate_after_crash():
    """The crash window between storing a message and recording it (the test hook exits with
    99 right after the N-th message was made durable): the next run gets that message with
    maybe_delivered, finds its file by the UID tag (in new/, or in cur/ after a reader moved
    it) and does not store it twice. With group commit (--batch 2) the whole batch of the
    3rd message (3 and 4) is durable and unrecorded."""
    expected = manifest("alice")
    d = os.path.join(SCRATCH, "maildir-crash")
    p = fetch("--maildir", d, "--keep", "--batch", "2", password="secret-alice",
              env_extra={CRASH_HOOK: "3"})
    expect_rc(p, 99, "--keep run that dies after the 3rd message is durable")
    first = maildir_files(d)
    check(len(first) == 4, "after the crash: %r" % sorted(first))
    third = [n for n in first if maildir_tag("alice@" + ENV["POP3_TEST_HOST"], expected[2][1]) in n]
    check(len(third) == 1, "message 3 not stored under its tag: %r" % sorted(first))
    p = fetch("--maildir", d, "--keep", "--json", password="secret-alice")
    expect_rc(p, 0, "run after the crash")
    records = json_lines(p)
    fetched = [r for r in records if r["type"] == "fetched"]
    check([r["number"] for r in fetched] == list(range(3, 14)), "fetched after the crash: %r" % fetched)
    check(fetched[0]["path"] == os.path.join(d, third[0]),
          "message 3 should be the copy of the first run: %r vs %r" % (fetched[0]["path"], third[0]))
    files = check_each_once(d, "alice", expected)
    for name, data in first.items():
        check(files.get(name) == data, "the first run's %s changed" % name)
    p = fetch("--maildir", d, "--keep", "--json", password="secret-alice")
    expect_rc(p, 0, "third run")
    check(json_lines(p)[-1]["fetched"] == 0, "third run fetched again")
    check_each_once(d, "alice", expected)

    # Without --keep (deletion) but with --state; the stored copy moved to cur/ by a reader.
    reset("scratch")
    expected = manifest("scratch")
    try:
        d = os.path.join(SCRATCH, "maildir-crash-scratch")
        state = os.path.join(SCRATCH, "crash-scratch.state")
        p = fetch("--maildir", d, "--state", state, "--batch", "1", user="scratch",
                  password="secret-scratch", env_extra={CRASH_HOOK: "1"})
        expect_rc(p, 99, "deleting run that dies after the 1st commit")
        names = os.listdir(os.path.join(d, "new"))
        check(len(names) == 1, "after the crash: %r" % names)
        os.rename(os.path.join(d, "new", names[0]), os.path.join(d, "cur", names[0] + ":2,S"))
        p = fetch("--list", user="scratch", password="secret-scratch")
        check(len(p.stdout.splitlines()) == 10, "the crash deleted mail: %r" % p.stdout)
        p = fetch("--maildir", d, "--state", state, "--json", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "deleting run after the crash")
        s = json_lines(p)[-1]
        check(s["fetched"] == 10 and s["deleted"] == 10, "summary %r" % s)
        files = check_each_once(d, "scratch", expected)
        check("cur/" + names[0] + ":2,S" in files, "the copy in cur/ is gone: %r" % sorted(files))
        p = fetch("--list", user="scratch", password="secret-scratch")
        check(p.stdout == b"", "scratch not empty: %r" % p.stdout)
    finally:
        reset("scratch")

    # The tagged file no longer holds the message (its last byte changed): compared, found
    # different, so the message is stored again in full and the altered file is left alone.
    reset("scratch")
    try:
        d = os.path.join(SCRATCH, "maildir-crash-altered")
        state = os.path.join(SCRATCH, "crash-altered.state")
        p = fetch("--maildir", d, "--state", state, "--keep", "--batch", "1", user="scratch",
                  password="secret-scratch", env_extra={CRASH_HOOK: "1"})
        expect_rc(p, 99, "run that dies after the 1st commit")
        names = os.listdir(os.path.join(d, "new"))
        check(len(names) == 1, "after the crash: %r" % names)
        altered = os.path.join(d, "new", names[0])
        with open(altered, "rb") as f:
            data = f.read()
        data = data[:-1] + (b"x" if data[-1:] != b"x" else b"y")
        with open(altered, "wb") as f:
            f.write(data)
        p = fetch("--maildir", d, "--state", state, "--keep", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "run after the crash, altered copy")
        files = maildir_files(d)
        check(files.pop("new/" + names[0]) == data, "the altered file was touched")
        os.unlink(altered)
        check_each_once(d, "scratch", expected)
    finally:
        reset("scratch")


def test_maildir_crash_before_sync():
    """Group commit: a run that dies before its batch is synced leaves the batch's files in
    tmp/ only (never in new/, never recorded). The next run delivers them again, removes the
    dead copies from tmp/ and stores each message once."""
    expected = manifest("alice")
    d = os.path.join(SCRATCH, "maildir-crash-before-sync")
    p = fetch("--maildir", d, "--keep", "--batch", "2", password="secret-alice",
              env_extra={"POP3_FETCH_TEST_EXIT_BEFORE_SYNC": "2"})
    expect_rc(p, 99, "--keep run that dies before its 2nd sync")
    check(len(maildir_files(d)) == 2, "after the crash: %r" % sorted(maildir_files(d)))
    check(len(os.listdir(os.path.join(d, "tmp"))) == 2, "tmp/: %r" % os.listdir(os.path.join(d, "tmp")))
    p = fetch("--maildir", d, "--keep", "--json", password="secret-alice")
    expect_rc(p, 0, "run after the crash")
    fetched = [r for r in json_lines(p) if r["type"] == "fetched"]
    check([r["number"] for r in fetched] == list(range(3, 14)), "fetched after the crash: %r" % fetched)
    check(len(set(r["path"] for r in fetched)) == len(fetched), "paths repeat: %r" % fetched)
    check_each_once(d, "alice", expected)


def test_mbox_no_duplicate_after_crash():
    """The same crash window into an mbox: the next run holds the maybe_delivered message in an
    unnamed file, finds it is the mbox's last message and does not append it again. If the
    mbox's last message was changed meanwhile, the message is appended in full."""
    expected = manifest("alice")
    path = os.path.join(SCRATCH, "crash.mbox")
    p = fetch("--mbox", path, "--keep", password="secret-alice", env_extra={CRASH_HOOK: "3"})
    expect_rc(p, 99, "--keep mbox run that dies after the 3rd commit")
    with open(path, "rb") as f:
        check_mbox(f.read(), [e[3] for e in expected[:3]])
    p = fetch("--mbox", path, "--keep", "--json", password="secret-alice")
    expect_rc(p, 0, "mbox run after the crash")
    fetched = [r for r in json_lines(p) if r["type"] == "fetched"]
    check([r["number"] for r in fetched] == list(range(3, 14)), "fetched after the crash: %r" % fetched)
    with open(path, "rb") as f:
        check_mbox(f.read(), [e[3] for e in expected])
    check([n for n in os.listdir(SCRATCH) if n.startswith(".pop3-fetch-held")] == [],
          "a held copy was left behind")

    # The last message changed after the crash (another program edited it): appended again.
    altered_path = os.path.join(SCRATCH, "crash-altered.mbox")
    state = os.path.join(SCRATCH, "crash-altered-mbox.state")
    p = fetch("--mbox", altered_path, "--state", state, "--keep", password="secret-alice",
              env_extra={CRASH_HOOK: "1"})
    expect_rc(p, 99, "mbox run that dies after the 1st commit")
    with open(altered_path, "rb") as f:
        data = f.read()
    check_mbox(data, [expected[0][3]])
    altered = data[:-3] + (b"x" if data[-3:-2] != b"x" else b"y") + data[-2:]
    with open(altered_path, "wb") as f:
        f.write(altered)
    p = fetch("--mbox", altered_path, "--state", state, "--keep", password="secret-alice")
    expect_rc(p, 0, "mbox run after the crash, altered copy")
    with open(altered_path, "rb") as f:
        data = f.read()
    check(data.startswith(altered), "the altered message was touched")
    check_mbox(data[len(altered):], [e[3] for e in expected])


def test_state_locked():
    """A second run on the same state (the lock is held) fails at once with exit code 7."""
    import fcntl
    d = os.path.join(SCRATCH, "maildir-locked")
    state = os.path.join(SCRATCH, "locked.state")
    with open(state + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = fetch("--maildir", d, "--keep", "--state", state, password="secret-alice")
        expect_rc(p, 7, "state in use")
        check(b"in use" in p.stderr, "stderr: %r" % p.stderr)
    p = fetch("--maildir", d, "--keep", "--state", state, password="secret-alice")
    expect_rc(p, 0, "state free again")


def test_state_write_failure():
    """The state file fails in the middle of a run (a file size limit makes its writes fail
    with EFBIG): exit code 7 naming the state file, not a session error; the next run
    without the limit fetches what was not recorded."""
    import resource
    import signal
    state = os.path.join(SCRATCH, "limited.state")

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write(2) fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (256, 256))

    p = fetch("--stdout", "--keep", "--state", state, password="secret-alice", preexec=small_files)
    expect_rc(p, 7, "state file over the size limit")
    check(b"cannot update the state file " + state.encode() in p.stderr, "stderr: %r" % p.stderr)
    check(b"server said" not in p.stderr, "a local failure blamed on the server: %r" % p.stderr)
    p = fetch("--stdout", "--keep", "--state", state, password="secret-alice")
    expect_rc(p, 0, "the same state without the limit")
    check(p.stdout.count(b"\nFrom ") + p.stdout.startswith(b"From ") >= 1,
          "the unrecorded messages were not fetched: %r" % p.stderr)


def test_stdout_and_delete():
    """Without --keep, messages are deleted once stored; --stdout writes mboxrd."""
    reset("scratch")
    expected = manifest("scratch")
    try:
        p = fetch("--stdout", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "--stdout")
        check_mbox(p.stdout, [e[3] for e in expected])
        check(b"deleted on the server" in p.stderr, "summary goes to stderr with --stdout: %r" % p.stderr)
        p = fetch("--list", "--json", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "--list after delete")
        records = json_lines(p)
        check(records[-1]["on_server"] == 0, "scratch not empty after fetch without --keep: %r" % records)
    finally:
        reset("scratch")


def test_storage_failure_keeps_mail():
    """/dev/full as mbox: exit 7, and nothing is deleted on the server."""
    reset("scratch")
    try:
        p = fetch("--mbox", "/dev/full", user="scratch", password="secret-scratch")
        expect_rc(p, 7, "--mbox /dev/full")
        check(b"No space left" in p.stderr, "stderr: %r" % p.stderr)
        p = fetch("--list", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "--list")
        check(len(p.stdout.splitlines()) == 10, "scratch lost mail after a storage error: %r" % p.stdout)
        # A Maildir under a regular file cannot be created.
        blocker = os.path.join(SCRATCH, "plain-file")
        open(blocker, "w").close()
        p = fetch("--maildir", os.path.join(blocker, "md"), "--json", user="scratch", password="secret-scratch")
        expect_rc(p, 7, "Maildir under a file")
        s = json_lines(p)[-1]
        check(s["ok"] is False and s["exit_code"] == 7 and s["error"]["category"] == "storage", "summary %r" % s)
    finally:
        reset("scratch")


def test_delete_after():
    """--keep --delete-after 0 deletes what is stored; the state forgets it afterwards."""
    reset("scratch")
    try:
        state = os.path.join(SCRATCH, "scratch.state")
        d = os.path.join(SCRATCH, "maildir-scratch")
        p = fetch("--maildir", d, "--keep", "--state", state, "--json", user="scratch", password="secret-scratch")
        expect_rc(p, 0, "--keep on scratch")
        check(json_lines(p)[-1]["fetched"] == 10, "first run")
        p = fetch("--maildir", d, "--delete-after", "0", "--state", state, "--json", user="scratch",
                  password="secret-scratch")
        expect_rc(p, 0, "--delete-after 0")
        records = json_lines(p)
        check(records[-1]["fetched"] == 0 and records[-1]["deleted"] == 10, "summary %r" % records[-1])
        check(len([r for r in records if r["type"] == "deleted"]) == 10, "deleted records")
        p = fetch("--list", user="scratch", password="secret-scratch")
        check(p.stdout == b"", "scratch not empty: %r" % p.stdout)
        check(len(maildir_messages(d)) == 10, "Maildir")
    finally:
        reset("scratch")


def test_list_json_and_plain():
    expected = manifest("alice")
    p = fetch("--list", password="secret-alice")
    expect_rc(p, 0, "--list")
    lines = p.stdout.decode().splitlines()
    check(lines == ["%d %d %s" % (n, o, u) for n, u, o, _ in expected], "--list output %r" % lines)
    p = fetch("--list", "--json", "--max", "3", password="secret-alice")
    expect_rc(p, 0, "--list --json")
    records = json_lines(p)
    msgs = [r for r in records if r["type"] == "message"]
    check([(r["number"], r["size"], r["uid"]) for r in msgs] == [(n, o, u) for n, u, o, _ in expected[:3]],
          "--list --json %r" % msgs)


def test_credentials_sources():
    """~/.netrc (machine and default), --password-file; never the command line."""
    home = os.path.join(SCRATCH, "home-netrc")
    os.makedirs(home, exist_ok=True)
    netrc = os.path.join(home, ".netrc")
    with open(netrc, "w") as f:
        f.write("machine example.org login bob password nope\n"
                "machine %s\n  login alice\n  password secret-alice\n" % ENV["POP3_TEST_HOST"])
    os.chmod(netrc, 0o600)
    p = fetch("--list", user=None, env_extra={"HOME": home})
    expect_rc(p, 0, "netrc machine entry (user from netrc)")
    with open(netrc, "w") as f:
        f.write("machine example.org login bob password nope\ndefault login alice password secret-alice\n")
    p = fetch("--list", env_extra={"HOME": home})
    expect_rc(p, 0, "netrc default entry")
    pwfile = os.path.join(SCRATCH, "pw")
    with open(pwfile, "w") as f:
        f.write("secret-alice\n")
    p = fetch("--list", "--password-file", pwfile, password="wrong")
    expect_rc(p, 0, "--password-file wins over POP3_PASSWORD")
    p = fetch("--list")
    expect_rc(p, 2, "no password anywhere")
    p = fetch("--list", "--password", "secret-alice")
    expect_rc(p, 2, "--password on the command line")


def test_trace_redacts():
    for method in ("plain", "user", "scram-sha-256"):
        p = fetch("--list", "--trace", "--auth", method, password="secret-alice")
        expect_rc(p, 0, "--trace --auth " + method)
        err = p.stderr
        check(b"C: " in err and b"S: +OK" in err, "no trace: %r" % err[:300])
        check(b"secret-alice" not in err, "password in the trace (%s)" % method)
        import base64
        check(base64.b64encode(b"\0alice\0secret-alice") not in err, "PLAIN blob in the trace")


def test_progress_only_on_terminal():
    d = os.path.join(SCRATCH, "maildir-progress-pipe")
    p = fetch("--maildir", d, "--keep", password="secret-alice")
    expect_rc(p, 0, "pipe")
    check(p.stderr == b"", "stderr not empty when it is not a terminal: %r" % p.stderr)
    # Now with stderr on a pseudo-terminal.
    d = os.path.join(SCRATCH, "maildir-progress-tty")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items()}
    env.update({"POP3_PASSWORD": "secret-alice", "TERM": "xterm", "HOME": SCRATCH})
    proc = subprocess.Popen([FETCH, "--host", ENV["POP3_TEST_HOST"], "--port", ENV["POP3_TEST_PORT"],
                             "--cafile", ENV["POP3_TEST_CA"], "--user", "alice", "--maildir", d, "--keep"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    tty = b""
    deadline = time.time() + 120
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
        elif proc.poll() is not None:
            break
    out = proc.communicate(timeout=60)[0]
    os.close(master)
    check(proc.returncode == 0, "tty run failed: %r %r" % (out, tty))
    check(b"13/13 msgs" in tty and b"\r" in tty, "no progress bar on a terminal: %r" % tty[-300:])


class loopback_server:
    """A listener on 127.0.0.1 (random port) served from a thread until close(); each
    connection goes to self.session(conn), in its own thread when `threaded`."""

    def __init__(self, threaded=False):
        self.threaded = threaded
        self.stopping = False
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.listener.settimeout(0.2)
        self.port = str(self.listener.getsockname()[1])
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            if self.threaded:
                threading.Thread(target=self.serve, args=(conn,), daemon=True).start()
            else:
                self.serve(conn)

    def serve(self, conn):
        try:
            self.session(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        self.listener.close()
        self.thread.join(10)


class scripted_server(loopback_server):
    """A POP3 server that plays the quirks of real ones (popa3d's bare -ERR, solid-pop3d's
    APOP greeting without CAPA, a slow or stalled RETR, [IN-USE]). Serves connections one
    at a time; records every command line it received."""

    def __init__(self, greeting=b"+OK ready\r\n", capa=None, auth_reply=b"-ERR\r\n",
                 pass_reply=b"+OK Logged in.\r\n", messages=(), retr_delay=0.0, stall_retr=None):
        self.greeting, self.capa, self.auth_reply, self.pass_reply = greeting, capa, auth_reply, pass_reply
        self.messages = list(messages)
        self.retr_delay, self.stall_retr = retr_delay, stall_retr
        self.commands = []
        self.deleted = set()
        super().__init__()

    def session(self, conn):
        conn.settimeout(30)
        f = conn.makefile("rwb")
        f.write(self.greeting)
        f.flush()
        marked = set()
        while not self.stopping:
            line = f.readline()
            if not line:
                return
            self.commands.append(line.rstrip(b"\r\n").decode("latin-1"))
            verb, _, arg = line.strip().partition(b" ")
            verb = verb.upper()
            if verb == b"CAPA":
                f.write(b"+OK\r\n" + self.capa + b".\r\n" if self.capa is not None else b"-ERR\r\n")
            elif verb == b"AUTH":
                f.write(self.auth_reply)
            elif verb == b"USER":
                f.write(b"+OK\r\n")
            elif verb == b"PASS":
                f.write(self.pass_reply)
            elif verb in (b"LIST", b"UIDL") and not arg:
                f.write(b"+OK\r\n")
                for i, m in enumerate(self.messages, 1):
                    f.write(b"%d %s\r\n" % (i, b"%d" % len(m) if verb == b"LIST" else b"uid-%d" % i))
                f.write(b".\r\n")
            elif verb == b"RETR":
                n = int(arg)
                f.flush()
                if n == self.stall_retr:
                    while not self.stopping:
                        time.sleep(0.05)
                    return
                time.sleep(self.retr_delay)
                f.write(b"+OK\r\n" + self.messages[n - 1] + b".\r\n")
            elif verb == b"DELE":
                marked.add(int(arg))
                f.write(b"+OK\r\n")
            elif verb == b"QUIT":
                self.deleted |= marked
                f.write(b"+OK\r\n")
                f.flush()
                return
            elif verb in (b"NOOP", b"RSET", b"STAT"):
                f.write(b"+OK 0 0\r\n" if verb == b"STAT" else b"+OK\r\n")
            else:
                f.write(b"-ERR\r\n")
            f.flush()

class tls_only_server(loopback_server):
    """Speaks TLS from the first byte (POP3S) with Dovecot's certificate, greets after the
    handshake: what a client that forgot --tls implicit meets on port 995. Each connection
    in its own thread, as real servers do: the client's probe comes while its first
    connection still waits."""

    def __init__(self):
        import ssl
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(os.path.join(ENV["POP3_TEST_DIR"], "server.pem"),
                                 os.path.join(ENV["POP3_TEST_DIR"], "server.key"))
        super().__init__(threaded=True)

    def session(self, conn):
        conn.settimeout(10)
        with self.ctx.wrap_socket(conn, server_side=True) as t:
            t.sendall(b"+OK ready\r\n")
            t.recv(100)


def help_options():
    p = subprocess.run([FETCH, "--help"], stdout=subprocess.PIPE, check=True)
    return set(re.findall(rb"--[a-z][a-z0-9-]*", p.stdout))


SAMPLE = [b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i) for i in range(1, 6)]


def exit_code_rows():
    """(exit code, what, how) for every exit code pop3-fetch has: how() returns
    (CompletedProcess, [bytes stderr must contain]). Real Dovecot where it can show the
    case, scripted servers for the quirks of others."""
    dovecot_plain = ["--port", ENV["POP3_TEST_NOSTLS_PORT"], "--tls", "none"]

    def scripted(server_args, *args, password="secret-alice"):
        return with_server(lambda: scripted_server(**server_args), *args, password=password)

    def with_server(make, *args, password="secret-alice"):
        def run():
            srv = make()
            try:
                return fetch("--list", "--json", "--port", srv.port, *args, password=password, tls=False)
            finally:
                srv.close()
        return run

    def closed_port():
        return fetch("--list", "--json", "--port", str(free_port()), "--tls", "none", password="x", tls=False)

    def silent(*args):
        def run():
            lsock = socket.socket()
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)
            try:
                return fetch("--list", "--json", "--port", str(lsock.getsockname()[1]), *args,
                             password="x", tls=False)
            finally:
                lsock.close()
        return run

    def unwritable_maildir():
        path = os.path.join(SCRATCH, "not-a-directory")
        with open(path, "w") as f:
            f.write("x")
        return fetch("--maildir", path, "--keep", "--json", password="secret-alice")

    popa3d = dict(greeting=b"+OK\r\n", capa=None, auth_reply=b"-ERR\r\n")
    solid = dict(greeting=b"+OK Solid POP3 server ready <1.2@host>\r\n", capa=None,
                 auth_reply=b"-ERR command not implemented yet\r\n")
    return [
        (0, "listing against Dovecot", lambda: fetch("--list", "--json", password="secret-alice"), []),
        (0, "USER/PASS without TLS, allowed", lambda: fetch("--list", "--json", *dovecot_plain, "--auth", "user",
                                                           "--allow-plaintext", password="secret-alice", tls=False),
         [b"password travels unencrypted"]),
        (0, "--insecure", lambda: fetch("--list", "--json", "--port", ENV["POP3_TEST_TLS_PORT"], "--tls", "implicit",
                                        "--insecure", password="secret-alice", tls=False), [b"NOT verified"]),
        (1, "an internal error",
         lambda: fetch("--list", "--json", password="secret-alice",
                       env_extra={"POP3_FETCH_TEST_INTERNAL_ERROR": "1"}), [b"internal error"]),
        (2, "an unknown option", lambda: fetch("--list", "--bogus", password="x"), [b"--help"]),
        (2, "no password anywhere", lambda: fetch("--list", "--json"), [b"POP3_PASSWORD", b"--password-file"]),
        (3, "a wrong password (Dovecot)", lambda: fetch("--list", "--json", password="wrong"), [b"refused the credentials"]),
        (3, "--auth plain against popa3d (a bare -ERR to AUTH)",
         scripted(popa3d, "--tls", "none", "--allow-plaintext", "--auth", "plain"),
         [b"rejected the AUTH command", b"--auth plain", b"it offers: user"]),
        (3, "--auth cram-md5 against solid-pop3d",
         scripted(solid, "--tls", "none", "--allow-plaintext", "--auth", "cram-md5"),
         [b"rejected the AUTH command", b"it offers: user, apop"]),
        (3, "--auth scram-sha-256, which the server's CAPA does not list",
         scripted(dict(capa=b"USER\r\nSASL PLAIN\r\n"), "--tls", "none", "--allow-plaintext",
                  "--auth", "scram-sha-256"),
         [b"does not support --auth scram-sha-256", b"it offers: user, plain"]),
        (4, "an untrusted certificate (no --cafile)",
         lambda: fetch("--list", "--json", "--port", ENV["POP3_TEST_TLS_PORT"], "--tls", "implicit",
                       password="secret-alice", tls=False), [b"--cafile"]),
        (4, "a certificate for another host name",
         lambda: subprocess.run([FETCH, "--host", "127.0.0.2", "--port", ENV["POP3_TEST_TLS_PORT"], "--tls", "implicit",
                                 "--cafile", ENV["POP3_TEST_CA"], "--user", "alice", "--list", "--json"],
                                env=dict(os.environ, POP3_PASSWORD="secret-alice"), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60),
         [b"does not name 127.0.0.2", b"--host"]),
        (4, "STLS not offered", lambda: fetch("--list", "--json", "--tls", "starttls", "--cafile", ENV["POP3_TEST_CA"],
                                              *dovecot_plain[:2], password="secret-alice", tls=False),
         [b"--tls none --allow-plaintext", b"--tls implicit"]),
        (4, "--tls implicit on a plain POP3 port",
         lambda: fetch("--list", "--json", "--tls", "implicit", "--port", ENV["POP3_TEST_PORT"], "--cafile",
                       ENV["POP3_TEST_CA"], password="secret-alice", tls=False),
         [b"plain POP3", b"--tls starttls"]),
        (4, "plain POP3 expected on a POP3S port", with_server(tls_only_server, "--tls", "starttls"),
         [b"speaks TLS from the start", b"--tls implicit"]),
        (4, "USER/PASS without TLS", lambda: fetch("--list", "--json", *dovecot_plain, "--auth", "user",
                                                    password="secret-alice", tls=False), [b"--allow-plaintext"]),
        (5, "a closed port", closed_port, [b"--port"]),
        (5, "a silent server with --timeout 1", silent("--tls", "none", "--timeout", "1"), [b"--timeout"]),
        (6, "[IN-USE] at login", scripted(dict(capa=b"USER\r\n", pass_reply=b"-ERR [IN-USE] locked\r\n"),
                                          "--tls", "none", "--allow-plaintext"), [b"IN-USE"]),
        (7, "the Maildir is a file", unwritable_maildir, [b"not-a-directory"]),
    ]


def check_failure_text(p, must_contain, options):
    """The text names what happened and only options that exist; no library API names."""
    for needle in must_contain:
        check(needle in p.stderr, "stderr lacks %r: %r" % (needle, p.stderr))
    given = {a.encode() for a in p.args if isinstance(a, str)}
    for opt in re.findall(rb"--[a-z][a-z0-9-]*", p.stderr):
        check(opt in options or opt in given, "stderr names %r, which --help does not list: %r" % (opt, p.stderr))
    for api in (b"::", b"()", b"make_tls_context", b"tls_mode", b"login_options"):
        check(api not in p.stderr, "stderr speaks library API (%r): %r" % (api, p.stderr))


def test_exit_code_table():
    """Every exit code, triggered for real: code, JSON summary, and an actionable text."""
    options = help_options()
    seen = set()
    for code, what, how, must_contain in exit_code_rows():
        t0 = time.time()
        p = how()
        expect_rc(p, code, what)
        seen.add(code)
        check_failure_text(p, must_contain, options)
        if "certificate" in what:  # the verifier's reason is not the server's word
            check(b"server said" not in p.stderr, "%s: %r" % (what, p.stderr))
        if b"--json" in b" ".join(a.encode() if isinstance(a, str) else a for a in p.args) and code != 2:
            s = json_lines(p)[-1]
            check(s["exit_code"] == code and s["ok"] == (code == 0), "%s: summary %r" % (what, s))
        # Mode mismatches are recognised at once, not after the 30 s default timeout.
        if "POP3S port" in what or "plain POP3 port" in what:
            check(time.time() - t0 < 10, "%s took %.1fs" % (what, time.time() - t0))
    check(seen >= {0, 1, 2, 3, 4, 5, 6, 7}, "exit codes not covered: %r" % ({0, 1, 2, 3, 4, 5, 6, 7} - seen))


def wait_for(cond, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def run_until_signal(server, signo, d, after="RETR 2"):
    env = {k: v for k, v in os.environ.items() if k != "POP3_PASSWORD"}
    env["POP3_PASSWORD"] = "secret-alice"
    env["HOME"] = os.path.join(SCRATCH, "home-empty")
    p = subprocess.Popen([FETCH, "--host", "127.0.0.1", "--port", server.port, "--tls", "none",
                          "--allow-plaintext", "--user", "alice", "--maildir", d, "--json"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: after in server.commands, 20, after)
        t0 = time.time()
        p.send_signal(signo)
        out, err = p.communicate(timeout=30)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err), time.time() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_signal_ends_with_summary():
    """SIGINT/SIGTERM: a summary (also with --json), exit code 128+N, nothing lost, nothing
    twice: the message in flight is dropped, what was stored is deleted and QUIT is sent;
    a server that does not let the run end is cut off after the grace period."""
    import signal
    # Graceful: a slow but answering server.
    srv = scripted_server(capa=b"USER\r\nUIDL\r\n", messages=SAMPLE, retr_delay=0.4)
    try:
        d = os.path.join(SCRATCH, "maildir-sigint")
        p, took = run_until_signal(srv, signal.SIGINT, d)
        expect_rc(p, 130, "SIGINT")
        s = json_lines(p)[-1]
        check(s["exit_code"] == 130 and s["error"]["category"] == "interrupted", "summary %r" % s)
        check(took < 5, "the graceful stop took %.1fs" % took)
        check("QUIT" in srv.commands, "no QUIT after SIGINT: %r" % srv.commands)
        stored = maildir_messages(d)
        fetched = [r for r in json_lines(p) if r["type"] == "fetched"]
        check(len(stored) == len(fetched) == s["fetched"] and 1 <= len(stored) < len(SAMPLE),
              "stored %d, reported %d, summary %r" % (len(stored), len(fetched), s))
        check(srv.deleted == set(range(1, len(stored) + 1)), "deleted %r, stored %d" % (srv.deleted, len(stored)))
        check(stored == SAMPLE[:len(stored)], "Maildir contents")
    finally:
        srv.close()
    # Hard: a server that never answers RETR 2.
    srv = scripted_server(capa=b"USER\r\nUIDL\r\n", messages=SAMPLE, stall_retr=2)
    try:
        d = os.path.join(SCRATCH, "maildir-sigterm")
        p, took = run_until_signal(srv, signal.SIGTERM, d)
        expect_rc(p, 143, "SIGTERM")
        s = json_lines(p)[-1]
        check(s["exit_code"] == 143 and s["error"]["category"] == "interrupted", "summary %r" % s)
        check(took < 15, "the stop took %.1fs" % took)
        check(b"SIGTERM" in p.stderr, "stderr: %r" % p.stderr)
        check(maildir_messages(d) == SAMPLE[:1], "Maildir contents")
        check(srv.deleted == set(), "deleted without QUIT: %r" % srv.deleted)
    finally:
        srv.close()


def delete_in_other_session(user, number):
    s = socket.create_connection((ENV["POP3_TEST_HOST"], int(ENV["POP3_TEST_NOSTLS_PORT"])), timeout=10)
    f = s.makefile("rwb")
    f.readline()
    for c in (b"USER " + user.encode(), b"PASS secret-" + user.encode(), b"DELE %d" % number, b"QUIT"):
        f.write(c + b"\r\n")
        f.flush()
        reply = f.readline()
        check(reply.startswith(b"+OK"), "helper session: %r -> %r" % (c, reply))
    s.close()


class vanishing_proxy:
    """Forwards one connection to Dovecot's plain port without STLS; just before it forwards
    "RETR <n>", another session deletes message n, so the server really answers -ERR."""

    def __init__(self, user, number):
        self.user, self.number = user, number
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        server = socket.create_connection((ENV["POP3_TEST_HOST"], int(ENV["POP3_TEST_NOSTLS_PORT"])))
        trigger = b"RETR %d\r\n" % self.number
        pending = b""
        socks = [client, server]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    return
                for sock in r:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is server:
                        client.sendall(data)
                        continue
                    pending += data
                    # Forward whole lines; act on the trigger before it reaches the server.
                    while b"\n" in pending:
                        line, pending = pending.split(b"\n", 1)
                        line += b"\n"
                        if line == trigger:
                            delete_in_other_session(self.user, self.number)
                        server.sendall(line)
        finally:
            client.close()
            server.close()

    def close(self):
        self.listener.close()
        self.thread.join(10)


def test_server_error():
    """Exit code 6: RETR of a message another session deleted (Dovecot: -ERR Message 3
    expunged.): the others are stored and deleted, the failure is reported; and a server
    that breaks the protocol."""
    reset("scratch")
    expected = manifest("scratch")
    proxy = vanishing_proxy("scratch", 3)
    try:
        d = os.path.join(SCRATCH, "maildir-vanished")
        p = fetch("--maildir", d, "--json", "--port", str(proxy.port), "--tls", "none", user="scratch",
                  password="secret-scratch", tls=False)
        expect_rc(p, 6, "a message vanished")
        records = json_lines(p)
        errors = [r for r in records if r["type"] == "message_error"]
        check([(r["number"], r["category"]) for r in errors] == [(3, "server")], "message errors %r" % errors)
        s = records[-1]
        check(s["fetched"] == 9 and s["failed"] == 1 and s["deleted"] == 9 and s["exit_code"] == 6, "summary %r" % s)
        got = maildir_messages(d)
        check(got == [e[3] for e in expected if e[0] != 3], "Maildir contents after a vanished message")
        check(b"message 3" in p.stderr, "stderr: %r" % p.stderr)
    finally:
        proxy.close()
        reset("scratch")
    # A server that breaks the protocol (a fake one): also exit code 6.
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def serve():
        conn, _ = lsock.accept()
        conn.sendall(b"HELLO this is not POP3\r\n")
        time.sleep(1)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        p = fetch("--list", "--port", str(lsock.getsockname()[1]), "--tls", "none", password="x", tls=False)
        expect_rc(p, 6, "malformed greeting")
    finally:
        t.join(5)
        lsock.close()


TESTS = [
    test_maildir_keep_twice,
    test_mbox_implicit_tls,
    test_mbox_from_quoting,
    test_maildir_no_duplicate_after_crash,
    test_maildir_crash_before_sync,
    test_mbox_no_duplicate_after_crash,
    test_state_locked,
    test_state_write_failure,
    test_stdout_and_delete,
    test_storage_failure_keeps_mail,
    test_delete_after,
    test_list_json_and_plain,
    test_credentials_sources,
    test_trace_redacts,
    test_progress_only_on_terminal,
    test_exit_code_table,
    test_signal_ends_with_summary,
    test_server_error,
]


def main():
    if FETCH is None or not os.access(FETCH, os.X_OK):
        print("usage: pop3_fetch_test.py PATH/TO/pop3-fetch", file=sys.stderr)
        return 2
    load_env()
    only = os.environ.get("POP3_FETCH_TEST_ONLY")
    try:
        for t in TESTS:
            if only and only not in t.__name__:
                continue
            t0 = time.time()
            try:
                t()
                RESULTS["passed"] += 1
                print("PASS %s (%.1fs)" % (t.__name__, time.time() - t0), flush=True)
            except Exception:
                RESULTS["failed"] += 1
                print("FAIL %s" % t.__name__, flush=True)
                traceback.print_exc()
    finally:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
