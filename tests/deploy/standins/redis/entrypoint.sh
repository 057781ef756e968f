#!/bin/bash
# As the official redis image does: a redis-server given no --protected-mode accepts
# connections from other containers (protected mode would refuse them without a password).
set -euo pipefail
if [ "${1:-}" = redis-server ] && [[ " $* " != *" --protected-mode "* ]]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
