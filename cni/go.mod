module ipresmgr.local/cni

go 1.19

// Debian bookworm's packages, vendored (vendor/, hack/vendor-from-debian.sh, THIRD_PARTY.md).
require (
	github.com/containernetworking/cni v1.1.2
	github.com/containernetworking/plugins v1.1.1
	github.com/vishvananda/netlink v1.1.1-0.125.gf243826
	golang.org/x/sys v0.3.0
	sigs.k8s.io/yaml v1.3.0
)

require (
	github.com/vishvananda/netns v0.0.0-20211101163701-50045581ed74 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)
