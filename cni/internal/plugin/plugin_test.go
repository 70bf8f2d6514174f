package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/kube"
	"ipresmgr.local/cni/internal/probe"
	"ipresmgr.local/cni/internal/retry"
	"ipresmgr.local/cni/internal/service"
)

func init() {
	config.DefaultConfigFile = "/nonexistent/ipresmgr.conf"
}

// fakeIPResMgr keeps, per pod UID, the address bound to it, with the service's rules: the same
// pod gets the same address; release of an address bound to another pod is Code 31.
type fakeIPResMgr struct {
	mu    sync.Mutex
	down  bool
	pools map[string]bool // "namespace/kind/name"
	bound map[string]service.Address
	next  int
	paths []string
	// quarantined: IP -> the MAC a release with Conflict named; never handed out again
	quarantined map[string]string
}

func (f *fakeIPResMgr) answer(w http.ResponseWriter, status int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (f *fakeIPResMgr) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.URL.Path)
	if f.down {
		f.answer(w, 503, map[string]interface{}{"ReqID": "x", "Code": 50, "Msg": "database unavailable; retry"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer cluster-token" {
		f.answer(w, 401, map[string]interface{}{"ReqID": "x", "Code": 2, "Msg": "no or unknown token"})
		return
	}
	if r.Method == http.MethodGet {
		pod := r.URL.Query().Get("K8SPodID")
		results := []service.Address{}
		if a, ok := f.bound[pod]; ok {
			results = append(results, a)
		}
		f.answer(w, 200, map[string]interface{}{"ReqID": r.URL.Query().Get("ReqID"), "Code": 0, "Msg": "page",
			"Count": len(results), "Results": results})
		return
	}
	var body struct {
		service.WorkloadRef
		ReqID           string
		IP              string
		Conflict        bool
		ConflictMacAddr string
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	key := fmt.Sprintf("%s/%d/%s", body.K8SNamespace, body.K8SApiResourceKind, body.K8SApiResourceName)
	switch r.URL.Path {
	case "/v1/ip/require":
		if !f.pools[key] {
			f.answer(w, 404, map[string]interface{}{"ReqID": body.ReqID, "Code": 20, "Msg": "workload " + key + " has no active pool"})
			return
		}
		a, ok := f.bound[body.K8SPodID]
		msg := "pod already holds this address"
		if !ok {
			f.next++
			for f.quarantined[fmt.Sprintf("192.0.2.%d", 9+f.next)] != "" {
				f.next++
			}
			pod := body.K8SPodID
			a = service.Address{IP: fmt.Sprintf("192.0.2.%d", 9+f.next), MacAddr: fmt.Sprintf("02:aa:00:00:00:%02x", f.next),
				SubnetGatewayAddr: "192.0.2.1", K8SClusterID: body.K8SClusterID, K8SNamespace: body.K8SNamespace,
				K8SApiResourceKind: body.K8SApiResourceKind, K8SApiResourceName: body.K8SApiResourceName,
				K8SApiResourceID: body.K8SApiResourceID, K8SPodID: &pod, State: "bound"}
			f.bound[body.K8SPodID] = a
			msg = "idle address bound"
		}
		f.answer(w, 200, map[string]interface{}{"ReqID": body.ReqID, "Code": 0, "Msg": msg, "IP": a.IP, "MacAddr": a.MacAddr,
			"PortID": "640ee079-48e0-4701-91ec-774bed183a7c", "SubnetGatewayAddr": "192.0.2.1", "SubnetCIDR": "192.0.2.0/24"})
	case "/v1/ip/release":
		for pod, a := range f.bound {
			if a.IP == body.IP && pod != body.K8SPodID {
				f.answer(w, 409, map[string]interface{}{"ReqID": body.ReqID, "Code": 31, "Msg": body.IP + " is bound to another pod"})
				return
			}
		}
		a, ok := f.bound[body.K8SPodID]
		if ok && (body.IP == "" || body.IP == a.IP) && key == fmt.Sprintf("%s/%d/%s", a.K8SNamespace, a.K8SApiResourceKind, a.K8SApiResourceName) {
			delete(f.bound, body.K8SPodID)
			if body.Conflict {
				f.quarantined[a.IP] = body.ConflictMacAddr
			}
			f.answer(w, 200, map[string]interface{}{"ReqID": body.ReqID, "Code": 0, "Msg": "released " + a.IP})
			return
		}
		f.answer(w, 200, map[string]interface{}{"ReqID": body.ReqID, "Code": 0, "Msg": "nothing bound to this pod; nothing to do"})
	}
}

var kubeObjects = map[string]string{
	"/api/v1/namespaces/shop/pods/web-1": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-1","namespace":"shop","uid":"pod-1",
		"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b","uid":"rs-1","controller":true}]}}`,
	"/apis/apps/v1/namespaces/shop/replicasets/web-7d4b": `{"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{"name":"web-7d4b",
		"namespace":"shop","uid":"rs-1","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"deploy-1","controller":true}]}}`,
	"/api/v1/namespaces/shop/pods/debug": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"debug","namespace":"shop","uid":"pod-2"}}`,
	"/api/v1/namespaces/shop/pods/nopool-1": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"nopool-1","namespace":"shop","uid":"pod-3",
		"ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"nopool","uid":"sts-1","controller":true}]}}`,
}

type fakeKube struct {
	mu       sync.Mutex
	requests int
}

func (f *fakeKube) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	body, ok := kubeObjects[r.URL.Path]
	if !ok || r.Header.Get("Authorization") != "Bearer kube-token" {
		w.WriteHeader(404)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not found","reason":"NotFound","code":404}`))
		return
	}
	w.Write([]byte(body))
}

type fakeLinks struct {
	macs     map[string]string
	sets     int
	guarded  []string          // "ip/wait" of each Guard call
	answered map[string]string // ip -> the MAC of another host answering for it
}

func (l *fakeLinks) SetMAC(netns, ifName string, mac net.HardwareAddr) error {
	l.sets++
	l.macs[netns+"/"+ifName] = mac.String()
	return nil
}

func (l *fakeLinks) GetMAC(netns, ifName string) (net.HardwareAddr, error) {
	mac, ok := l.macs[netns+"/"+ifName]
	if !ok {
		return nil, errors.New("no such interface")
	}
	return net.ParseMAC(mac)
}

func (l *fakeLinks) Guard(netns, ifName string, ips []net.IP, wait time.Duration) error {
	for _, ip := range ips {
		l.guarded = append(l.guarded, fmt.Sprintf("%s/%s", ip, wait))
		if other, ok := l.answered[ip.String()]; ok {
			mac, _ := net.ParseMAC(other)
			return &probe.Conflict{IP: ip, MAC: mac}
		}
	}
	return nil
}

type rig struct {
	t       *testing.T
	dir     string
	svc     *fakeIPResMgr
	kube    *fakeKube
	links   *fakeLinks
	svcURL  string
	kubeURL string
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, dir: t.TempDir(), svc: &fakeIPResMgr{pools: map[string]bool{"shop/0/web": true}, bound: map[string]service.Address{},
		quarantined: map[string]string{}}, kube: &fakeKube{},
		links: &fakeLinks{macs: map[string]string{"/var/run/netns/p1/eth0": "0a:58:00:00:00:01"}, answered: map[string]string{}}}
	svc := httptest.NewServer(r.svc)
	kubeServer := httptest.NewServer(r.kube)
	t.Cleanup(svc.Close)
	t.Cleanup(kubeServer.Close)
	r.svcURL, r.kubeURL = svc.URL, kubeServer.URL
	for name, text := range map[string]string{"token": "cluster-token\n", "kube-token": "kube-token\n"} {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) ipam(extra string) string {
	return fmt.Sprintf(`{"type":"ipresmgr-ipam","serviceURL":%q,"tokenFile":%q,"clusterID":"c1",
		"kubernetes":{"apiURL":%q,"tokenFile":%q},"stateDir":%q,"timeoutSeconds":2%s}`,
		r.svcURL, filepath.Join(r.dir, "token"), r.kubeURL, filepath.Join(r.dir, "kube-token"), filepath.Join(r.dir, "state"), extra)
}

func (r *rig) conf(version, extra string) string {
	return fmt.Sprintf(`{"cniVersion":%q,"name":"underlay","type":"bridge","bridge":"br0","ipam":%s}`, version, r.ipam(extra))
}

type outcome struct {
	status  int
	out     map[string]interface{}
	raw     string
	compact string // the JSON re-encoded compactly, keys sorted
}

func (o outcome) code() uint {
	if o.status == 0 {
		return 0
	}
	return uint(o.out["code"].(float64))
}

// run executes the command as a runtime does: CNI_* in the environment, the configuration on
// stdin, the answer on stdout (pkg/skel reads and writes the process's own).
func (r *rig) run(command, stdin, container, args string) outcome {
	r.t.Helper()
	env := map[string]string{
		"CNI_COMMAND": command, "CNI_CONTAINERID": container, "CNI_NETNS": "/var/run/netns/p1", "CNI_IFNAME": "eth0",
		"CNI_PATH": "/opt/cni/bin", "CNI_ARGS": args,
	}
	for key, value := range env {
		r.t.Setenv(key, value)
	}
	in, err := os.CreateTemp(r.dir, "stdin")
	if err != nil {
		r.t.Fatal(err)
	}
	defer in.Close()
	_, _ = in.WriteString(stdin)
	_, _ = in.Seek(0, 0)
	out, err := os.CreateTemp(r.dir, "stdout")
	if err != nil {
		r.t.Fatal(err)
	}
	defer out.Close()
	savedIn, savedOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = in, out
	fast := retry.Policy{First: time.Millisecond, Max: 10 * time.Millisecond}
	p := &Plugin{Links: r.links, Retry: &fast, Name: "ipresmgr-ipam"}
	status := p.Main("")
	os.Stdin, os.Stdout = savedIn, savedOut
	raw, _ := os.ReadFile(out.Name())
	o := outcome{status: status, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &o.out); err != nil {
			r.t.Fatalf("stdout is not JSON: %s", raw)
		}
		compacted, _ := json.Marshal(o.out)
		o.compact = string(compacted)
	}
	return o
}

const web1 = "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=pod-1"

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

func reply(ip, cidr, gw, mac string) *service.Reply {
	return &service.Reply{ReqID: "r", IP: ip, SubnetCIDR: cidr, SubnetGatewayAddr: gw, MacAddr: mac}
}

func TestBuildResult(t *testing.T) {
	encode := func(res *types100.Result) string {
		out, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	res, mac, err := BuildResult(reply("2001:db8::10", "2001:db8::/64", "2001:db8::1", "02:00:00:00:00:01"), nil)
	if err != nil || mac.String() != "02:00:00:00:00:01" ||
		encode(res) != `{"cniVersion":"1.0.0","ips":[{"address":"2001:db8::10/64","gateway":"2001:db8::1"}],"routes":[{"dst":"::/0","gw":"2001:db8::1"}],"dns":{}}` {
		t.Errorf("%s %v", encode(res), err)
	}
	_, v4net, _ := net.ParseCIDR("198.51.100.0/24")
	_, v6net, _ := net.ParseCIDR("2001:db8:1::/48")
	res, _, err = BuildResult(reply("10.0.3.7", "10.0.3.0/26", "10.0.3.1", "02:00:00:00:00:01"), []net.IPNet{*v4net, *v6net})
	if err != nil || encode(res) != `{"cniVersion":"1.0.0","ips":[{"address":"10.0.3.7/26","gateway":"10.0.3.1"}],"routes":[{"dst":"198.51.100.0/24","gw":"10.0.3.1"}],"dns":{}}` {
		t.Errorf("configured routes, the other family left out: %s %v", encode(res), err)
	}
	res, _, err = BuildResult(reply("10.0.3.7", "10.0.3.0/24", "10.0.3.1", "02:00:00:00:00:01"), []net.IPNet{})
	if err != nil || len(res.Routes) != 0 {
		t.Errorf("routes [] means none: %+v", res)
	}
	for name, bad := range map[string]*service.Reply{
		"no SubnetCIDR":      reply("10.0.3.7", "", "10.0.3.1", "02:00:00:00:00:01"),
		"IP outside":         reply("10.0.4.7", "10.0.3.0/24", "10.0.3.1", "02:00:00:00:00:01"),
		"gateway outside":    reply("10.0.3.7", "10.0.3.0/24", "10.0.4.1", "02:00:00:00:00:01"),
		"bad MAC":            reply("10.0.3.7", "10.0.3.0/24", "10.0.3.1", "nope"),
		"not an IP":          reply("ten", "10.0.3.0/24", "10.0.3.1", "02:00:00:00:00:01"),
		"20-byte infiniband": reply("10.0.3.7", "10.0.3.0/24", "10.0.3.1", "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01"),
	} {
		if _, _, err := BuildResult(bad, nil); err == nil {
			t.Errorf("%s: accepted", name)
		} else if ToCNIError(err).Code != ErrServiceBase+99 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestToCNIError(t *testing.T) {
	cases := []struct {
		err  error
		code uint
		text string
	}{
		{&retry.GaveUp{Attempts: 3, Last: &service.Unavailable{Op: "require", Code: 50, Detail: "database unavailable"}}, 11, "IPResMgr Code 50"},
		{&retry.GaveUp{Attempts: 3, Last: errors.New("Kubernetes API unreachable: refused")}, 11, "Kubernetes API unreachable"},
		{&service.Refused{Op: "require", Code: 30, Msg: "every address is bound"}, 230, "IPResMgr Code 30: every address is bound"},
		{&service.Refused{Op: "require", Code: 3, Msg: "token may not act on c2"}, 203, "Code 3"},
		{&kube.Unsupported{Msg: "DaemonSet"}, 101, "DaemonSet"},
		{&kube.Mismatch{Msg: "re-created"}, 3, "re-created"},
		{&kube.APIError{Status: 403, Message: "forbidden"}, 100, "need get on pods"},
		{types.NewError(5, "disk", ""), 5, "disk"},
		{errors.New("surprise"), 999, "surprise"},
	}
	for _, c := range cases {
		got := ToCNIError(c.err)
		if got.Code != c.code || !strings.Contains(got.Msg+" "+got.Details+" "+got.Error(), c.text) {
			t.Errorf("%v: got %d %q / %q", c.err, got.Code, got.Msg, got.Details)
		}
	}
}
