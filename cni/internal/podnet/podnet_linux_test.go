//go:build linux

package podnet

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"ipresmgr.local/cni/internal/probe"
)

// Real namespaces: need root and iproute2 (CI has both); skipped otherwise. A "pod" namespace
// and a "neighbour" namespace joined by a veth pair, on addresses of 192.0.2.0/24 and 2001:db8::/64.
func namespaces(t *testing.T) (pod, neighbour string, ip func(args ...string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	random := make([]byte, 3)
	_, _ = rand.Read(random)
	suffix := hex.EncodeToString(random)
	ip = func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	pod, neighbour = "iprcni-go-p"+suffix, "iprcni-go-n"+suffix
	for _, name := range []string{pod, neighbour} {
		name := name
		ip("netns", "add", name)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	}
	ip("-n", pod, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
	ip("-n", pod, "link", "set", "peer0", "netns", neighbour)
	ip("-n", pod, "link", "set", "eth0", "up")
	ip("-n", neighbour, "link", "set", "peer0", "up")
	return "/var/run/netns/" + pod, neighbour, ip
}

func TestSetAndGetMACInANamespace(t *testing.T) {
	path, _, _ := namespaces(t)
	links := Links{}
	want, _ := net.ParseMAC("02:1b:2c:3d:4e:5f")
	if err := links.SetMAC(path, "eth0", want); err != nil {
		t.Fatal(err)
	}
	got, err := links.GetMAC(path, "eth0")
	if err != nil || got.String() != want.String() {
		t.Fatalf("got %v %v", got, err)
	}
	if err := links.SetMAC(path, "eth0", want); err != nil {
		t.Errorf("setting the same MAC again: %v", err)
	}
	if err := links.SetMAC(path, "missing0", want); err == nil {
		t.Error("a missing interface must be an error")
	}
	if _, err := links.GetMAC("/nonexistent/netns", "eth0"); err == nil {
		t.Error("a missing namespace must be an error")
	}
	if iface, err := net.InterfaceByName("peer0"); err == nil {
		t.Errorf("the peer leaked into the test's namespace: %v", iface)
	}
	multicast, _ := net.ParseMAC("01:00:5e:00:00:01")
	if err := links.SetMAC(path, "eth0", multicast); err == nil {
		t.Error("the kernel refuses a multicast MAC; the error must come back")
	}
}

func TestGuardFindsTheNeighbourHoldingTheAddress(t *testing.T) {
	path, neighbour, ip := namespaces(t)
	links := Links{}
	wait := 300 * time.Millisecond
	// Nobody holds these: the probe passes and announces.
	if err := links.Guard(path, "eth0", []net.IP{net.ParseIP("192.0.2.20"), net.ParseIP("2001:db8::20")}, wait); err != nil {
		t.Fatalf("free addresses: %v", err)
	}
	// The neighbour holds one of each (its kernel answers ARP probes and DAD solicitations).
	ip("-n", neighbour, "addr", "add", "192.0.2.21/24", "dev", "peer0")
	ip("-n", neighbour, "addr", "add", "2001:db8::21/64", "dev", "peer0", "nodad")
	peer, err := exec.Command("ip", "-n", neighbour, "-br", "link", "show", "peer0").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, address := range []string{"192.0.2.21", "2001:db8::21"} {
		err := links.Guard(path, "eth0", []net.IP{net.ParseIP(address)}, 2*time.Second) // generous: a loaded machine
		var conflict *probe.Conflict
		if !errors.As(err, &conflict) || !conflict.IP.Equal(net.ParseIP(address)) || len(conflict.MAC) != 6 {
			t.Fatalf("%s: want a conflict naming the neighbour's MAC, got %v", address, err)
		}
		if !strings.Contains(string(peer), conflict.MAC.String()) {
			t.Errorf("%s: the MAC %s is not the neighbour's (%s)", address, conflict.MAC, peer)
		}
	}
	if err := links.Guard(path, "missing0", []net.IP{net.ParseIP("192.0.2.22")}, wait); err == nil {
		t.Error("a missing interface must be an error")
	}
}
