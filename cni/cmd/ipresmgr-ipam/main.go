// Command ipresmgr-ipam is a CNI IPAM plugin that takes each Kubernetes pod's address from
// IPResMgr (the workload's pool), and, as `ipresmgr-ipam install`, its own node installer.
// See cni/README.md.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"ipresmgr.local/cni/internal/cnitypes"
	"ipresmgr.local/cni/internal/install"
	"ipresmgr.local/cni/internal/netlink"
	"ipresmgr.local/cni/internal/plugin"
)

// version is set at build time: -ldflags "-X main.version=..."
var version = "dev"

type links struct{}

func (links) SetMAC(netns, ifName string, mac net.HardwareAddr) error {
	return netlink.SetMAC(netns, ifName, mac)
}

func (links) GetMAC(netns, ifName string) (net.HardwareAddr, error) {
	return netlink.GetMAC(netns, ifName)
}

const usage = `ipresmgr-ipam %s: a CNI IPAM plugin handing out IPResMgr addresses to Kubernetes pods.
A container runtime runs it with CNI_COMMAND=ADD|DEL|CHECK|VERSION and the network configuration
on stdin (see cni/README.md). Other uses:
  ipresmgr-ipam install [flags]   install the binary and its files on a node (the DaemonSet)
  ipresmgr-ipam version           print the version
`

func main() {
	if os.Getenv("CNI_COMMAND") == "" {
		if len(os.Args) > 1 {
			switch os.Args[1] {
			case "install":
				os.Exit(install.Main(os.Args[2:], os.Stderr))
			case "version", "--version", "-version":
				fmt.Println("ipresmgr-ipam", version, "CNI", cnitypes.SupportedVersions)
				os.Exit(0)
			}
		}
		fmt.Fprintf(os.Stderr, usage, version)
		os.Stdout.Write(cnitypes.Errorf(cnitypes.ErrInvalidEnvironment, "CNI_COMMAND is not set").Encode(""))
		os.Exit(1)
	}
	stdin, err := io.ReadAll(os.Stdin)
	if err != nil {
		os.Stdout.Write(cnitypes.Errorf(cnitypes.ErrIOFailure, "reading stdin: %v", err).Encode(""))
		os.Exit(1)
	}
	p := &plugin.Plugin{Getenv: os.Getenv, Stdin: stdin, Stderr: os.Stderr, Links: links{}, Name: filepath.Base(os.Args[0])}
	out, status := p.Run()
	os.Stdout.Write(out)
	os.Exit(status)
}
