#!/bin/sh
# Case 12: sleep past the configured default timeout.
say "sleeping: $TAG"
finish
sleep 60
