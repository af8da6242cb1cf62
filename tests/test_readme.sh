#!/bin/bash
# What README.md shows a user to type exists: every `./run.sh COMMAND` is a
# command `./run.sh help` lists, every --option on such a line is in that
# command's --help, and `./run.sh help` lists every command run.sh has.
#
# usage: test_readme.sh SOURCE_DIR KREFBENCH_BINARY
set -u
src=$1
export KREFBENCH_BIN=$2	# run.sh uses this binary: nothing is built
here=$(cd "$(dirname "$0")" && pwd)
. "$here/check.sh"

help=$("$src/run.sh" help 2>&1)
check "./run.sh help exits 0 and says usage" grep -q '^usage: ./run.sh' <<<"$help"
# run.sh's own dispatch: every command its case statement knows.
dispatched=$(sed -n '/^case "\${1:-}" in/,/^esac/p' "$src/run.sh" | grep -oE '^	[a-z][a-z|]*\)' | tr -d '\t)' | tr '|' '\n' | sort -u)
for c in $dispatched; do
	case $c in help) continue ;; esac
	check "./run.sh help lists '$c'" grep -qE "^  \./run\.sh $c( |$)" <<<"$help"
done

# help_of COMMAND: that command's --help text (the sweep's for the main job).
help_of() {
	case $1 in
		"" | bench) "$src/run.sh" bench --help ;;
		compare) "$src/run.sh" compare --help; "$src/run.sh" compare --rev HEAD --help ;;
		test) cat "$src/run.sh" ;;	# flavours are run.sh's own words
		fleet) "$src/run.sh" fleet --help; "$src/run.sh" bench --help ;;	# the sweep's options pass on
		bisect) "$src/run.sh" bisect --help; "$src/run.sh" compare --rev HEAD --help ;;	# the gate's options pass on
		*) "$src/run.sh" "$1" --help ;;
	esac 2>&1
}
declare -A helps
lines=$(grep -oE '\./run\.sh( [^`#|]*)?' "$src/README.md" | sed 's/[[:space:]]*$//' | sort -u)
while IFS= read -r line; do
	[ -n "$line" ] || continue
	read -r _ cmd _ <<<"$line"
	case $cmd in --* | "") cmd="" ;; esac
	if [ -n "$cmd" ] && [ "$cmd" != help ] && ! grep -qE "(^|[^a-z])$cmd([^a-z]|$)" <<<"$dispatched"; then
		fail "README: '$line': '$cmd' is not a run.sh command"
		continue
	fi
	[ -n "${helps[x$cmd]+set}" ] || helps[x$cmd]=$(help_of "$cmd")
	for opt in $(grep -oE -- '(^| )--[a-z][a-z0-9-]*' <<<"$line" | tr -d ' ' | grep -vx -- --help); do
		if grep -qE -- "$opt([^a-z0-9-]|$)" <<<"${helps[x$cmd]}"; then
			pass "README: '$line': $opt is an option of ./run.sh${cmd:+ $cmd}"
		else
			fail "README: '$line': $opt is not in ./run.sh${cmd:+ $cmd} --help"
		fi
	done
done <<<"$lines"
check_summary
