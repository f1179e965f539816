#!/usr/bin/env bash
# The layering of shared/ (README "Layout"), checked from the code's own #include lines: each folder may include
# only the folders listed for it, every source lives in one of these folders, and no file grows past 900 lines.
# A new arrow between folders is a design change: add it here on purpose, with the README, or move the code.
# Ends with "N passed, N failed" like the other runners.
set -uo pipefail
cd "$(dirname "$0")/.."

# folder: the folders it may include besides itself (lowest layer first)
declare -A MAY=(
	[core]=""
	[text]="core"
	[extract]="core"
	[embed]="core text"
	[vstore]="core text"
	[kb]="core vstore"
	[search]="core text embed vstore kb"
	[answer]="core text embed search"
	[account]="core"
	[ingest]="core text extract embed vstore kb answer account"
	[chat]="core text kb search answer account"
	[web]="core account"
)
MAX_LINES=900
passed=0 failed=0
allowed() { # what a folder may use, in words
	if [ -n "${MAY[$1]}" ]; then echo "$1/ may use only: ${MAY[$1]}"; else echo "$1/ may use nothing above it"; fi
}
result() { # name, problems (empty = ok)
	if [ -z "$2" ]; then
		echo "ok layers/$1"
		passed=$((passed + 1))
	else
		echo "FAIL layers/$1"
		sed 's/^/    /' <<<"$2"
		failed=$((failed + 1))
	fi
}

for dir in core text extract embed vstore kb search answer account ingest chat web; do
	bad=""
	for f in shared/$dir/*.[ch]; do
		while IFS= read -r target; do
			to=${target%%/*}
			[ "$to" = "$target" ] && continue # a header of the same folder by its bare name (extract/internal.h)
			[ "$to" = "$dir" ] && continue
			case " ${MAY[$dir]} " in *" $to "*) continue ;; esac
			bad+="$f includes $target: $(allowed "$dir")"$'\n'
		done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$f")
	done
	result "${dir}_includes_only_lower_layers" "${bad%$'\n'}"
done

# The same rule for calls, from the built objects: a name an object uses but does not define must come from its
# own folder, an allowed one, or outside shared/ (libc and the libraries).
BUILDDIR=${BUILDDIR:-build}
if [ -d "$BUILDDIR/shared" ]; then
	declare -A OWNER=()
	for o in "$BUILDDIR"/shared/*/*.o; do
		d=$(basename "$(dirname "$o")")
		while read -r sym; do OWNER[$sym]=$d; done < <(nm --defined-only -g "$o" | awk '{print $3}')
	done
	for dir in core text extract embed vstore kb search answer account ingest chat web; do
		bad=""
		for o in "$BUILDDIR"/shared/$dir/*.o; do
			[ -e "$o" ] || continue
			while read -r sym; do
				to=${OWNER[$sym]:-}
				[ -z "$to" ] || [ "$to" = "$dir" ] && continue
				case " ${MAY[$dir]} " in *" $to "*) continue ;; esac
				bad+="$o calls $sym of $to/: $(allowed "$dir")"$'\n'
			done < <(nm --undefined-only -g "$o" | awk '{print $2}')
		done
		result "${dir}_calls_only_lower_layers" "${bad%$'\n'}"
	done
else
	echo "(no $BUILDDIR/shared: calls not checked; build first)"
fi

# Folders without C: the console and the chat widget (browser files, served as they are), and dist (the script
# that packs the shared-hosting bundle).
STATIC=" console widget dist "
stray=""
for f in shared/*; do
	[ -d "$f" ] && [ -n "${MAY[$(basename "$f")]+x}" ] && continue
	[ -d "$f" ] && [[ "$STATIC" == *" $(basename "$f") "* ]] && continue
	stray+="$f is not in a layer's folder (test/layers.sh lists them)"$'\n'
done
for d in $STATIC; do
	while IFS= read -r f; do stray+="$f: $d/ holds no C"$'\n'; done \
		< <(find "shared/$d" -name '*.[ch]' 2>/dev/null)
done
result every_source_is_in_a_layer "${stray%$'\n'}"

long=""
while IFS= read -r f; do
	n=$(wc -l <"$f")
	[ "$n" -gt "$MAX_LINES" ] && long+="$f has $n lines (at most $MAX_LINES)"$'\n'
done < <(find shared -type f \( -name '*.c' -o -name '*.h' \))
result no_file_over_${MAX_LINES}_lines "${long%$'\n'}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
