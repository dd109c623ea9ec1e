#!/bin/sh
# docker/role-change-hook.sh - the demo's on_role_change hook (docker/agent-db.conf.in).
# haprole-agent runs it once per change of its PostgreSQL's role as
#   role-change-hook.sh OLD_ROLE NEW_ROLE NODE TIMELINE
# It appends ONE line "<epoch_ms> <node> <old> <new> <tl>" to $DEMO_DIR/<node>/role-changes.log
# (docker/demo.sh writes the agent's config as $DEMO_DIR/<node>/agent.conf: the hook writes
# beside it, HAPROLE_CONFIG's directory). The failover suite counts these lines: exactly one
# per promotion. Keep the file name and the format.
set -u
dir=$(dirname "${HAPROLE_CONFIG:?HAPROLE_CONFIG not set}")
printf '%s %s %s %s %s\n' "$(date +%s%3N)" "$3" "$1" "$2" "$4" >>"$dir/role-changes.log"
