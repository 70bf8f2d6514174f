package kube

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"ipresmgr.local/cni/internal/kubeconfig"
	"ipresmgr.local/cni/internal/retry"
)

const token = "kube-token"

// Objects in the API server's real JSON shape (trimmed of fields nobody reads here).
var objects = map[string]string{
	"/api/v1/namespaces/shop/pods/web-7d4b9c8f6d-x2k9q": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-7d4b9c8f6d-x2k9q",
	  "generateName":"web-7d4b9c8f6d-","namespace":"shop","uid":"pod-uid-1","resourceVersion":"4711",
	  "creationTimestamp":"2026-11-20T10:00:00Z","labels":{"app":"web","pod-template-hash":"7d4b9c8f6d"},
	  "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c8f6d","uid":"rs-uid-1",
	  "controller":true,"blockOwnerDeletion":true}]},"spec":{"nodeName":"node-1","containers":[{"name":"web","image":"nginx"}]},
	  "status":{"phase":"Pending"}}`,
	"/apis/apps/v1/namespaces/shop/replicasets/web-7d4b9c8f6d": `{"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{
	  "name":"web-7d4b9c8f6d","namespace":"shop","uid":"rs-uid-1","annotations":{"deployment.kubernetes.io/revision":"3"},
	  "ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"deploy-uid-1","controller":true,
	  "blockOwnerDeletion":true}]},"spec":{"replicas":2},"status":{"replicas":2}}`,
	"/api/v1/namespaces/data/pods/db-0": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"db-0","namespace":"data",
	  "uid":"pod-uid-2","ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"db","uid":"sts-uid-1",
	  "controller":true,"blockOwnerDeletion":true}]}}`,
	"/api/v1/namespaces/batch/pods/report-28890000-abcde": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"report-28890000-abcde",
	  "namespace":"batch","uid":"pod-uid-3","ownerReferences":[{"apiVersion":"batch/v1","kind":"Job","name":"report-28890000",
	  "uid":"job-uid-1","controller":true,"blockOwnerDeletion":true}]}}`,
	"/apis/batch/v1/namespaces/batch/jobs/report-28890000": `{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"report-28890000",
	  "namespace":"batch","uid":"job-uid-1","ownerReferences":[{"apiVersion":"batch/v1","kind":"CronJob","name":"report",
	  "uid":"cron-uid-1","controller":true,"blockOwnerDeletion":true}]}}`,
	"/api/v1/namespaces/batch/pods/migrate-x7k2p": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"migrate-x7k2p","namespace":"batch",
	  "uid":"pod-uid-4","ownerReferences":[{"apiVersion":"batch/v1","kind":"Job","name":"migrate","uid":"job-uid-2","controller":true}]}}`,
	"/apis/batch/v1/namespaces/batch/jobs/migrate": `{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"migrate",
	  "namespace":"batch","uid":"job-uid-2"}}`,
	"/api/v1/namespaces/default/pods/debug": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"debug","namespace":"default","uid":"pod-uid-5"}}`,
	"/api/v1/namespaces/kube-system/pods/agent-4xk2p": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"agent-4xk2p",
	  "namespace":"kube-system","uid":"pod-uid-6","ownerReferences":[{"apiVersion":"apps/v1","kind":"DaemonSet","name":"agent",
	  "uid":"ds-uid-1","controller":true}]}}`,
	"/api/v1/namespaces/shop/pods/lonely-abc12": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"lonely-abc12","namespace":"shop",
	  "uid":"pod-uid-7","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"lonely","uid":"rs-uid-2","controller":true}]}}`,
	"/apis/apps/v1/namespaces/shop/replicasets/lonely": `{"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{"name":"lonely",
	  "namespace":"shop","uid":"rs-uid-2"}}`,
	"/api/v1/namespaces/shop/pods/canary-abc12": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"canary-abc12","namespace":"shop",
	  "uid":"pod-uid-8","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"canary","uid":"rs-uid-3","controller":true}]}}`,
	"/apis/apps/v1/namespaces/shop/replicasets/canary": `{"kind":"ReplicaSet","apiVersion":"apps/v1","metadata":{"name":"canary",
	  "namespace":"shop","uid":"rs-uid-3","ownerReferences":[{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","name":"canary",
	  "uid":"ro-uid-1","controller":true}]}}`,
	"/api/v1/namespaces/shop/pods/stale-abc12": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"stale-abc12","namespace":"shop",
	  "uid":"pod-uid-9","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c8f6d","uid":"rs-uid-old","controller":true}]}}`,
	"/api/v1/namespaces/shop/pods/owned-not-controlled": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"owned-not-controlled",
	  "namespace":"shop","uid":"pod-uid-10","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"x","uid":"cm-1"}]}}`,
	"/api/v1/namespaces/shop/pods/orphan-rs-gone": `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"orphan-rs-gone","namespace":"shop",
	  "uid":"pod-uid-11","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"gone","uid":"rs-gone","controller":true}]}}`,
}

type fakeAPI struct {
	mu       sync.Mutex
	requests []string
	failures int // answer this many requests with 503 first
	status   int // answer everything with this status (0: normal)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.Path)
	failing := f.failures > 0
	if failing {
		f.failures--
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Header.Get("Authorization") != "Bearer "+token:
		w.WriteHeader(401)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
	case failing:
		w.WriteHeader(503)
		w.Write([]byte(`{"kind":"Status","status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}`))
	case f.status == 403:
		w.WriteHeader(403)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" is forbidden: User \"system:serviceaccount:kube-system:ipresmgr-cni\" cannot get resource \"pods\"","reason":"Forbidden","code":403}`))
	default:
		body, ok := objects[r.URL.Path]
		if !ok {
			w.WriteHeader(404)
			parts := strings.Split(r.URL.Path, "/")
			w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"` + parts[len(parts)-2] + ` \"` +
				parts[len(parts)-1] + `\" not found","reason":"NotFound","code":404}`))
			return
		}
		w.Write([]byte(body))
	}
}

var fast = retry.Policy{First: time.Millisecond, Max: 5 * time.Millisecond}

func client(t *testing.T, api *fakeAPI) *Client {
	t.Helper()
	server := httptest.NewServer(api)
	t.Cleanup(server.Close)
	c, err := NewClient(&kubeconfig.Credentials{Server: server.URL, Token: token}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c.WithRetry(fast)
}

func resolve(t *testing.T, c *Client, namespace, name string) (Workload, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pod, err := c.GetPod(ctx, namespace, name)
	if err != nil {
		return Workload{}, err
	}
	return c.ResolveWorkload(ctx, pod)
}

func TestOwnerChains(t *testing.T) {
	api := &fakeAPI{}
	c := client(t, api)
	cases := []struct {
		namespace, name string
		want            Workload
	}{
		{"shop", "web-7d4b9c8f6d-x2k9q", Workload{KindDeployment, "web", "deploy-uid-1"}},
		{"data", "db-0", Workload{KindStatefulSet, "db", "sts-uid-1"}},
		{"batch", "report-28890000-abcde", Workload{KindCronJob, "report", "cron-uid-1"}},
		{"batch", "migrate-x7k2p", Workload{KindJob, "migrate", "job-uid-2"}},
	}
	for _, c2 := range cases {
		got, err := resolve(t, c, c2.namespace, c2.name)
		if err != nil || got != c2.want {
			t.Errorf("%s/%s: got %+v %v, want %+v", c2.namespace, c2.name, got, err, c2.want)
		}
	}
	// A StatefulSet needs no read beyond the pod; a Deployment's pod one ReplicaSet read.
	api.requests = nil
	if _, err := resolve(t, c, "data", "db-0"); err != nil || len(api.requests) != 1 {
		t.Errorf("requests %v", api.requests)
	}
}

func TestUnsupportedOwners(t *testing.T) {
	c := client(t, &fakeAPI{})
	cases := map[string]string{
		"default/debug":             "bare pod",
		"kube-system/agent-4xk2p":   "DaemonSet",
		"shop/lonely-abc12":         "no Deployment controls",
		"shop/canary-abc12":         "Rollout",
		"shop/owned-not-controlled": "bare pod",
	}
	for pod, want := range cases {
		parts := strings.SplitN(pod, "/", 2)
		_, err := resolve(t, c, parts[0], parts[1])
		var unsupported *Unsupported
		if !errors.As(err, &unsupported) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want Unsupported with %q, got %v", pod, want, err)
		}
	}
	_, err := resolve(t, c, "shop", "stale-abc12")
	var mismatch *Mismatch
	if !errors.As(err, &mismatch) {
		t.Errorf("a ReplicaSet re-created under the same name: %v", err)
	}
	_, err = resolve(t, c, "shop", "orphan-rs-gone")
	if !NotFound(err) {
		t.Errorf("a ReplicaSet that is gone: %v", err)
	}
	_, err = resolve(t, c, "shop", "no-such-pod")
	if !NotFound(err) || !strings.Contains(err.Error(), `pods "no-such-pod" not found`) {
		t.Errorf("a missing pod: %v", err)
	}
}

func TestErrorsAndRetries(t *testing.T) {
	api := &fakeAPI{failures: 2}
	c := client(t, api)
	if got, err := resolve(t, c, "data", "db-0"); err != nil || got.Name != "db" {
		t.Fatalf("two 503s then an answer: %+v %v", got, err)
	}
	if len(api.requests) != 3 {
		t.Errorf("requests %v", api.requests)
	}

	forbidden := client(t, &fakeAPI{status: 403})
	_, err := resolve(t, forbidden, "data", "db-0")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 403 || apiErr.Reason != "Forbidden" || !strings.Contains(err.Error(), "need get on pods") {
		t.Errorf("403: %v", err)
	}

	wrongToken, _ := NewClient(&kubeconfig.Credentials{Server: httptest.NewServer(&fakeAPI{}).URL, Token: "nope"}, time.Second)
	if _, err := resolve(t, wrongToken.WithRetry(fast), "data", "db-0"); !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Errorf("401: %v", err)
	}

	down := httptest.NewServer(&fakeAPI{})
	down.Close()
	gone, _ := NewClient(&kubeconfig.Credentials{Server: down.URL, Token: token}, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // generous: a loaded machine
	defer cancel()
	_, err = gone.WithRetry(fast).GetPod(ctx, "data", "db-0")
	var gaveUp *retry.GaveUp
	if !errors.As(err, &gaveUp) || !strings.Contains(err.Error(), "Kubernetes API unreachable") {
		t.Errorf("unreachable: %v", err)
	}
}

func TestTLSAndTokenFile(t *testing.T) {
	server := httptest.NewUnstartedServer(&fakeAPI{})
	server.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	server.StartTLS()
	defer server.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(&kubeconfig.Credentials{Server: server.URL, CAData: ca, TokenFile: tokenFile}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := resolve(t, c.WithRetry(fast), "data", "db-0"); err != nil || got.Kind != KindStatefulSet {
		t.Fatalf("%+v %v", got, err)
	}
	// Without the CA the server is not trusted.
	untrusted, _ := NewClient(&kubeconfig.Credentials{Server: server.URL, Token: token}, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // generous: a loaded machine
	defer cancel()
	_, err = untrusted.WithRetry(fast).GetPod(ctx, "data", "db-0")
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig || !strings.Contains(err.Error(), "CA") {
		t.Errorf("an unknown CA is a configuration error, not retried: %v", err)
	}
	plain := httptest.NewServer(&fakeAPI{})
	defer plain.Close()
	tlsToPlain, _ := NewClient(&kubeconfig.Credentials{Server: strings.Replace(plain.URL, "http:", "https:", 1), Token: token}, time.Second)
	if _, err := tlsToPlain.WithRetry(fast).GetPod(ctx, "data", "db-0"); !errors.As(err, &cniErr) || cniErr.Code != 7 {
		t.Errorf("https to a plain server is a configuration error: %v", err)
	}
	if _, err := NewClient(&kubeconfig.Credentials{Server: server.URL, CAData: []byte("junk")}, time.Second); err == nil {
		t.Error("a CA without PEM must be refused")
	}
}
