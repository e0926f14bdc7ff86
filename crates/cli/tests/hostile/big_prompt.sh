#!/bin/sh
# Case 10: a 10 MiB prompt: read it from AXON_PROMPT_FILE (or $1 when that is unset) and say
# how long it is and how it ends.
if [ -n "$AXON_PROMPT_FILE" ]; then
  src=AXON_PROMPT_FILE
  bytes=$(wc -c <"$AXON_PROMPT_FILE")
  tail=$(tail -c 64 "$AXON_PROMPT_FILE")
else
  src='$1'
  bytes=$(printf '%s' "$1" | wc -c)
  tail=$(printf '%s' "$1" | tail -c 64)
fi
say "prompt via $src: $bytes bytes"
say "prompt tail: $tail"
finish
