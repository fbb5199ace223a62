#!/usr/bin/env python3
"""Deterministic Maildir fixtures for the Dovecot POP3 integration tests.

Writes, for each user, HOME_ROOT/<user>/Maildir/{cur,new,tmp} with messages in
cur/ named ``1700000000.M<n>P1.test:2,S`` and a hand-written ``dovecot-uidlist``
(format version 3) that pins UIDVALIDITY and every message's UID, so the UIDL
strings Dovecot reports are stable across regenerations.

Also writes (unless --mail-only) EXPECTED/<user>.tsv with one line per message
in server message-number order (Dovecot orders messages by UID):

    <number> TAB <uidl> TAB <octets as LIST reports> TAB <absolute path of .eml>

and EXPECTED/<user>/<number>.eml holding the exact bytes the server sends for
RETR once the client has removed dot-stuffing and the terminating ".CRLF":
stored bare LF -> CRLF, stored CRLF kept, bare CR kept, and a message that
does not end in a newline gets CRLF appended (that CRLF is not part of the
LIST octet count).

Standard library only. Content depends on nothing but the user name, so
regenerating a user (e.g. after a test DELEted messages) gives identical
bytes, file names and UIDs.

Usage:
    mailgen.py --home-root DIR/home --expected DIR/expected \
               [--uid UID --gid GID] [--mail-only] [USER ...]
"""

import argparse
import hashlib
import os
import random
import re
import shutil
import sys

# pool01..pool50: the accounts leave_on_server_pool_test polls concurrently.
POOL_USERS = tuple("pool%02d" % i for i in range(1, 51))
USERS = ("alice", "empty", "big", "many", "bench", "scratch", "keep") + POOL_USERS

# UIDVALIDITY per user. 1700000001 == 0x6553f101 (contains hex letters, so the
# UIDL case is exercised).
UIDVALIDITY = {
    "alice": 1700000001,
    "empty": 1700000002,
    "big": 1700000003,
    "many": 1700000004,
    "bench": 1700000005,
    "scratch": 1700000006,
    "keep": 1700000007,
}
UIDVALIDITY.update({u: 1700001000 + i for i, u in enumerate(POOL_USERS, 1)})

# Must match pop3_uidl_format = %08Xu%08Xv in dovecot.conf. Dovecot's %X
# modifier prints lowercase hex.
def uidl_string(uid, uidvalidity):
    return "%08x%08x" % (uid, uidvalidity)


WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima "
    "mike november oscar papa quebec romeo sierra tango uniform victor whiskey "
    "xray yankee zulu mailbox server client octet message header body line "
    "protocol socket buffer stream parser retrieve delete list stat quit noop "
    "the a of and to in is it for on with as at by from this that"
).split()


def _rng(user, salt=""):
    seed = int.from_bytes(hashlib.sha256(("pop3test:%s:%s" % (user, salt)).encode()).digest()[:8], "big")
    return random.Random(seed)


def _text_lines(rng, count, width=72):
    out = []
    for _ in range(count):
        line = []
        n = 0
        while True:
            w = rng.choice(WORDS)
            if n + len(w) + 1 > width:
                break
            line.append(w)
            n += len(w) + 1
        out.append(" ".join(line))
    return out


def _headers(frm, to, subject, n, extra=(), date="Tue, 14 Nov 2023 22:13:20 +0000"):
    h = [
        "Return-Path: <%s>" % frm,
        "From: %s" % frm,
        "To: %s" % to,
        "Subject: %s" % subject,
        "Date: %s" % date,
        "Message-ID: <%s@pop3test.example>" % n,
        "MIME-Version: 1.0",
    ]
    h.extend(extra)
    return h


def _join(lines, eol=b"\n"):
    return eol.join(x if isinstance(x, bytes) else x.encode("ascii") for x in lines)


# ---------------------------------------------------------------- alice ----

def gen_alice():
    """~13 varied messages exercising wire-format edge cases. Returns [(uid, bytes)]."""
    rng = _rng("alice")
    msgs = []
    ascii_plain = ["Content-Type: text/plain; charset=us-ascii",
                   "Content-Transfer-Encoding: 7bit"]

    # 1: ordinary message stored with CRLF line endings.
    body = ["Hello Alice,", ""] + _text_lines(rng, 8) + ["", "-- ", "Bob"]
    msgs.append(_join(_headers("bob@example.org", "alice@example.org",
                               "Plain CRLF message", "alice-1", ascii_plain)
                      + [""] + body, b"\r\n") + b"\r\n")

    # 2: ordinary message stored with bare LF (the usual on-disk Maildir form).
    body = ["Hi Alice,", ""] + _text_lines(rng, 12) + ["", "Carol"]
    msgs.append(_join(_headers("carol@example.org", "alice@example.org",
                               "Plain LF message", "alice-2", ascii_plain)
                      + [""] + body) + b"\n")

    # 3: dot-stuffing cases, stored with LF. The lone "." line in the middle
    # must be stuffed by the server or the client would stop early.
    body = [
        "Lines that begin with dots follow.",
        ".single leading dot",
        "..two leading dots",
        "...three leading dots",
        ".",
        "the previous line was a lone dot",
        "..",
        "the previous line was two dots",
        ". dot then space",
        ".\tdot then tab",
        "a line ending in a dot.",
        ".",
        ".",
        "end of dot test",
    ]
    msgs.append(_join(_headers("dave@example.org", "alice@example.org",
                               "Dot stuffing (LF stored)", "alice-3", ascii_plain)
                      + [""] + body) + b"\n")

    # 4: dot cases stored with CRLF, and the final body line is a lone ".".
    body = ["CRLF-stored dots:", ".", "..", ".x", "", "last line is a lone dot:", "."]
    msgs.append(_join(_headers("dave@example.org", "alice@example.org",
                               "Dot stuffing (CRLF stored, ends with dot line)",
                               "alice-4", ascii_plain)
                      + [""] + body, b"\r\n") + b"\r\n")

    # 5: 8-bit Latin-1 in a header and the body.
    hdr = _headers("erwin@example.de", "alice@example.org", "x", "alice-5",
                   ["Content-Type: text/plain; charset=iso-8859-1",
                    "Content-Transfer-Encoding: 8bit"])
    hdr[3] = "Subject: Gr\xfc\xdfe aus K\xf6ln".encode("latin-1")
    body = ["Sch\xf6ne Gr\xfc\xdfe, \xe9t\xe9, na\xefve, \xa9 \xae \xb0 \xbd \xff".encode("latin-1"),
            "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9 high half of Latin-1".encode("latin-1"),
            "plain ascii line"]
    msgs.append(_join(hdr + [b""] + body) + b"\n")

    # 6: UTF-8 in a header and the body (CRLF stored).
    hdr = _headers("fumiko@example.jp", "alice@example.org", "x", "alice-6",
                   ["Content-Type: text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: 8bit"])
    hdr[3] = "Subject: Grüße — 日本語のテスト ✉".encode("utf-8")
    body = ["Grüße aus Köln. Ελληνικά. Русский текст.".encode("utf-8"),
            "日本語の本文です。絵文字: 😀 📬".encode("utf-8"),
            ".ドットで始まる行".encode("utf-8")]
    msgs.append(_join(hdr + [b""] + body, b"\r\n") + b"\r\n")

    # 7: NUL byte and other control bytes in the body.
    body = [b"before the NUL\x00after the NUL",
            b"\x00",
            b"control bytes: \x01\x02\x1b[0m\x7f end"]
    msgs.append(_join(_headers("gina@example.org", "alice@example.org",
                               "Contains a NUL byte", "alice-7",
                               ["Content-Type: application/octet-stream"])
                      + [""] + body) + b"\n")

    # 8: no final newline.
    body = ["This message has no final newline.", "the last line ends without LF"]
    msgs.append(_join(_headers("hank@example.org", "alice@example.org",
                               "No final newline", "alice-8", ascii_plain)
                      + [""] + body))

    # 9: one line of exactly 1 MiB (1048576 octets before the line end).
    pat = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
    long_line = (pat * (1048576 // len(pat) + 1))[:1048576]
    msgs.append(_join(_headers("ivan@example.org", "alice@example.org",
                               "One 1 MiB line", "alice-9", ascii_plain)
                      + ["", "the next line is 1048576 octets long:", long_line, "end"]) + b"\n")

    # 10: empty body (header block, blank separator line, nothing else).
    msgs.append(_join(_headers("judy@example.org", "alice@example.org",
                               "Empty body", "alice-10", ascii_plain)) + b"\n\n")

    # 11: bare CR inside lines (LF stored). "x\r\r\n" -> CR kept, LF becomes...
    # the LF is already preceded by CR, so it goes out unchanged.
    body = [b"bare\rCR in the middle of a line",
            b"carriage return before CRLF\r\r",
            b"normal line"]
    msgs.append(_join(_headers("kim@example.org", "alice@example.org",
                               "Bare CR", "alice-11", ascii_plain)
                      + [""] + body) + b"\n")

    # 12: mixed line endings (header block CRLF, body alternates LF/CRLF).
    hdr = _join(_headers("leo@example.org", "alice@example.org",
                         "Mixed line endings", "alice-12", ascii_plain), b"\r\n") + b"\r\n\r\n"
    body = b""
    for i, line in enumerate(_text_lines(rng, 10)):
        body += line.encode() + (b"\r\n" if i % 2 else b"\n")
    msgs.append(hdr + body)

    # 13: multipart/mixed with a ~24 KB base64 attachment (CRLF stored).
    import base64
    blob = bytes(rng.getrandbits(8) for _ in range(18000))
    b64 = base64.encodebytes(blob).decode().splitlines()
    hdr = _headers("mia@example.org", "alice@example.org",
                   "Multipart with attachment", "alice-13",
                   ['Content-Type: multipart/mixed; boundary="=_pop3test_boundary"'])
    body = (["This is a multi-part message in MIME format.", "",
             "--=_pop3test_boundary",
             "Content-Type: text/plain; charset=us-ascii", "",
             "See the attached file.", "",
             "--=_pop3test_boundary",
             "Content-Type: application/octet-stream; name=\"blob.bin\"",
             "Content-Transfer-Encoding: base64",
             "Content-Disposition: attachment; filename=\"blob.bin\"", ""]
            + b64 + ["", "--=_pop3test_boundary--"])
    msgs.append(_join(hdr + [""] + body, b"\r\n") + b"\r\n")

    # UIDs with gaps (n*n), so UID != message number and hex letters appear.
    return [(n * n, m) for n, m in enumerate(msgs, 1)]


# ------------------------------------------------------- bulk mailboxes ----

def gen_big():
    """One ~50 MB message of ~80-character lines (LF stored); some lines begin
    with '.', some are exactly '.' or '..'."""
    rng = _rng("big")
    pool = _text_lines(rng, 4096, width=70)
    target = 50 * 1024 * 1024
    hdr = _join(_headers("bulk@example.org", "big@example.org",
                         "50 MB message", "big-1",
                         ["Content-Type: text/plain; charset=us-ascii"])) + b"\n\n"
    avg = 9 + sum(len(x) for x in pool) / len(pool)
    count = int((target - len(hdr)) / avg) + 1
    lines = ["%07d %s" % (i, pool[(i * 7919) & 4095]) for i in range(count)]
    for i in range(0, count, 97):
        lines[i] = "." + lines[i]
    for i in range(0, count, 1499):
        lines[i] = ".."
    for i in range(0, count, 997):
        lines[i] = "."
    data = hdr + "\n".join(lines).encode("ascii") + b"\n"
    return [(1, data)]


def gen_many():
    """5,000 small (~300 octet) messages, LF stored."""
    rng = _rng("many")
    pool = _text_lines(rng, 512, width=60)
    out = []
    for n in range(1, 5001):
        hdr = ("From: sender%d@example.org\nTo: many@example.org\n"
               "Subject: small message %d\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n"
               "Message-ID: <many-%d@pop3test.example>\n\n" % (n % 37, n, n))
        body = "%s\n%s\n" % (pool[n % 512], pool[(n * 31) % 512])
        if n % 50 == 0:
            body += ".dotted line in message %d\n" % n
        out.append((n, (hdr + body).encode("ascii")))
    return out


def gen_bench():
    """1,000 messages of about 10 KB, CRLF stored."""
    rng = _rng("bench")
    pool = _text_lines(rng, 2048, width=72)
    out = []
    for n in range(1, 1001):
        hdr = ("From: bench@example.org\r\nTo: bench@example.org\r\n"
               "Subject: bench message %d\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
               "Message-ID: <bench-%d@pop3test.example>\r\n"
               "Content-Type: text/plain; charset=us-ascii\r\n\r\n" % (n, n))
        lines = []
        size = len(hdr)
        k = n * 131
        while size < 10240:
            line = pool[k % 2048]
            if k % 40 == 0:
                line = "." + line
            lines.append(line)
            size += len(line) + 2
            k += 1
        out.append((n, (hdr + "\r\n".join(lines) + "\r\n").encode("ascii")))
    return out


def gen_scratch():
    """10 small messages; tests DELE these and then `dovecot.sh reset` them."""
    rng = _rng("scratch")
    out = []
    for n in range(1, 11):
        body = "\n".join(_text_lines(rng, 3)) + "\n"
        msg = ("From: scratch@example.org\nTo: scratch@example.org\n"
               "Subject: scratch message %d\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n"
               "Message-ID: <scratch-%d@pop3test.example>\n\n" % (n, n)) + body
        out.append((n, msg.encode("ascii")))
    return out


def gen_keep():
    """50 messages of varied size (~300 octets to ~40 KB) for the leave-on-server and
    fault-injection tests; some have dot-stuffed lines, UIDs have gaps (2n + 5)."""
    rng = _rng("keep")
    pool = _text_lines(rng, 1024, width=70)
    out = []
    for n in range(1, 51):
        hdr = ("From: keep%d@example.org\nTo: keep@example.org\n"
               "Subject: keep message %d\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n"
               "Message-ID: <keep-%d@pop3test.example>\n\n" % (n % 7, n, n))
        count = 3 + (n * 37) % 50
        if n % 10 == 3:
            count = 500  # ~36 KB: spans many TCP segments
        lines = [pool[(n * 53 + i) % 1024] for i in range(count)]
        for i in range(0, count, 9):
            lines[i] = "." + lines[i]
        if n % 5 == 0:
            lines.append(".")
        out.append((2 * n + 5, (hdr + "\n".join(lines) + "\n").encode("ascii")))
    return out


def gen_pool(user):
    """3 to 6 messages per pool account, each naming its account (so a message delivered
    to the wrong account shows), of varied size, with dot-stuffed lines."""
    rng = _rng(user)
    index = int(user[4:])
    out = []
    for n in range(1, 4 + index % 4):
        lines = _text_lines(rng, 2 + (index * 7 + n * 13) % 40)
        for i in range(0, len(lines), 5):
            lines[i] = "." + lines[i]
        if n == 2:
            lines.append(".")
        hdr = ("From: %s@example.org\nTo: %s@example.org\n"
               "Subject: %s message %d\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n"
               "Message-ID: <%s-%d@pop3test.example>\n\n" % (user, user, user, n, user, n))
        out.append((n, (hdr + "\n".join(lines) + "\n").encode("ascii")))
    return out


GENERATORS = {
    "alice": gen_alice,
    "empty": lambda: [],
    "big": gen_big,
    "many": gen_many,
    "bench": gen_bench,
    "scratch": gen_scratch,
    "keep": gen_keep,
}
GENERATORS.update({u: (lambda u=u: gen_pool(u)) for u in POOL_USERS})


# ------------------------------------------------------------- writing ----

_BARE_LF = re.compile(rb"(?<!\r)\n")


def wire_bytes(stored):
    """(octets LIST reports, bytes RETR delivers after un-stuffing)."""
    if b"\r" not in stored:
        data = stored.replace(b"\n", b"\r\n")
    elif stored.count(b"\n") == stored.count(b"\r\n"):
        data = stored
    else:
        data = _BARE_LF.sub(b"\r\n", stored)
    size = len(data)
    if data and not data.endswith(b"\n"):
        data += b"\r\n"
    return size, data


def _write(path, data, uid=None, gid=None, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        if uid is not None:
            os.fchown(fd, uid, gid)
        mv = memoryview(data)
        while mv:
            n = os.write(fd, mv)
            mv = mv[n:]
    finally:
        os.close(fd)


def _mkdir(path, uid, gid, mode=0o700):
    os.mkdir(path, mode)
    os.chmod(path, mode)
    if uid is not None:
        os.chown(path, uid, gid)


def write_user(user, home_root, expected_root, uid, gid, mail_only):
    # Serialise concurrent regenerations of the same user (e.g. two test
    # processes running `dovecot.sh reset DIR scratch` at once).
    import fcntl
    lock_fd = os.open(os.path.join(home_root, ".%s.lock" % user), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        return _write_user_locked(user, home_root, expected_root, uid, gid, mail_only)
    finally:
        os.close(lock_fd)


def _write_user_locked(user, home_root, expected_root, uid, gid, mail_only):
    msgs = sorted(GENERATORS[user](), key=lambda t: t[0])
    uidvalidity = UIDVALIDITY[user]

    home = os.path.join(home_root, user)
    if not os.path.isdir(home):
        _mkdir(home, uid, gid)
    elif uid is not None:
        os.chown(home, uid, gid)

    # Build the new Maildir beside the old one, then swap it in with renames,
    # so a running server sees either the old or the new mailbox.
    tmp = os.path.join(home, "Maildir.new.%d" % os.getpid())
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    _mkdir(tmp, uid, gid)
    for sub in ("cur", "new", "tmp"):
        _mkdir(os.path.join(tmp, sub), uid, gid)

    guid = hashlib.md5(("pop3test-mailbox-" + user).encode()).hexdigest()
    next_uid = (msgs[-1][0] + 1) if msgs else 1
    uidlist = ["3 V%d N%d G%s" % (uidvalidity, next_uid, guid)]
    manifest = []
    if not mail_only:
        exp_dir = os.path.join(expected_root, user)
        exp_tmp = exp_dir + ".new.%d" % os.getpid()
        if os.path.exists(exp_tmp):
            shutil.rmtree(exp_tmp)
        os.makedirs(exp_tmp)
    for number, (muid, data) in enumerate(msgs, 1):
        name = "1700000000.M%dP1.test:2,S" % number
        _write(os.path.join(tmp, "cur", name), data, uid, gid)
        uidlist.append("%d :%s" % (muid, name))
        if not mail_only:
            size, wire = wire_bytes(data)
            _write(os.path.join(exp_tmp, "%d.eml" % number), wire, mode=0o644)
            manifest.append("%d\t%s\t%d\t%s" % (
                number, uidl_string(muid, uidvalidity), size,
                os.path.join(os.path.abspath(exp_dir), "%d.eml" % number)))
    _write(os.path.join(tmp, "dovecot-uidlist"),
           ("\n".join(uidlist) + "\n").encode("ascii"), uid, gid)

    maildir = os.path.join(home, "Maildir")
    old = os.path.join(home, "Maildir.old.%d" % os.getpid())
    if os.path.exists(maildir):
        os.rename(maildir, old)
    os.rename(tmp, maildir)
    if os.path.exists(old):
        shutil.rmtree(old)

    if not mail_only:
        old_exp = exp_dir + ".old.%d" % os.getpid()
        if os.path.exists(exp_dir):
            os.rename(exp_dir, old_exp)
        os.rename(exp_tmp, exp_dir)
        if os.path.exists(old_exp):
            shutil.rmtree(old_exp)
        tsv = os.path.join(expected_root, user + ".tsv")
        _write(tsv + ".tmp", ("".join(l + "\n" for l in manifest)).encode(), mode=0o644)
        os.rename(tsv + ".tmp", tsv)
    return len(msgs)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home-root", required=True, help="parent of the users' home directories")
    ap.add_argument("--expected", help="where to write <user>.tsv and <user>/<n>.eml")
    ap.add_argument("--uid", type=int, help="owner uid for the Maildir files")
    ap.add_argument("--gid", type=int, help="owner gid for the Maildir files")
    ap.add_argument("--mail-only", action="store_true", help="do not (re)write expected files")
    ap.add_argument("users", nargs="*", help="users to generate (default: all): " + " ".join(USERS))
    args = ap.parse_args(argv)
    if (args.uid is None) != (args.gid is None):
        ap.error("--uid and --gid go together")
    if not args.mail_only and not args.expected:
        ap.error("--expected is required unless --mail-only")
    users = args.users or list(USERS)
    for u in users:
        if u not in GENERATORS:
            ap.error("unknown user %r (known: %s)" % (u, " ".join(USERS)))
    os.makedirs(args.home_root, exist_ok=True)
    if args.expected:
        os.makedirs(args.expected, exist_ok=True)
    jobs = [(u, args.home_root, args.expected, args.uid, args.gid, args.mail_only) for u in users]
    # The users are independent; generate them in parallel ("big" alone takes
    # about a second).
    if len(jobs) > 1 and (os.cpu_count() or 1) > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(min(len(jobs), os.cpu_count())) as pool:
            pool.starmap(write_user, jobs)
    else:
        for job in jobs:
            write_user(*job)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
