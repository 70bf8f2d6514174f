// Command ipresmgr-ipam is a CNI IPAM plugin that takes each Kubernetes pod's address from
// IPResMgr (the workload's pool), and, as `ipresmgr-ipam install`, its own node installer.
// See cni/README.md.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ipresmgr.local/cni/internal/install"
	"ipresmgr.local/cni/internal/plugin"
	"ipresmgr.local/cni/internal/podnet"
)

// version is set at build time: -ldflags "-X main.version=..."
var version = "dev"

const usage = `ipresmgr-ipam %s: a CNI IPAM plugin handing out IPResMgr addresses to Kubernetes pods.
A container runtime runs it with CNI_COMMAND=ADD|DEL|CHECK|VERSION and the network configuration
on stdin (see cni/README.md). Other uses:
  ipresmgr-ipam install [flags]   install the binary and its files on a node (the DaemonSet); -h lists the flags
  ipresmgr-ipam version           print the version`

func main() {
	if os.Getenv("CNI_COMMAND") == "" && len(os.Args) > 1 {
		switch os.Args[1] {
		case "install":
			os.Exit(install.Main(os.Args[2:], os.Stderr))
		case "version", "--version", "-version":
			fmt.Println("ipresmgr-ipam", version, "CNI", strings.Join(plugin.Versions.SupportedVersions(), ", "))
			os.Exit(0)
		}
	}
	p := &plugin.Plugin{Stderr: os.Stderr, Links: podnet.Links{}, Name: filepath.Base(os.Args[0])}
	os.Exit(p.Main(fmt.Sprintf(usage, version)))
}
