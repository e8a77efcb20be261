#!/usr/bin/env bash
# preflight: is this machine ready for the workshop? One line per check;
# exits 1 when anything is missing, saying what to install. Run it with
# `make preflight` from the repository root.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=0
mac=false
[ "$(uname -s)" = Darwin ] && mac=true
ok()   { printf '  ok       %-14s %s\n' "$1" "$2"; }
bad()  { printf '  MISSING  %-14s %s\n' "$1" "$2"; missing=$((missing + 1)); }
note() { printf '  note     %-14s %s\n' "$1" "$2"; }
install_hint() { # $1 brew formula/cask, $2 Debian package
	if $mac; then echo "install it: brew install $1"; else echo "install it: sudo apt-get install $2 (or make deps as root)"; fi
}

echo "preflight: $(uname -s) $(uname -m)"
case "$(uname -s)/$(uname -m)" in
Linux/* | Darwin/arm64 | Darwin/x86_64) ;;
*) bad platform "$(uname -s)/$(uname -m) is not supported: macOS or Linux" ;;
esac

# Go, at least the version go.mod asks for.
want=$(awk '/^go /{print $2; exit}' go.mod)
if ! command -v go >/dev/null 2>&1; then
	bad go "not found: install Go $want or newer ($($mac && echo 'brew install go' || echo 'from the Go downloads page'))"
else
	have=$(go env GOVERSION | sed 's/^go//')
	if awk -v h="$have" -v w="$want" 'BEGIN { split(h, a, /[.a-z]/); split(w, b, "."); for (i = 1; i <= 3; i++) { if (a[i] + 0 != b[i] + 0) exit !(a[i] + 0 > b[i] + 0) } exit 0 }'; then
		ok go "go$have (go.mod wants $want)"
	else
		bad go "go$have is older than the $want go.mod wants: upgrade Go"
	fi
fi

if command -v redis-server >/dev/null 2>&1; then
	ok redis-server "$(redis-server --version | awk '{sub(/^v=/, "", $3); print $3}')"
else
	bad redis-server "not found (exercises 4 and 7, queue, pubsub, eventbus need it): $(install_hint redis redis-server)"
fi

chrome=""
for c in chromium chromium-browser google-chrome google-chrome-stable \
	"/Applications/Chromium.app/Contents/MacOS/Chromium" \
	"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"; do
	if command -v "$c" >/dev/null 2>&1 || [ -x "$c" ]; then chrome=$c; break; fi
done
if [ -n "$chrome" ]; then
	ok chromium "$chrome"
else
	bad chromium "not found (the live view's browser test needs it): $($mac && echo 'brew install --cask chromium' || echo 'sudo apt-get install chromium (or make deps as root)')"
fi

if command -v curl >/dev/null 2>&1; then
	ok curl "$(curl --version | awk 'NR==1{print $2}')"
else
	bad curl "not found (every exercise uses it): $(install_hint curl curl)"
fi

# The exercises' servers listen on these; something already there would
# answer in their place.
for port in 8080 8081; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		bad "port $port" "busy: something listens on 127.0.0.1:$port (lsof -nP -iTCP:$port -sTCP:LISTEN shows what); stop it"
	else
		ok "port $port" "free"
	fi
done

# Every module the build needs, already in the module cache: the workshop
# must not depend on the room's network.
if command -v go >/dev/null 2>&1; then
	if GOFLAGS=-mod=mod GOPROXY=off go list -deps -test ./... >/dev/null 2>&1; then
		ok "module cache" "every module is there ($(go env GOMODCACHE))"
	else
		bad "module cache" "modules missing: run make deps once while online"
	fi
fi

if [ -x bin/offload ]; then
	newer=$(find cmd internal strategies harness lagmonitor reports results workshop -name '*.go' -newer bin/offload 2>/dev/null | head -1)
	if [ -n "$newer" ]; then
		note bin/offload "older than $newer: make build (make exercise rebuilds it)"
	else
		ok bin/offload "up to date"
	fi
else
	note bin/offload "not built yet: make build"
fi

if [ "$missing" -gt 0 ]; then
	echo "preflight: $missing missing: see the lines above"
	exit 1
fi
echo "preflight: ready"
