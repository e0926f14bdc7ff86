#!/bin/sh
# Case 11: stop the runner with SIGSTOP ($PPID), then exit: nobody reaps us, nobody reports.
say "stop runner: $TAG (runner $PPID)"
finish
kill -STOP "$PPID"
exit 0
