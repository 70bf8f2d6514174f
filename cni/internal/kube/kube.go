// Package kube reads pods, ReplicaSets and Jobs from the Kubernetes API and walks a pod's
// controller owner references to the workload IPResMgr keeps a pool for.
package kube

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"ipresmgr.local/cni/internal/httperr"
	"ipresmgr.local/cni/internal/kubeconfig"
	"ipresmgr.local/cni/internal/retry"
)

// Workload kinds, as IPResMgr numbers them (K8SApiResourceKind).
const (
	KindDeployment  = 0
	KindStatefulSet = 1
	KindJob         = 2
	KindCronJob     = 3
)

// KindNames names the kinds for messages and state files.
var KindNames = map[int]string{KindDeployment: "Deployment", KindStatefulSet: "StatefulSet", KindJob: "Job", KindCronJob: "CronJob"}

// Workload is what a pod's address is required for.
type Workload struct {
	Kind int
	Name string
	UID  string
}

func (w Workload) String() string {
	return fmt.Sprintf("%s %s (uid %s)", KindNames[w.Kind], w.Name, w.UID)
}

// OwnerReference is metadata.ownerReferences[i].
type OwnerReference struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	UID        string `json:"uid"`
	Controller *bool  `json:"controller,omitempty"`
}

// Object is the part of any Kubernetes object the resolution reads.
type Object struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name            string           `json:"name"`
		Namespace       string           `json:"namespace"`
		UID             string           `json:"uid"`
		OwnerReferences []OwnerReference `json:"ownerReferences"`
	} `json:"metadata"`
}

// controller is the owner reference with controller: true (Kubernetes allows at most one).
func (o *Object) controller() *OwnerReference {
	for i := range o.Metadata.OwnerReferences {
		ref := &o.Metadata.OwnerReferences[i]
		if ref.Controller != nil && *ref.Controller {
			return ref
		}
	}
	return nil
}

// APIError is an answer of the API server other than 200.
type APIError struct {
	Status  int
	Reason  string // from the Status object: NotFound, Forbidden...
	Message string
	Path    string
}

func (e *APIError) Error() string {
	text := fmt.Sprintf("Kubernetes API answered HTTP %d for GET %s", e.Status, e.Path)
	if e.Message != "" {
		text += ": " + e.Message
	}
	if e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized {
		text += " (the plugin's credentials need get on pods, apps/replicasets and batch/jobs)"
	}
	return text
}

// NotFound tells whether err is the API's 404.
func NotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound
}

// Unsupported is a pod whose workload IPResMgr keeps no pool for (bare pod, DaemonSet...).
type Unsupported struct {
	Msg string
}

func (u *Unsupported) Error() string { return u.Msg }

// Mismatch: the pod the API has under this name is not the pod the runtime asks for.
type Mismatch struct {
	Msg string
}

func (m *Mismatch) Error() string { return m.Msg }

// Client calls the API server with one set of credentials.
type Client struct {
	server         *url.URL
	http           *http.Client
	token          string
	tokenFile      string
	requestTimeout time.Duration
	retry          retry.Policy
}

// NewClient builds a client; requestTimeout bounds one HTTP request.
func NewClient(creds *kubeconfig.Credentials, requestTimeout time.Duration) (*Client, error) {
	server, err := url.Parse(strings.TrimRight(creds.Server, "/"))
	if err != nil {
		return nil, fmt.Errorf("Kubernetes API server %q: %w", creds.Server, err)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: creds.Insecure} //nolint:gosec // only when the kubeconfig asks
	if len(creds.CAData) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(creds.CAData) {
			return nil, fmt.Errorf("Kubernetes API CA: no PEM certificate found")
		}
		tlsConfig.RootCAs = pool
	}
	if creds.ClientCert != nil {
		pair, err := tls.X509KeyPair(creds.ClientCert, creds.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("Kubernetes API client certificate: %w", err)
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	transport := &http.Transport{TLSClientConfig: tlsConfig, Proxy: nil, ForceAttemptHTTP2: false}
	return &Client{
		server:         server,
		http:           &http.Client{Transport: transport},
		token:          creds.Token,
		tokenFile:      creds.TokenFile,
		requestTimeout: requestTimeout,
		retry:          retry.Default,
	}, nil
}

// WithRetry replaces the backoff policy (tests make it fast).
func (c *Client) WithRetry(p retry.Policy) *Client {
	c.retry = p
	return c
}

func (c *Client) bearer() (string, error) {
	if c.tokenFile != "" {
		data, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return "", fmt.Errorf("Kubernetes API token file: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return c.token, nil
}

// Get reads one object, retrying while the API server is unreachable or overloaded.
func (c *Client) Get(ctx context.Context, path string, out interface{}) error {
	return c.retry.Do(ctx, func(ctx context.Context) error { return c.getOnce(ctx, path, out) })
}

func (c *Client) getOnce(ctx context.Context, path string, out interface{}) error {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server.String()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ipresmgr-ipam")
	token, err := c.bearer()
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if httperr.TLSConfig(err) {
			return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("Kubernetes API: %v (check the server URL and its CA)", err), "")
		}
		return &retry.Transient{Err: fmt.Errorf("Kubernetes API unreachable: %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return &retry.Transient{Err: fmt.Errorf("Kubernetes API: reading the answer to GET %s: %w", path, err)}
	}
	if resp.StatusCode != http.StatusOK {
		apiErr := &APIError{Status: resp.StatusCode, Path: path}
		var status struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &status) == nil {
			apiErr.Reason, apiErr.Message = status.Reason, status.Message
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return &retry.Transient{Err: apiErr}
		}
		return apiErr
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("Kubernetes API: the answer to GET %s is not the expected JSON: %w", path, err)
	}
	return nil
}

func objectPath(group, version, resource, namespace, name string) string {
	prefix := "/api/" + version
	if group != "" {
		prefix = "/apis/" + group + "/" + version
	}
	return prefix + "/namespaces/" + url.PathEscape(namespace) + "/" + resource + "/" + url.PathEscape(name)
}

// GetPod reads a pod.
func (c *Client) GetPod(ctx context.Context, namespace, name string) (*Object, error) {
	var pod Object
	if err := c.Get(ctx, objectPath("", "v1", "pods", namespace, name), &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}

func groupOf(apiVersion string) string {
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		return apiVersion[:i]
	}
	return "" // the core group ("v1")
}

// ResolveWorkload walks the pod's controller chain: ReplicaSet -> Deployment, StatefulSet,
// Job -> CronJob, bare Job. Bare pods, DaemonSet pods, bare ReplicaSets and other controllers
// are Unsupported. The owners' names and UIDs come from the owner references; only the
// ReplicaSet and the Job are read (to find their own controller).
func (c *Client) ResolveWorkload(ctx context.Context, pod *Object) (Workload, error) {
	podName := pod.Metadata.Namespace + "/" + pod.Metadata.Name
	ref := pod.controller()
	if ref == nil {
		return Workload{}, &Unsupported{Msg: fmt.Sprintf("pod %s has no controller (a bare pod): IPResMgr hands out "+
			"addresses to pods of Deployments, StatefulSets, Jobs and CronJobs only", podName)}
	}
	group := groupOf(ref.APIVersion)
	switch {
	case group == "apps" && ref.Kind == "StatefulSet":
		return Workload{Kind: KindStatefulSet, Name: ref.Name, UID: ref.UID}, nil
	case group == "apps" && ref.Kind == "ReplicaSet":
		var rs Object
		if err := c.Get(ctx, objectPath("apps", "v1", "replicasets", pod.Metadata.Namespace, ref.Name), &rs); err != nil {
			return Workload{}, err
		}
		if ref.UID != "" && rs.Metadata.UID != ref.UID {
			return Workload{}, &Mismatch{Msg: fmt.Sprintf("ReplicaSet %s of pod %s has uid %s, the pod's owner reference says %s "+
				"(re-created meanwhile)", ref.Name, podName, rs.Metadata.UID, ref.UID)}
		}
		owner := rs.controller()
		if owner == nil {
			return Workload{}, &Unsupported{Msg: fmt.Sprintf("pod %s belongs to ReplicaSet %s, which no Deployment controls: "+
				"IPResMgr has no pool kind for a bare ReplicaSet", podName, ref.Name)}
		}
		if groupOf(owner.APIVersion) != "apps" || owner.Kind != "Deployment" {
			return Workload{}, &Unsupported{Msg: fmt.Sprintf("pod %s belongs to ReplicaSet %s controlled by %s %s (%s): "+
				"IPResMgr keeps pools for Deployments, not for that", podName, ref.Name, owner.Kind, owner.Name, owner.APIVersion)}
		}
		return Workload{Kind: KindDeployment, Name: owner.Name, UID: owner.UID}, nil
	case group == "batch" && ref.Kind == "Job":
		var job Object
		if err := c.Get(ctx, objectPath("batch", "v1", "jobs", pod.Metadata.Namespace, ref.Name), &job); err != nil {
			return Workload{}, err
		}
		if ref.UID != "" && job.Metadata.UID != ref.UID {
			return Workload{}, &Mismatch{Msg: fmt.Sprintf("Job %s of pod %s has uid %s, the pod's owner reference says %s "+
				"(re-created meanwhile)", ref.Name, podName, job.Metadata.UID, ref.UID)}
		}
		owner := job.controller()
		if owner == nil {
			return Workload{Kind: KindJob, Name: ref.Name, UID: ref.UID}, nil
		}
		if groupOf(owner.APIVersion) != "batch" || owner.Kind != "CronJob" {
			return Workload{}, &Unsupported{Msg: fmt.Sprintf("pod %s belongs to Job %s controlled by %s %s (%s): "+
				"IPResMgr keeps pools for bare Jobs and CronJobs, not for that", podName, ref.Name, owner.Kind, owner.Name, owner.APIVersion)}
		}
		return Workload{Kind: KindCronJob, Name: owner.Name, UID: owner.UID}, nil
	case group == "apps" && ref.Kind == "DaemonSet":
		return Workload{}, &Unsupported{Msg: fmt.Sprintf("pod %s belongs to DaemonSet %s: IPResMgr keeps no pools for "+
			"DaemonSets (one pod per node has no replica count); give DaemonSets another network", podName, ref.Name)}
	default:
		return Workload{}, &Unsupported{Msg: fmt.Sprintf("pod %s is controlled by %s %s (%s): IPResMgr keeps pools for "+
			"Deployments, StatefulSets, Jobs and CronJobs only", podName, ref.Kind, ref.Name, ref.APIVersion)}
	}
}
