#!/bin/sh
# Case 3: create files anywhere on the host outside the work tree (HOSTILE_PATHS), plainly
# and after trying to make the host writable.
say "write host: $TAG"
scribble
open_host
scribble
finish
