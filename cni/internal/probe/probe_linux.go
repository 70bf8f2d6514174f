//go:build linux

package probe

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// Conflict is an address another host answers for.
type Conflict struct {
	IP  net.IP
	MAC net.HardwareAddr // the other host's
}

func (c *Conflict) Error() string {
	if len(c.MAC) == 0 {
		return fmt.Sprintf("%s is in use on the wire (duplicate address detection failed)", c.IP)
	}
	return fmt.Sprintf("%s is in use on the wire by %s", c.IP, c.MAC)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

type socket struct {
	fd    int
	iface *net.Interface
}

// open binds a raw AF_PACKET socket for etherType to the interface (in the calling thread's
// network namespace).
func open(iface *net.Interface, etherType uint16) (*socket, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(etherType)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(etherType), Ifindex: iface.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("binding a packet socket to %s: %w", iface.Name, err)
	}
	return &socket{fd: fd, iface: iface}, nil
}

func (s *socket) close() { unix.Close(s.fd) }

func (s *socket) send(frame []byte) error {
	to := &unix.SockaddrLinklayer{Ifindex: s.iface.Index, Halen: 6}
	copy(to.Addr[:], frame[0:6])
	if err := unix.Sendto(s.fd, frame, 0, to); err != nil {
		return fmt.Errorf("sending on %s: %w", s.iface.Name, err)
	}
	return nil
}

// listen reads incoming frames until the deadline and returns the first MAC conflict finds.
// Frames the interface sent itself (PACKET_OUTGOING) are skipped.
func (s *socket) listen(deadline time.Time, conflict func([]byte) net.HardwareAddr) (net.HardwareAddr, error) {
	buf := make([]byte, 2048)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return nil, fmt.Errorf("packet socket timeout: %w", err)
		}
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("receiving on %s: %w", s.iface.Name, err)
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if mac := conflict(buf[:n]); mac != nil {
			return mac, nil
		}
	}
}

// probes is how many probes go out within the wait (RFC 5227 sends 3, a second or more apart;
// a pod's start cannot wait that long, so they are spread over the configured time).
const probes = 3

// Probe asks, on ifName, whether another host answers for ip, for as long as wait: three ARP
// probes (IPv4) or duplicate address detection solicitations (IPv6) spread over it, listening
// all the while. It returns a *Conflict naming the other host's MAC, or nil.
func Probe(ifName string, ip net.IP, wait time.Duration) error {
	iface, err := net.InterfaceByName(ifName)
	if err != nil {
		return fmt.Errorf("interface %s: %w", ifName, err)
	}
	own := iface.HardwareAddr
	v4 := ip.To4() != nil
	etherType, frame, conflict := uint16(etherTypeARP), ARPProbe(own, ip), func(f []byte) net.HardwareAddr { return ARPConflict(f, ip, own) }
	if !v4 {
		etherType, frame, conflict = etherTypeIPv6, DADSolicitation(own, ip), func(f []byte) net.HardwareAddr { return NDPConflict(f, ip, own) }
	}
	s, err := open(iface, etherType)
	if err != nil {
		return err
	}
	defer s.close()
	end := time.Now().Add(wait)
	for i := 0; i < probes; i++ {
		if err := s.send(frame); err != nil {
			return err
		}
		next := time.Now().Add(wait / probes)
		if i == probes-1 || next.After(end) {
			next = end
		}
		mac, err := s.listen(next, conflict)
		if err != nil {
			return err
		}
		if mac != nil {
			return &Conflict{IP: ip, MAC: mac}
		}
	}
	return nil
}

// Announce sends one gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) for ip
// from ifName's MAC, so switches and neighbours learn where ip lives now.
func Announce(ifName string, ip net.IP) error {
	iface, err := net.InterfaceByName(ifName)
	if err != nil {
		return fmt.Errorf("interface %s: %w", ifName, err)
	}
	etherType, frame := uint16(etherTypeARP), ARPAnnouncement(iface.HardwareAddr, ip)
	if ip.To4() == nil {
		etherType, frame = etherTypeIPv6, UnsolicitedAdvertisement(iface.HardwareAddr, ip)
	}
	s, err := open(iface, etherType)
	if err != nil {
		return err
	}
	defer s.close()
	return s.send(frame)
}
