//go:build linux

// Package podnet acts on the pod's interface inside its network namespace: read and set its
// MAC (netlink), and guard its addresses on the wire (package probe). Namespaces are entered
// with containernetworking/plugins' pkg/ns, which runs the work on a locked OS thread.
package podnet

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"ipresmgr.local/cni/internal/probe"
)

// Links is the real implementation the plugin uses.
type Links struct{}

// GetMAC returns the hardware address of ifName in the namespace.
func (Links) GetMAC(netns, ifName string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := ns.WithNetNSPath(netns, func(ns.NetNS) error {
		link, err := netlink.LinkByName(ifName)
		if err != nil {
			return fmt.Errorf("interface %s: %w", ifName, err)
		}
		mac = link.Attrs().HardwareAddr
		return nil
	})
	return mac, err
}

// SetMAC sets the hardware address of ifName in the namespace. An interface that refuses a
// change while up (EBUSY) is taken down, changed and brought up again.
func (Links) SetMAC(netns, ifName string, mac net.HardwareAddr) error {
	return ns.WithNetNSPath(netns, func(ns.NetNS) error {
		link, err := netlink.LinkByName(ifName)
		if err != nil {
			return fmt.Errorf("interface %s: %w", ifName, err)
		}
		if link.Attrs().HardwareAddr.String() == mac.String() {
			return nil
		}
		err = netlink.LinkSetHardwareAddr(link, mac)
		if errors.Is(err, unix.EBUSY) && link.Attrs().Flags&net.FlagUp != 0 {
			if err := netlink.LinkSetDown(link); err != nil {
				return fmt.Errorf("taking %s down to change its MAC: %w", ifName, err)
			}
			err = netlink.LinkSetHardwareAddr(link, mac)
			if upErr := netlink.LinkSetUp(link); upErr != nil && err == nil {
				err = fmt.Errorf("bringing %s up again: %w", ifName, upErr)
			}
		}
		if err != nil {
			return fmt.Errorf("setting the MAC of %s to %s: %w", ifName, mac, err)
		}
		return nil
	})
}

// Guard probes each address on ifName for wait, then announces it. It returns a
// *probe.Conflict for the first address another host answers for (nothing is announced then).
// An IPv6 address the kernel's own duplicate address detection failed is a conflict too, with
// the MAC the probe saw (or none, when the other host keeps quiet now).
func (Links) Guard(netns, ifName string, ips []net.IP, wait time.Duration) error {
	return ns.WithNetNSPath(netns, func(ns.NetNS) error {
		for _, ip := range ips {
			err := probe.Probe(ifName, ip, wait)
			if err == nil && ip.To4() == nil {
				if failed, lerr := dadFailed(ifName, ip); lerr != nil {
					return lerr
				} else if failed {
					err = &probe.Conflict{IP: ip}
				}
			}
			if err != nil {
				return err
			}
		}
		for _, ip := range ips {
			if err := probe.Announce(ifName, ip); err != nil {
				return err
			}
		}
		return nil
	})
}

func dadFailed(ifName string, ip net.IP) (bool, error) {
	link, err := netlink.LinkByName(ifName)
	if err != nil {
		return false, fmt.Errorf("interface %s: %w", ifName, err)
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V6)
	if err != nil {
		return false, fmt.Errorf("addresses of %s: %w", ifName, err)
	}
	for _, addr := range addrs {
		if addr.IP.Equal(ip) && addr.Flags&unix.IFA_F_DADFAILED != 0 {
			return true, nil
		}
	}
	return false, nil
}
