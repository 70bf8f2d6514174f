package probe

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
)

var (
	own   = net.HardwareAddr{0x02, 0xaa, 0, 0, 0, 1}
	other = net.HardwareAddr{0x52, 0x54, 0, 0x12, 0x34, 0x56}
	v4    = net.ParseIP("192.0.2.10")
	v6    = net.ParseIP("2001:db8::10")
)

func TestARPProbeAndAnnouncement(t *testing.T) {
	probe := ARPProbe(own, v4)
	if !bytes.Equal(probe[0:6], broadcast) || !bytes.Equal(probe[6:12], own) || binary.BigEndian.Uint16(probe[12:14]) != etherTypeARP {
		t.Fatalf("Ethernet header: % x", probe[:14])
	}
	body := probe[14:]
	if binary.BigEndian.Uint16(body[6:8]) != arpRequest || !net.IP(body[14:18]).Equal(net.IPv4zero) ||
		!net.IP(body[24:28]).Equal(v4) || !bytes.Equal(body[18:24], make([]byte, 6)) {
		t.Errorf("RFC 5227 probe: sender 0.0.0.0, target the address, target MAC zero: % x", body)
	}
	announce := ARPAnnouncement(own, v4)[14:]
	if !net.IP(announce[14:18]).Equal(v4) || !net.IP(announce[24:28]).Equal(v4) || !bytes.Equal(announce[8:14], own) {
		t.Errorf("gratuitous ARP: sender and target the address: % x", announce)
	}
}

func TestARPConflict(t *testing.T) {
	reply := arpFrame(arpReply, other, v4, net.IPv4zero)
	if mac := ARPConflict(reply, v4, own); mac.String() != other.String() {
		t.Errorf("a reply from the address: %v", mac)
	}
	if mac := ARPConflict(ARPProbe(other, v4), v4, own); mac.String() != other.String() {
		t.Errorf("another host probing for the same address: %v", mac)
	}
	for name, frame := range map[string][]byte{
		"our own probe":           ARPProbe(own, v4),
		"our own announcement":    ARPAnnouncement(own, v4),
		"another address's reply": arpFrame(arpReply, other, net.ParseIP("192.0.2.11"), v4),
		"someone asking for it":   arpFrame(arpRequest, other, net.ParseIP("192.0.2.11"), v4),
		"a probe for another":     ARPProbe(other, net.ParseIP("192.0.2.11")),
		"truncated":               reply[:30],
		"an IPv6 frame":           DADSolicitation(other, v6),
	} {
		if mac := ARPConflict(frame, v4, own); mac != nil {
			t.Errorf("%s is no conflict, got %v", name, mac)
		}
	}
}

// verifyICMPv6 checks the checksum as a receiver does: summing over the pseudo-header and the
// message, checksum included, gives 0xffff (so its complement is 0).
func verifyICMPv6(t *testing.T, frame []byte) {
	t.Helper()
	packet := frame[14:]
	icmp := packet[40:]
	pseudo := append([]byte(nil), packet[8:40]...)
	pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(icmp)))
	pseudo = append(pseudo, 0, 0, 0, protocolICMPv6)
	pseudo = append(pseudo, icmp...)
	if checksum(pseudo) != 0 {
		t.Errorf("bad ICMPv6 checksum % x", icmp[2:4])
	}
}

func TestNeighbourDiscoveryFrames(t *testing.T) {
	ns := DADSolicitation(own, v6)
	verifyICMPv6(t, ns)
	packet := ns[14:]
	if !bytes.Equal(ns[0:6], []byte{0x33, 0x33, 0xff, 0, 0, 0x10}) || !net.IP(packet[8:24]).Equal(net.IPv6unspecified) ||
		!net.IP(packet[24:40]).Equal(net.ParseIP("ff02::1:ff00:10")) || packet[7] != 255 || packet[40] != icmpv6NeighborSolicitation {
		t.Errorf("DAD solicitation: from ::, to the solicited-node group, hop limit 255: % x", ns)
	}
	na := UnsolicitedAdvertisement(own, v6)
	verifyICMPv6(t, na)
	icmp := na[14+40:]
	if !bytes.Equal(na[0:6], []byte{0x33, 0x33, 0, 0, 0, 1}) || icmp[0] != icmpv6NeighborAdvertisement || icmp[4] != 0x20 ||
		!net.IP(icmp[8:24]).Equal(v6) || !bytes.Equal(icmp[26:32], own) {
		t.Errorf("unsolicited advertisement: to all nodes, override, target and its link-layer address: % x", na)
	}
}

func TestNDPConflict(t *testing.T) {
	if mac := NDPConflict(UnsolicitedAdvertisement(other, v6), v6, own); mac.String() != other.String() {
		t.Errorf("an advertisement for the address: %v", mac)
	}
	if mac := NDPConflict(DADSolicitation(other, v6), v6, own); mac.String() != other.String() {
		t.Errorf("another host's DAD for the address: %v", mac)
	}
	for name, frame := range map[string][]byte{
		"our own solicitation":  DADSolicitation(own, v6),
		"our own advertisement": UnsolicitedAdvertisement(own, v6),
		"another address":       UnsolicitedAdvertisement(other, net.ParseIP("2001:db8::11")),
		"an ARP frame":          ARPProbe(other, v4),
	} {
		if mac := NDPConflict(frame, v6, own); mac != nil {
			t.Errorf("%s is no conflict, got %v", name, mac)
		}
	}
}
