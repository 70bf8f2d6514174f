#!/usr/bin/env bash
# Regenerates cni/vendor/ from Debian's Go source packages (there is no module proxy to fetch
# from): the packages the plugin imports and what they import, nothing else, laid out as
# `go mod vendor` lays it out, with vendor/modules.txt and each module's licence. Run it after
# changing imports or go.mod; check the result in. Needs (Debian bookworm):
#   apt-get install golang-go golang-github-appc-cni-dev golang-github-containernetworking-plugins-dev \
#     golang-golang-x-sys-dev golang-github-vishvananda-netlink-dev golang-k8s-sigs-yaml-dev
set -euo pipefail
cd "$(dirname "$0")/.."
src=/usr/share/gocode/src

# module path, the version go.mod requires (Debian's version in Go's spelling), the Debian
# package, the licence. Debian's netlink is an untagged snapshot, 125 commits after v1.1.0 at
# commit f243826; Go has no pseudo-version without the commit's time, so it is spelt as Debian does.
modules=(
  "github.com/containernetworking/cni v1.1.2 golang-github-appc-cni-dev Apache-2.0"
  "github.com/containernetworking/plugins v1.1.1 golang-github-containernetworking-plugins-dev Apache-2.0"
  "github.com/vishvananda/netlink v1.1.1-0.125.gf243826 golang-github-vishvananda-netlink-dev Apache-2.0"
  "github.com/vishvananda/netns v0.0.0-20211101163701-50045581ed74 golang-github-vishvananda-netns-dev Apache-2.0"
  "golang.org/x/sys v0.3.0 golang-golang-x-sys-dev BSD-3-Clause"
  "gopkg.in/yaml.v2 v2.4.0 golang-gopkg-yaml.v2-dev Apache-2.0"
  "sigs.k8s.io/yaml v1.3.0 golang-k8s-sigs-yaml-dev MIT"
)

rm -rf vendor
gopath=$(mktemp -d)
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/ipresmgr.local"
ln -s "$PWD" "$gopath/src/ipresmgr.local/cni"
for top in "$src"/*; do ln -s "$top" "$gopath/src/$(basename "$top")"; done

# Every non-standard package the plugin, its tests and the test runtime import, for Linux.
# (GOPATH mode resolves imports from Debian's tree; a failure here stops the script.)
(cd "$gopath/src/ipresmgr.local/cni" && GO111MODULE=off GOPATH="$gopath" GOOS=linux \
  go list -deps -test -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./...) > "$gopath/packages"
mapfile -t packages < <(grep -v -e '^ipresmgr.local/' -e '^$' "$gopath/packages" | sort -u)

: > modules.txt.new
for entry in "${modules[@]}"; do
  read -r module version package licence <<<"$entry"
  mine=()
  for p in "${packages[@]}"; do
    if [ "$p" = "$module" ] || [[ "$p" == "$module"/* ]]; then mine+=("$p"); fi
  done
  [ ${#mine[@]} -gt 0 ] || { echo "no package of $module is used: drop it from the list" >&2; exit 1; }
  goversion=$(awk '$1 == "go" {print $2; exit}' "$src/$module/go.mod")
  explicit="## explicit"
  [ -n "$goversion" ] && explicit="## explicit; go $goversion"
  printf '# %s %s\n%s\n' "$module" "$version" "$explicit" >> modules.txt.new
  for p in "${mine[@]}"; do
    mkdir -p "vendor/$p"
    find "$src/$p" -maxdepth 1 -type f ! -name '*_test.go' ! -name 'go.mod' ! -name 'go.sum' -exec cp {} "vendor/$p/" \;
    echo "$p" >> modules.txt.new
  done
  # Debian keeps the licence in the package's copyright file; the full text for Apache-2.0.
  doc=/usr/share/doc/$package
  {
    echo "$module $version, from Debian's $package $(dpkg-query -W -f '${Version}' "$package"). Licence: $licence."
    echo "Debian's copyright file follows; for Apache-2.0 the licence's full text after it."
    echo
    cat "$doc/copyright"
    if [ "$licence" = Apache-2.0 ]; then echo; cat /usr/share/common-licenses/Apache-2.0; fi
  } > "vendor/$module/LICENSE"
done
mv modules.txt.new vendor/modules.txt
echo "vendored ${#packages[@]} packages:"
sed 's/^/  /' vendor/modules.txt
