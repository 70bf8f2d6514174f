//go:build linux

package netlink

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"testing"
)

// A real namespace: needs root and iproute2 (CI has both); skipped otherwise.
func TestSetAndGetMACInANamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	random := make([]byte, 3)
	_, _ = rand.Read(random)
	name := "iprcni-go-" + hex.EncodeToString(random)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	ip("netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
	ip("-n", name, "link", "set", "eth0", "up")
	path := "/var/run/netns/" + name

	want, _ := net.ParseMAC("02:1b:2c:3d:4e:5f")
	if err := SetMAC(path, "eth0", want); err != nil {
		t.Fatal(err)
	}
	got, err := GetMAC(path, "eth0")
	if err != nil || got.String() != want.String() {
		t.Fatalf("got %v %v", got, err)
	}
	if err := SetMAC(path, "eth0", want); err != nil {
		t.Errorf("setting the same MAC again: %v", err)
	}
	if err := SetMAC(path, "missing0", want); err == nil {
		t.Error("a missing interface must be an error")
	}
	if _, err := GetMAC("/nonexistent/netns", "eth0"); err == nil {
		t.Error("a missing namespace must be an error")
	}
	// This process's own namespace is untouched: no interface named eth0 got that MAC here.
	if iface, err := net.InterfaceByName("peer0"); err == nil {
		t.Errorf("the peer leaked into the test's namespace: %v", iface)
	}
	multicast, _ := net.ParseMAC("01:00:5e:00:00:01")
	if err := SetMAC(path, "eth0", multicast); err == nil {
		t.Error("the kernel refuses a multicast MAC; the error must come back")
	}
}
