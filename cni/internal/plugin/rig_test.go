// The test rig: fakes of IPResMgr, of the Kubernetes API and of the pod's links, and a runner of the plugin's commands.

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
	"sync"
	"testing"
	"time"

	"ipresmgr.local/cni/internal/config"
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
