// Package probe checks, from inside a pod's network namespace, that no other host answers for
// the pod's address before the pod uses it, and then announces the address: an ARP probe
// (RFC 5227) and a gratuitous ARP for IPv4; duplicate address detection by neighbour
// solicitation (RFC 4862) and an unsolicited neighbour advertisement for IPv6. It speaks raw
// Ethernet frames on an AF_PACKET socket, so it sees every answer whatever the kernel's own
// neighbour state. This file builds and reads the frames; probe_linux.go sends and listens.
package probe

import (
	"bytes"
	"encoding/binary"
	"net"
)

const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd

	arpRequest = 1
	arpReply   = 2

	icmpv6NeighborSolicitation  = 135
	icmpv6NeighborAdvertisement = 136
	protocolICMPv6              = 58
)

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func ethernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	frame := make([]byte, 14, 14+len(payload))
	copy(frame[0:6], dst)
	copy(frame[6:12], src)
	binary.BigEndian.PutUint16(frame[12:14], etherType)
	return append(frame, payload...)
}

// arpFrame is an Ethernet ARP packet for IPv4 over Ethernet, broadcast.
func arpFrame(op uint16, senderMAC net.HardwareAddr, senderIP, targetIP net.IP) []byte {
	body := make([]byte, 28)
	binary.BigEndian.PutUint16(body[0:2], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(body[2:4], 0x0800) // protocol: IPv4
	body[4], body[5] = 6, 4
	binary.BigEndian.PutUint16(body[6:8], op)
	copy(body[8:14], senderMAC)
	copy(body[14:18], senderIP.To4())
	// target hardware address stays zero (RFC 5227 2.1.1)
	copy(body[24:28], targetIP.To4())
	return ethernet(broadcast, senderMAC, etherTypeARP, body)
}

// ARPProbe is RFC 5227's probe: who has ip, asked from 0.0.0.0 so no one's cache learns anything.
func ARPProbe(mac net.HardwareAddr, ip net.IP) []byte {
	return arpFrame(arpRequest, mac, net.IPv4zero, ip)
}

// ARPAnnouncement is the gratuitous ARP: ip is at mac, sender and target both ip.
func ARPAnnouncement(mac net.HardwareAddr, ip net.IP) []byte {
	return arpFrame(arpRequest, mac, ip, ip)
}

// ARPConflict reads an ARP frame and returns the MAC that claims ip in it: a reply or request
// from ip itself, or another host probing for ip at the same time (RFC 5227 2.1.1). Frames from
// own are never a conflict; nil means the frame says nothing against ip.
func ARPConflict(frame []byte, ip net.IP, own net.HardwareAddr) net.HardwareAddr {
	if len(frame) < 14+28 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeARP {
		return nil
	}
	body := frame[14:]
	if binary.BigEndian.Uint16(body[2:4]) != 0x0800 || body[4] != 6 || body[5] != 4 {
		return nil
	}
	op := binary.BigEndian.Uint16(body[6:8])
	senderMAC := net.HardwareAddr(append([]byte(nil), body[8:14]...))
	senderIP, targetIP := net.IP(body[14:18]), net.IP(body[24:28])
	if bytes.Equal(senderMAC, own) {
		return nil
	}
	switch {
	case senderIP.Equal(ip.To4()) && (op == arpReply || op == arpRequest):
		return senderMAC
	case op == arpRequest && senderIP.Equal(net.IPv4zero) && targetIP.Equal(ip.To4()):
		return senderMAC
	}
	return nil
}

// solicitedNode is ip's solicited-node multicast group, ff02::1:ffXX:XXXX.
func solicitedNode(ip net.IP) net.IP {
	group := net.ParseIP("ff02::1:ff00:0")
	copy(group[13:], ip.To16()[13:])
	return group
}

func multicastMAC(group net.IP) net.HardwareAddr {
	return net.HardwareAddr{0x33, 0x33, group[12], group[13], group[14], group[15]}
}

// ipv6ICMP wraps an ICMPv6 message (its checksum field zero) in an IPv6 header, hop limit 255
// as neighbour discovery requires, and fills in the checksum.
func ipv6ICMP(src, dst net.IP, icmp []byte) []byte {
	header := make([]byte, 40)
	header[0] = 0x60
	binary.BigEndian.PutUint16(header[4:6], uint16(len(icmp)))
	header[6] = protocolICMPv6
	header[7] = 255
	copy(header[8:24], src.To16())
	copy(header[24:40], dst.To16())
	pseudo := make([]byte, 0, 40+len(icmp))
	pseudo = append(pseudo, header[8:40]...)
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(icmp)))
	pseudo = append(pseudo, 0, 0, 0, protocolICMPv6)
	pseudo = append(pseudo, icmp...)
	binary.BigEndian.PutUint16(icmp[2:4], checksum(pseudo))
	return append(header, icmp...)
}

func checksum(data []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(data); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(data[i:]))
	}
	if len(data)%2 == 1 {
		sum += uint32(data[len(data)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// DADSolicitation is the duplicate address detection probe: a neighbour solicitation for ip
// from the unspecified address to ip's solicited-node group, without a source link-layer option.
func DADSolicitation(mac net.HardwareAddr, ip net.IP) []byte {
	icmp := make([]byte, 24)
	icmp[0] = icmpv6NeighborSolicitation
	copy(icmp[8:24], ip.To16())
	group := solicitedNode(ip)
	return ethernet(multicastMAC(group), mac, etherTypeIPv6, ipv6ICMP(net.IPv6unspecified, group, icmp))
}

// UnsolicitedAdvertisement tells all nodes that ip is at mac (override set, RFC 4861 7.2.6).
func UnsolicitedAdvertisement(mac net.HardwareAddr, ip net.IP) []byte {
	icmp := make([]byte, 32)
	icmp[0] = icmpv6NeighborAdvertisement
	icmp[4] = 0x20 // override
	copy(icmp[8:24], ip.To16())
	icmp[24], icmp[25] = 2, 1 // target link-layer address option, 8 bytes
	copy(icmp[26:32], mac)
	allNodes := net.ParseIP("ff02::1")
	return ethernet(multicastMAC(allNodes), mac, etherTypeIPv6, ipv6ICMP(ip, allNodes, icmp))
}

// NDPConflict reads an Ethernet IPv6 frame and returns the MAC that claims ip in it: a neighbour
// advertisement for ip, or another host's duplicate address detection for ip (a solicitation
// from the unspecified address). Frames from own are never a conflict.
func NDPConflict(frame []byte, ip net.IP, own net.HardwareAddr) net.HardwareAddr {
	if len(frame) < 14+40+24 || binary.BigEndian.Uint16(frame[12:14]) != etherTypeIPv6 {
		return nil
	}
	packet := frame[14:]
	if packet[0]>>4 != 6 || packet[6] != protocolICMPv6 || packet[7] != 255 {
		return nil
	}
	source := net.IP(packet[8:24])
	icmp := packet[40:]
	target := net.IP(icmp[8:24])
	sourceMAC := net.HardwareAddr(append([]byte(nil), frame[6:12]...))
	if bytes.Equal(sourceMAC, own) || !target.Equal(ip) {
		return nil
	}
	switch icmp[0] {
	case icmpv6NeighborAdvertisement:
		if len(icmp) >= 32 && icmp[24] == 2 && icmp[25] == 1 {
			return net.HardwareAddr(append([]byte(nil), icmp[26:32]...))
		}
		return sourceMAC
	case icmpv6NeighborSolicitation:
		if source.Equal(net.IPv6unspecified) {
			return sourceMAC
		}
	}
	return nil
}
