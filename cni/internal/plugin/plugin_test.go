// ADD, DEL, CHECK and VERSION through the rig, against the fake IPResMgr and Kubernetes API.

package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"ipresmgr.local/cni/internal/kube"
)

func TestAddRetriedAddDelDel(t *testing.T) {
	r := newRig(t)
	add := r.run("ADD", r.conf("1.0.0", ""), "c1", web1)
	if add.status != 0 {
		t.Fatalf("ADD: %s", add.raw)
	}
	want := `{"cniVersion":"1.0.0","dns":{},"ips":[{"address":"192.0.2.10/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"192.0.2.1"}]}`
	if add.compact != want {
		t.Errorf("ADD result\n got %s\nwant %s", add.compact, want)
	}
	if r.links.sets != 0 || len(r.links.guarded) != 0 {
		t.Errorf("the IPAM half neither sets the MAC nor probes (the chained entry does): %+v", r.links)
	}
	a := r.svc.bound["pod-1"]
	if a.K8SApiResourceName != "web" || a.K8SApiResourceID != "deploy-1" || a.K8SApiResourceKind != kube.KindDeployment {
		t.Errorf("required for %+v", a)
	}
	kubeCalls := r.kube.requests
	again := r.run("ADD", r.conf("1.0.0", ""), "c1", web1)
	if again.compact != want || r.kube.requests != kubeCalls {
		t.Errorf("retried ADD: %s (kube requests %d -> %d)", again.raw, kubeCalls, r.kube.requests)
	}
	if check := r.run("CHECK", withPrev(r.conf("1.0.0", ""), add.raw), "c1", web1); check.status != 0 {
		t.Errorf("CHECK: %s", check.raw)
	}
	if del := r.run("DEL", r.conf("1.0.0", ""), "c1", web1); del.status != 0 || del.raw != "" {
		t.Fatalf("DEL: %s", del.raw)
	}
	if _, ok := r.svc.bound["pod-1"]; ok {
		t.Error("DEL did not release")
	}
	if _, err := os.Stat(filepath.Join(r.dir, "state", "underlay", "c1.eth0.json")); !os.IsNotExist(err) {
		t.Errorf("state file left: %v", err)
	}
	if del := r.run("DEL", r.conf("1.0.0", ""), "c1", web1); del.status != 0 {
		t.Fatalf("DEL again: %s", del.raw)
	}
	if r.kube.requests != kubeCalls {
		t.Error("DEL asked the Kubernetes API")
	}
}

func withPrev(conf, result string) string {
	return strings.TrimSuffix(strings.TrimSpace(conf), "}") + `,"prevResult":` + strings.TrimSpace(result) + "}"
}

func TestDelWhileServiceDownKeepsTheState(t *testing.T) {
	r := newRig(t)
	if add := r.run("ADD", r.conf("0.4.0", ""), "c1", web1); add.status != 0 {
		t.Fatal(add.raw)
	}
	r.svc.down = true
	del := r.run("DEL", r.conf("0.4.0", `,"timeoutSeconds":0.3`), "c1", web1)
	if del.code() != types.ErrTryAgainLater || !strings.Contains(del.raw, "stays bound") || !strings.Contains(del.raw, "IPResMgr Code 50") {
		t.Fatalf("DEL while down: %s", del.raw)
	}
	if del.out["cniVersion"] != "0.4.0" {
		t.Errorf("error in the config's version: %s", del.raw)
	}
	r.svc.down = false
	if del := r.run("DEL", r.conf("0.4.0", ""), "c1", web1); del.status != 0 || len(r.svc.bound) != 0 {
		t.Fatalf("DEL after: %s %v", del.raw, r.svc.bound)
	}
}

func TestDelWithoutState(t *testing.T) {
	r := newRig(t)
	if add := r.run("ADD", r.conf("1.0.0", ""), "c1", web1); add.status != 0 {
		t.Fatal(add.raw)
	}
	if err := os.RemoveAll(filepath.Join(r.dir, "state")); err != nil {
		t.Fatal(err)
	}
	kubeCalls := r.kube.requests
	// No K8S_POD_UID either: nothing can be known; DEL succeeds and releases nothing.
	if del := r.run("DEL", r.conf("1.0.0", ""), "c1", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1"); del.status != 0 || len(r.svc.bound) != 1 {
		t.Fatalf("%s %v", del.raw, r.svc.bound)
	}
	// With K8S_POD_UID: IPResMgr says what the pod holds; it is released.
	if del := r.run("DEL", r.conf("1.0.0", ""), "c1", web1); del.status != 0 || len(r.svc.bound) != 0 {
		t.Fatalf("%s %v", del.raw, r.svc.bound)
	}
	if r.kube.requests != kubeCalls {
		t.Error("DEL asked the Kubernetes API")
	}
}

func TestDelOfAnOldSandboxKeepsTheAddress(t *testing.T) {
	r := newRig(t)
	first := r.run("ADD", r.conf("1.0.0", ""), "old-sandbox", web1)
	second := r.run("ADD", r.conf("1.0.0", ""), "new-sandbox", web1)
	if first.raw != second.raw {
		t.Fatalf("the same pod gets the same address: %s / %s", first.raw, second.raw)
	}
	if del := r.run("DEL", r.conf("1.0.0", ""), "old-sandbox", web1); del.status != 0 || len(r.svc.bound) != 1 {
		t.Fatalf("DEL of the old sandbox released the new one's address: %s %v", del.raw, r.svc.bound)
	}
	if del := r.run("DEL", r.conf("1.0.0", ""), "new-sandbox", web1); del.status != 0 || len(r.svc.bound) != 0 {
		t.Fatalf("DEL of the last sandbox: %s %v", del.raw, r.svc.bound)
	}
}

func TestDelOfAnAddressNowBoundElsewhere(t *testing.T) {
	r := newRig(t)
	if add := r.run("ADD", r.conf("1.0.0", ""), "c1", web1); add.status != 0 {
		t.Fatal(add.raw)
	}
	// An operator force-released it and another pod got it: a stale DEL must not free it.
	a := r.svc.bound["pod-1"]
	delete(r.svc.bound, "pod-1")
	other := "pod-9"
	a.K8SPodID = &other
	r.svc.bound[other] = a
	if del := r.run("DEL", r.conf("1.0.0", ""), "c1", web1); del.status != 0 || len(r.svc.bound) != 1 {
		t.Fatalf("%s %v", del.raw, r.svc.bound)
	}
}

func TestCheck(t *testing.T) {
	r := newRig(t)
	conf := r.conf("1.0.0", "")
	add := r.run("ADD", conf, "c1", web1)
	if check := r.run("CHECK", withPrev(conf, add.raw), "c1", web1); check.status != 0 {
		t.Fatalf("CHECK: %s", check.raw)
	}
	delete(r.svc.bound, "pod-1")
	if check := r.run("CHECK", withPrev(conf, add.raw), "c1", web1); check.code() != ErrCheckFailed || !strings.Contains(check.raw, "no longer holds") {
		t.Errorf("CHECK after a release: %s", check.raw)
	}
	if check := r.run("CHECK", conf, "c1", web1); check.code() != types.ErrInvalidNetworkConfig {
		t.Errorf("CHECK without prevResult: %s", check.raw)
	}
	if check := r.run("CHECK", withPrev(r.conf("0.3.1", ""), add.raw), "c1", web1); check.code() != types.ErrIncompatibleCNIVersion {
		t.Errorf("CHECK on 0.3.1: %s", check.raw)
	}
}

func TestAddRefusals(t *testing.T) {
	r := newRig(t)
	cases := []struct {
		name, stdin, args string
		code              uint
		text              string
	}{
		{"bare pod", r.conf("1.0.0", ""), "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=debug", 101, "bare pod"},
		{"no pool", r.conf("1.0.0", ""), "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=nopool-1", 220, "IPResMgr Code 20"},
		{"pod re-created", r.conf("1.0.0", ""), "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=older", 3, "uid pod-1"},
		{"pod gone", r.conf("1.0.0", ""), "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-2", 3, "not found"},
		{"no pod in CNI_ARGS", r.conf("1.0.0", ""), "", 4, "K8S_POD_NAMESPACE"},
		{"unknown CNI_ARGS key", r.conf("1.0.0", ""), "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;X=1", 4, `unknown args`},
		{"not JSON", "{", web1, 6, "unmarshal"},
		{"old version", strings.Replace(r.conf("1.0.0", ""), `"1.0.0"`, `"0.2.0"`, 1), web1, 1, "incompatible CNI versions"},
		{"setMAC", r.conf("1.0.0", `,"setMAC":true`), web1, 7, "after the main plugin"},
		{"no ipam", `{"cniVersion":"1.0.0","name":"n","type":"bridge"}`, web1, 7, "no ipam section"},
		{"unknown ipam key", r.conf("1.0.0", `,"macAddr":true`), web1, 2, `unknown key \"macAddr\"`},
		{"token file missing", strings.Replace(r.conf("1.0.0", ""), filepath.Join(r.dir, "token"), "/nonexistent/token", 1), web1, 7, "tokenFile"},
	}
	for _, c := range cases {
		o := r.run("ADD", c.stdin, "c1", c.args)
		if o.status != 1 || o.code() != c.code || !strings.Contains(o.raw, c.text) {
			t.Errorf("%s: got %s, want code %d with %q", c.name, o.raw, c.code, c.text)
		}
	}
	r.svc.down = true
	if o := r.run("ADD", r.conf("1.0.0", `,"timeoutSeconds":0.3`), "c1", web1); o.code() != types.ErrTryAgainLater || !strings.Contains(o.raw, "IPResMgr Code 50") {
		t.Errorf("ADD while IPResMgr answers 50: %s", o.raw)
	}
	if o := r.run("ADD", r.conf("1.0.0", ""), "../c1", web1); o.code() != types.ErrInvalidEnvironmentVariables {
		t.Errorf("bad container id: %s", o.raw)
	}
	if o := r.run("NOPE", r.conf("1.0.0", ""), "c1", web1); o.code() != types.ErrInvalidEnvironmentVariables {
		t.Errorf("unknown command: %s", o.raw)
	}
}

func TestVersionCommand(t *testing.T) {
	r := newRig(t)
	o := r.run("VERSION", `{"cniVersion":"0.4.0"}`, "", "")
	if o.status != 0 || o.compact != `{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}` {
		t.Errorf("%s", o.raw)
	}
}
