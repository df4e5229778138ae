# Sourced by the install scripts: npm_pack_pinned NAME VERSION SHA256 DIR
# runs `npm pack NAME@VERSION` in DIR (no install scripts run), checks the
# tarball's SHA-256 against the pin and prints the tarball's path.
npm_pack_pinned() {
	local name="$1" version="$2" want="$3" dir="$4" who
	who="$(basename "$0" .sh)"
	command -v npm >/dev/null || { echo "$who: npm is required" >&2; return 1; }
	echo "$who: fetching $name@$version" >&2
	(cd "$dir" && npm pack --silent "$name@$version" >/dev/null) || return 1
	local tgz="$dir/$name-$version.tgz" got
	got="$(sha256sum "$tgz" | cut -d' ' -f1)"
	if [[ "$got" != "$want" ]]; then
		echo "$who: SHA-256 mismatch: got $got want $want" >&2
		return 1
	fi
	echo "$tgz"
}
