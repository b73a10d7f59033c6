#!/usr/bin/env bash
# Copies log files into the spool directory safely: under a hidden temporary name first,
# then renamed in, so the daemon never sees a half-written file.
#   scripts/drop-file.sh FILE... [--spool DIR]   (default spool dir: ./spool)
set -euo pipefail
spool=spool
files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --spool) spool="$2"; shift 2 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) files+=("$1"); shift ;;
  esac
done
[ ${#files[@]} -gt 0 ] || { echo "usage: $0 FILE... [--spool DIR]" >&2; exit 64; }
for f in "${files[@]}"; do
  name=$(basename "$f")
  if [ -e "$spool/$name" ] || [ -e "$spool/$name.COMPLETED" ]; then
    echo "drop-file: $spool/$name was already used; rename the file first" >&2
    exit 1
  fi
  cp "$f" "$spool/.$name.tmp"
  mv "$spool/.$name.tmp" "$spool/$name"
  echo "dropped $f -> $spool/$name"
done
