// Package service calls IPResMgr: POST /v1/ip/require and /v1/ip/release with the contract's
// JSON, GET /v1/addresses to find what a pod holds. Code 50, no answer, and a proxy's
// 502/503/504/429 are retried with backoff until the caller's deadline.
package service

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"ipresmgr.local/cni/internal/httperr"
	"ipresmgr.local/cni/internal/retry"
)

// IPResMgr's codes the plugin treats specially.
const (
	CodeSuccess         = 0
	CodeAddressConflict = 31
	CodeUnavailable     = 50
)

// WorkloadRef names the workload and pod of a require or release (contract section 3).
type WorkloadRef struct {
	K8SApiResourceKind int    `json:"K8SApiResourceKind"`
	K8SClusterID       string `json:"K8SClusterID"`
	K8SNamespace       string `json:"K8SNamespace"`
	K8SApiResourceID   string `json:"K8SApiResourceID"`
	K8SApiResourceName string `json:"K8SApiResourceName"`
	K8SPodID           string `json:"K8SPodID"`
}

type requireRequest struct {
	ReqID string `json:"ReqID"`
	WorkloadRef
}

type releaseRequest struct {
	ReqID string `json:"ReqID"`
	WorkloadRef
	IP string `json:"IP"`
	// Conflict: the address was found in use on the wire; IPResMgr quarantines it. Left out
	// of an ordinary release (services older than quarantine ignore unknown keys anyway).
	Conflict        bool   `json:"Conflict,omitempty"`
	ConflictMacAddr string `json:"ConflictMacAddr,omitempty"`
}

// Reply is the answer to require or release; the address fields are empty for release.
type Reply struct {
	ReqID             string `json:"ReqID"`
	Code              int    `json:"Code"`
	Msg               string `json:"Msg"`
	IP                string `json:"IP"`
	MacAddr           string `json:"MacAddr"`
	PortID            string `json:"PortID"`
	SubnetGatewayAddr string `json:"SubnetGatewayAddr"`
	SubnetCIDR        string `json:"SubnetCIDR"`
}

// Address is one row of GET /v1/addresses.
type Address struct {
	IP                 string  `json:"IP"`
	MacAddr            string  `json:"MacAddr"`
	PortID             string  `json:"PortID"`
	SubnetGatewayAddr  string  `json:"SubnetGatewayAddr"`
	K8SClusterID       string  `json:"K8SClusterID"`
	K8SNamespace       string  `json:"K8SNamespace"`
	K8SApiResourceKind int     `json:"K8SApiResourceKind"`
	K8SApiResourceName string  `json:"K8SApiResourceName"`
	K8SApiResourceID   string  `json:"K8SApiResourceID"`
	K8SPodID           *string `json:"K8SPodID"`
	State              string  `json:"State"`
}

type addressPage struct {
	ReqID   string    `json:"ReqID"`
	Code    int       `json:"Code"`
	Msg     string    `json:"Msg"`
	Count   int       `json:"Count"`
	Results []Address `json:"Results"`
}

// Refused is a definite answer other than Code 0 (and other than 50, which is retried).
type Refused struct {
	Op    string
	ReqID string
	Code  int
	Msg   string
}

func (r *Refused) Error() string {
	return fmt.Sprintf("IPResMgr refused %s: Code %d: %s (ReqID %s)", r.Op, r.Code, r.Msg, r.ReqID)
}

// Unavailable is the last failure of an attempt that got no definite answer.
type Unavailable struct {
	Op     string
	ReqID  string
	Code   int // 50 when IPResMgr said so, 0 when there was no JSON answer at all
	Detail string
}

func (u *Unavailable) Error() string {
	if u.Code != 0 {
		return fmt.Sprintf("IPResMgr unavailable for %s: Code %d: %s (ReqID %s)", u.Op, u.Code, u.Detail, u.ReqID)
	}
	return fmt.Sprintf("IPResMgr unreachable for %s: %s (ReqID %s)", u.Op, u.Detail, u.ReqID)
}

// Client calls one IPResMgr with the cluster's token.
type Client struct {
	base           string
	tokenFile      string
	http           *http.Client
	requestTimeout time.Duration
	retry          retry.Policy
}

// NewClient builds a client. caFile (PEM) may be empty: the system's roots.
func NewClient(baseURL, tokenFile, caFile string, requestTimeout time.Duration) (*Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("IPResMgr CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("IPResMgr CA file %s: no PEM certificate found", caFile)
		}
		tlsConfig.RootCAs = pool
	}
	// No proxy from the environment: the runtime's environment is not the plugin's to trust.
	transport := &http.Transport{TLSClientConfig: tlsConfig, Proxy: nil, MaxIdleConnsPerHost: 2}
	return &Client{
		base:           strings.TrimRight(baseURL, "/"),
		tokenFile:      tokenFile,
		http:           &http.Client{Transport: transport},
		requestTimeout: requestTimeout,
		retry:          retry.Default,
	}, nil
}

// WithRetry replaces the backoff policy (tests make it fast).
func (c *Client) WithRetry(p retry.Policy) *Client {
	c.retry = p
	return c
}

func (c *Client) token() (string, error) {
	data, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return "", fmt.Errorf("IPResMgr token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("IPResMgr token file %s is empty", c.tokenFile)
	}
	return token, nil
}

// Require asks for the pod's address. The same pod gets the same address again.
func (c *Client) Require(ctx context.Context, reqID string, ref WorkloadRef) (*Reply, error) {
	var reply Reply
	err := c.call(ctx, "require", reqID, http.MethodPost, "/v1/ip/require", requireRequest{ReqID: reqID, WorkloadRef: ref}, &reply)
	if err != nil {
		return nil, err
	}
	if reply.Code != CodeSuccess {
		return &reply, &Refused{Op: "require", ReqID: reply.ReqID, Code: reply.Code, Msg: reply.Msg}
	}
	return &reply, nil
}

// Release lets the pod's address go (ip "" : whatever the pod holds in the workload's pool).
// Code 0 covers "nothing to do". Code 31 (bound to another pod) comes back as a Refused.
func (c *Client) Release(ctx context.Context, reqID string, ref WorkloadRef, ip string) (*Reply, error) {
	var reply Reply
	err := c.call(ctx, "release", reqID, http.MethodPost, "/v1/ip/release", releaseRequest{ReqID: reqID, WorkloadRef: ref, IP: ip}, &reply)
	if err != nil {
		return nil, err
	}
	if reply.Code != CodeSuccess {
		return &reply, &Refused{Op: "release", ReqID: reply.ReqID, Code: reply.Code, Msg: reply.Msg}
	}
	return &reply, nil
}

// ReleaseConflict releases the pod's ip as found in use on the wire by conflictMAC (the MAC
// that answered; "" if none was seen): IPResMgr ends the binding and quarantines the address,
// out of every pool's rotation until an operator clears it (SPEC "Addresses in use on the wire").
func (c *Client) ReleaseConflict(ctx context.Context, reqID string, ref WorkloadRef, ip, conflictMAC string) (*Reply, error) {
	var reply Reply
	body := releaseRequest{ReqID: reqID, WorkloadRef: ref, IP: ip, Conflict: true, ConflictMacAddr: conflictMAC}
	if err := c.call(ctx, "release", reqID, http.MethodPost, "/v1/ip/release", body, &reply); err != nil {
		return nil, err
	}
	if reply.Code != CodeSuccess {
		return &reply, &Refused{Op: "release", ReqID: reply.ReqID, Code: reply.Code, Msg: reply.Msg}
	}
	return &reply, nil
}

// AddressesOfPod lists the addresses bound to the pod in the cluster (a cluster token sees only
// its own cluster's addresses anyway).
func (c *Client) AddressesOfPod(ctx context.Context, reqID, clusterID, podUID string) ([]Address, error) {
	query := url.Values{}
	query.Set("K8SClusterID", clusterID)
	query.Set("K8SPodID", podUID)
	query.Set("Limit", "1000")
	query.Set("ReqID", reqID)
	var page addressPage
	if err := c.call(ctx, "address lookup", reqID, http.MethodGet, "/v1/addresses?"+query.Encode(), nil, &page); err != nil {
		return nil, err
	}
	if page.Code != CodeSuccess {
		return nil, &Refused{Op: "address lookup", ReqID: page.ReqID, Code: page.Code, Msg: page.Msg}
	}
	return page.Results, nil
}

// envelope is the part of every /v1 answer the retry decision reads.
type envelope struct {
	Code *int   `json:"Code"`
	Msg  string `json:"Msg"`
}

func (c *Client) call(ctx context.Context, op, reqID, method, path string, body, out interface{}) error {
	return c.retry.Do(ctx, func(ctx context.Context) error {
		return c.once(ctx, op, reqID, method, path, body, out)
	})
}

func (c *Client) once(ctx context.Context, op, reqID, method, path string, body, out interface{}) error {
	token, err := c.token()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reader)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ipresmgr-ipam")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if httperr.TLSConfig(err) {
			return types.NewError(types.ErrInvalidNetworkConfig, fmt.Sprintf("IPResMgr %s: %v (check serviceURL and serviceCAFile)", op, err), "")
		}
		return &retry.Transient{Err: &Unavailable{Op: op, ReqID: reqID, Detail: err.Error()}}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &retry.Transient{Err: &Unavailable{Op: op, ReqID: reqID, Detail: "reading the answer: " + err.Error()}}
	}
	var env envelope
	if json.Unmarshal(data, &env) != nil || env.Code == nil {
		detail := fmt.Sprintf("HTTP %d with no IPResMgr answer: %.200q", resp.StatusCode, data)
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
			return &retry.Transient{Err: &Unavailable{Op: op, ReqID: reqID, Detail: detail}}
		}
		return &Unavailable{Op: op, ReqID: reqID, Detail: detail}
	}
	if *env.Code == CodeUnavailable {
		return &retry.Transient{Err: &Unavailable{Op: op, ReqID: reqID, Code: CodeUnavailable, Detail: env.Msg}}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("IPResMgr %s: unexpected answer: %w", op, err)
	}
	return nil
}
