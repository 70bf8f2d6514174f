package service

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ipresmgr.local/cni/internal/retry"
)

var fast = retry.Policy{First: time.Millisecond, Max: 5 * time.Millisecond}

type recorder struct {
	mu      sync.Mutex
	bodies  []map[string]interface{}
	queries []string
	answers []string // answered in order; the last one repeats
	status  []int
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Header.Get("Authorization") != "Bearer the-token" {
		w.WriteHeader(401)
		w.Write([]byte(`{"ReqID":"x","Code":2,"Msg":"no or unknown token"}`))
		return
	}
	var body map[string]interface{}
	_ = json.NewDecoder(req.Body).Decode(&body)
	r.bodies = append(r.bodies, body)
	r.queries = append(r.queries, req.URL.RawQuery)
	i := len(r.bodies) - 1
	if i >= len(r.answers) {
		i = len(r.answers) - 1
	}
	w.WriteHeader(r.status[i])
	w.Write([]byte(r.answers[i]))
}

func newClient(t *testing.T, handler http.Handler) *Client {
	t.Helper()
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("the-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(server.URL+"/", tokenFile, "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c.WithRetry(fast)
}

var ref = WorkloadRef{K8SApiResourceKind: 0, K8SClusterID: "c1", K8SNamespace: "shop", K8SApiResourceID: "deploy-uid",
	K8SApiResourceName: "web", K8SPodID: "pod-uid"}

const granted = `{"ReqID":"r1","IP":"10.0.3.10","MacAddr":"da:73:4f:09:a0:c1","PortID":"640ee079-48e0-4701-91ec-774bed183a7c",
"SubnetGatewayAddr":"10.0.3.1","SubnetCIDR":"10.0.3.0/24","Code":0,"Msg":"idle address bound"}`

func ctx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

func TestRequireSendsTheContractFields(t *testing.T) {
	rec := &recorder{answers: []string{granted}, status: []int{200}}
	reply, err := newClient(t, rec).Require(ctx(t, 10*time.Second), "r1", ref)
	if err != nil || reply.IP != "10.0.3.10" || reply.SubnetCIDR != "10.0.3.0/24" || reply.MacAddr != "da:73:4f:09:a0:c1" {
		t.Fatalf("%+v %v", reply, err)
	}
	want := map[string]interface{}{"ReqID": "r1", "K8SApiResourceKind": 0.0, "K8SClusterID": "c1", "K8SNamespace": "shop",
		"K8SApiResourceID": "deploy-uid", "K8SApiResourceName": "web", "K8SPodID": "pod-uid"}
	if len(rec.bodies[0]) != len(want) {
		t.Errorf("keys %v", rec.bodies[0])
	}
	for k, v := range want {
		if rec.bodies[0][k] != v {
			t.Errorf("%s = %v, want %v", k, rec.bodies[0][k], v)
		}
	}
}

func TestCode50IsRetried(t *testing.T) {
	rec := &recorder{
		answers: []string{`{"ReqID":"r1","Code":50,"Msg":"database unavailable"}`, `{"ReqID":"r1","Code":50,"Msg":"database unavailable"}`, granted},
		status:  []int{503, 503, 200},
	}
	reply, err := newClient(t, rec).Require(ctx(t, 10*time.Second), "r1", ref)
	if err != nil || reply.IP != "10.0.3.10" || len(rec.bodies) != 3 {
		t.Fatalf("%+v %v after %d calls", reply, err, len(rec.bodies))
	}
}

func TestCode50UntilTheDeadline(t *testing.T) {
	rec := &recorder{answers: []string{`{"ReqID":"r1","Code":50,"Msg":"database unavailable"}`}, status: []int{503}}
	_, err := newClient(t, rec).Require(ctx(t, 200*time.Millisecond), "r1", ref)
	var gaveUp *retry.GaveUp
	var unavailable *Unavailable
	if !errors.As(err, &gaveUp) || !errors.As(err, &unavailable) || unavailable.Code != 50 || len(rec.bodies) < 2 {
		t.Fatalf("%v after %d calls", err, len(rec.bodies))
	}
}

func TestProxyErrorsAreRetriedOthersNot(t *testing.T) {
	rec := &recorder{answers: []string{"<html>Bad Gateway</html>", granted}, status: []int{502, 200}}
	if _, err := newClient(t, rec).Require(ctx(t, 10*time.Second), "r1", ref); err != nil || len(rec.bodies) != 2 {
		t.Fatalf("a 502 page is retried: %v", err)
	}
	rec = &recorder{answers: []string{"<html>Not Found</html>"}, status: []int{404}}
	_, err := newClient(t, rec).Require(ctx(t, 10*time.Second), "r1", ref)
	var unavailable *Unavailable
	if !errors.As(err, &unavailable) || len(rec.bodies) != 1 || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("an HTML 404 is not IPResMgr: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	rec := &recorder{answers: []string{`{"ReqID":"r2","IP":"","MacAddr":"","PortID":"","SubnetGatewayAddr":"","SubnetCIDR":"","Code":20,"Msg":"workload c1/shop/Deployment/web has no active pool"}`}, status: []int{404}}
	_, err := newClient(t, rec).Require(ctx(t, 10*time.Second), "r2", ref)
	var refused *Refused
	if !errors.As(err, &refused) || refused.Code != 20 || refused.ReqID != "r2" || len(rec.bodies) != 1 {
		t.Fatalf("%v", err)
	}
	rec = &recorder{answers: []string{`{"ReqID":"r3","Code":31,"Msg":"10.0.3.10 is bound to another pod"}`}, status: []int{409}}
	_, err = newClient(t, rec).Release(ctx(t, 10*time.Second), "r3", ref, "10.0.3.10")
	if !errors.As(err, &refused) || refused.Code != CodeAddressConflict || rec.bodies[0]["IP"] != "10.0.3.10" {
		t.Fatalf("%v %v", err, rec.bodies)
	}
}

func TestUnreachable(t *testing.T) {
	server := httptest.NewServer(http.NotFoundHandler())
	server.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	_ = os.WriteFile(tokenFile, []byte("t"), 0o600)
	c, _ := NewClient(server.URL, tokenFile, "", time.Second)
	_, err := c.WithRetry(fast).Release(ctx(t, 200*time.Millisecond), "r4", ref, "")
	var unavailable *Unavailable
	if !errors.As(err, &unavailable) || unavailable.Code != 0 || !strings.Contains(err.Error(), "IPResMgr unreachable") {
		t.Fatalf("%v", err)
	}
}

func TestAddressesOfPod(t *testing.T) {
	page := `{"ReqID":"r5","Code":0,"Msg":"1 of 1","Count":1,"Next":null,"Previous":null,"Results":[{"IP":"10.0.3.10",
	"MacAddr":"da:73:4f:09:a0:c1","PortID":"640ee079-48e0-4701-91ec-774bed183a7c","NetRegionalID":"r","SubnetID":"s",
	"SubnetGatewayAddr":"10.0.3.1","K8SClusterID":"c1","K8SNamespace":"shop","K8SApiResourceKind":0,"K8SApiResourceName":"web",
	"PoolState":"active","State":"bound","K8SPodID":"pod-uid","K8SApiResourceID":"deploy-uid",
	"ReservedAt":"2026-11-20T10:00:00Z","BoundAt":"2026-11-20T10:00:01Z","IdleSince":null}]}`
	rec := &recorder{answers: []string{page}, status: []int{200}}
	addresses, err := newClient(t, rec).AddressesOfPod(ctx(t, 10*time.Second), "r5", "c1", "pod-uid")
	if err != nil || len(addresses) != 1 || *addresses[0].K8SPodID != "pod-uid" || addresses[0].State != "bound" {
		t.Fatalf("%+v %v", addresses, err)
	}
	if rec.queries[0] != "K8SClusterID=c1&K8SPodID=pod-uid&Limit=1000&ReqID=r5" {
		t.Errorf("query %s", rec.queries[0])
	}
}

func TestTokenProblems(t *testing.T) {
	rec := &recorder{answers: []string{granted}, status: []int{200}}
	c := newClient(t, rec)
	c.tokenFile = filepath.Join(t.TempDir(), "missing")
	if _, err := c.Require(ctx(t, time.Second), "r6", ref); err == nil || !strings.Contains(err.Error(), "token file") {
		t.Errorf("%v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	c.tokenFile = empty
	if _, err := c.Require(ctx(t, time.Second), "r6", ref); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("%v", err)
	}
}
