// The chained entry: the MAC set, the address probed on the wire and announced, a conflict quarantined.

package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// The main plugin's result as the bridge plugin answers it: three interfaces, the IP on the third.
const bridgeResult = `{"cniVersion":"1.0.0","interfaces":[{"name":"br0","mac":"aa:bb:cc:00:00:01"},
{"name":"veth1234","mac":"aa:bb:cc:00:00:02"},{"name":"eth0","mac":"0a:58:00:00:00:01","sandbox":"/var/run/netns/p1"}],
"ips":[{"interface":2,"address":"192.0.2.10/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"192.0.2.1"}],"dns":{}}`

func (r *rig) chained(prevResult string) string {
	return fmt.Sprintf(`{"cniVersion":"1.0.0","name":"underlay","type":"ipresmgr-ipam","stateDir":%q,"prevResult":%s}`,
		filepath.Join(r.dir, "state"), prevResult)
}

func TestChainedSetsTheMACProbesAndReports(t *testing.T) {
	r := newRig(t)
	if add := r.run("ADD", r.conf("1.0.0", `,"conflictProbeMillis":120`), "c1", web1); add.status != 0 {
		t.Fatal(add.raw)
	}
	chained := r.chained(bridgeResult)
	o := r.run("ADD", chained, "c1", web1)
	if o.status != 0 {
		t.Fatalf("chained ADD: %s", o.raw)
	}
	ifaces := o.out["interfaces"].([]interface{})
	if ifaces[2].(map[string]interface{})["mac"] != "02:aa:00:00:00:01" || ifaces[0].(map[string]interface{})["mac"] != "aa:bb:cc:00:00:01" {
		t.Errorf("only the container interface's mac changes: %s", o.raw)
	}
	if o.out["ips"].([]interface{})[0].(map[string]interface{})["interface"] != 2.0 || o.out["dns"] == nil {
		t.Errorf("the rest of the result is kept: %s", o.raw)
	}
	if r.links.macs["/var/run/netns/p1/eth0"] != "02:aa:00:00:00:01" {
		t.Errorf("the MAC was not set: %v", r.links.macs)
	}
	if strings.Join(r.links.guarded, ",") != "192.0.2.10/120ms" {
		t.Errorf("the address is probed for the ipam section's conflictProbeMillis: %v", r.links.guarded)
	}
	checked := strings.Replace(chained, bridgeResult, o.raw, 1)
	if c := r.run("CHECK", checked, "c1", web1); c.status != 0 {
		t.Errorf("chained CHECK: %s", c.raw)
	}
	r.links.macs["/var/run/netns/p1/eth0"] = "0a:58:00:00:00:01"
	if c := r.run("CHECK", checked, "c1", web1); c.code() != ErrCheckFailed {
		t.Errorf("chained CHECK with another MAC: %s", c.raw)
	}
	if d := r.run("DEL", chained, "c1", web1); d.status != 0 || len(r.svc.bound) != 1 {
		t.Errorf("chained DEL does nothing (the IPAM DEL releases): %s", d.raw)
	}
	if o := r.run("ADD", chained, "other-container", web1); o.code() != types.ErrInvalidNetworkConfig || !strings.Contains(o.raw, "no ipresmgr-ipam state") {
		t.Errorf("chained without an IPAM ADD before: %s", o.raw)
	}
	if o := r.run("ADD", `{"cniVersion":"1.0.0","name":"underlay","type":"ipresmgr-ipam"}`, "c1", web1); o.code() != types.ErrInvalidNetworkConfig {
		t.Errorf("chained without prevResult: %s", o.raw)
	}
}

func TestChainedProbeOff(t *testing.T) {
	r := newRig(t)
	if add := r.run("ADD", r.conf("0.4.0", `,"conflictProbeMillis":0`), "c1", web1); add.status != 0 {
		t.Fatal(add.raw)
	}
	if o := r.run("ADD", r.chained(bridgeResult), "c1", web1); o.status != 0 || len(r.links.guarded) != 0 {
		t.Errorf("conflictProbeMillis 0: no probe: %s %v", o.raw, r.links.guarded)
	}
}

func TestChainedConflictQuarantines(t *testing.T) {
	r := newRig(t)
	if add := r.run("ADD", r.conf("1.0.0", ""), "c1", web1); add.status != 0 {
		t.Fatal(add.raw)
	}
	r.links.answered["192.0.2.10"] = "52:54:00:12:34:56"
	o := r.run("ADD", r.chained(bridgeResult), "c1", web1)
	if o.code() != ErrAddressInUse || !strings.Contains(o.raw, "192.0.2.10 is in use on the wire by 52:54:00:12:34:56") ||
		!strings.Contains(o.raw, "quarantined") {
		t.Fatalf("ADD must fail naming the address and the MAC: %s", o.raw)
	}
	if r.svc.quarantined["192.0.2.10"] != "52:54:00:12:34:56" || len(r.svc.bound) != 0 {
		t.Errorf("released with Conflict and ConflictMacAddr: %v %v", r.svc.quarantined, r.svc.bound)
	}
	if _, err := os.Stat(filepath.Join(r.dir, "state", "underlay", "c1.eth0.json")); !os.IsNotExist(err) {
		t.Errorf("the binding is over, so is its state: %v", err)
	}
	// The runtime's DEL, then its retried ADD: another address, which the probe finds free.
	if del := r.run("DEL", r.conf("1.0.0", ""), "c1", web1); del.status != 0 {
		t.Fatalf("DEL after the failed ADD: %s", del.raw)
	}
	add := r.run("ADD", r.conf("1.0.0", ""), "c1", web1)
	if add.status != 0 || strings.Contains(add.raw, "192.0.2.10/") {
		t.Fatalf("the retried ADD gets another address: %s", add.raw)
	}
	if o := r.run("ADD", r.chained(bridgeResult), "c1", web1); o.status != 0 {
		t.Errorf("the retried chained ADD: %s", o.raw)
	}
	// IPResMgr down while reporting the conflict: the ADD fails all the same, saying why.
	r2 := newRig(t)
	if add := r2.run("ADD", r2.conf("1.0.0", `,"timeoutSeconds":0.3`), "c1", web1); add.status != 0 {
		t.Fatal(add.raw)
	}
	r2.links.answered["192.0.2.10"] = "52:54:00:12:34:56"
	r2.svc.down = true
	if o := r2.run("ADD", r2.chained(bridgeResult), "c1", web1); o.code() != types.ErrTryAgainLater || !strings.Contains(o.raw, "could not be quarantined") {
		t.Errorf("conflict while IPResMgr is down: %s", o.raw)
	}
}
