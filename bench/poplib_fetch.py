#!/usr/bin/env python3
"""One POP3 session with Python's standard poplib, for bench_latency (issue 12).

    poplib_fetch.py HOST PORT USER   (the password in the environment: POP3_PASSWORD)

Connects, logs in with USER/PASS, STAT, RETR 1..N one at a time (poplib does not pipeline),
QUIT. Prints "messages N bytes B seconds S": B counts what poplib hands out (its lines
joined with CRLF, plus a final CRLF, as the library and curl count), S the time from
connect to QUIT's reply, so the interpreter's start-up is not counted.
"""
import os
import poplib
import sys
import time


def main():
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    start = time.monotonic()
    box = poplib.POP3(host, port, timeout=60)
    box.user(user)
    box.pass_(os.environ["POP3_PASSWORD"])
    count, _ = box.stat()
    total = 0
    for n in range(1, count + 1):
        _, lines, _ = box.retr(n)
        total += sum(len(line) + 2 for line in lines)
    box.quit()
    seconds = time.monotonic() - start
    print("messages %d bytes %d seconds %.6f" % (count, total, seconds))


if __name__ == "__main__":
    main()
