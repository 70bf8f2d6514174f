// Package plugin is the IPAM plugin's commands: ADD requires the pod's address from IPResMgr
// for the workload its owner chain names, DEL releases it, CHECK verifies the pod still holds
// it, VERSION lists the versions. Every failure is a CNI error with a code (see cnitypes).
package plugin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"ipresmgr.local/cni/internal/cnitypes"
	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/kube"
	"ipresmgr.local/cni/internal/kubeconfig"
	"ipresmgr.local/cni/internal/retry"
	"ipresmgr.local/cni/internal/service"
	"ipresmgr.local/cni/internal/state"
)

// Links reads and sets an interface's MAC inside a network namespace (netlink on Linux; a fake in tests).
type Links interface {
	SetMAC(netns, ifName string, mac net.HardwareAddr) error
	GetMAC(netns, ifName string) (net.HardwareAddr, error)
}

// Plugin is one invocation: its environment, stdin and where it logs.
type Plugin struct {
	Getenv func(string) string
	Stdin  []byte
	Stderr io.Writer
	Links  Links
	Retry  *retry.Policy // nil: retry.Default
	Name   string        // the binary's name: a network entry of this type runs the chained mode

	env     config.Env
	log     []io.Writer
	logFile *os.File
	command string
}

// Run executes the command and returns what goes to stdout and the exit status.
func (p *Plugin) Run() ([]byte, int) {
	p.env = config.EnvFrom(p.Getenv)
	p.command = p.env.Command
	if p.Stderr != nil {
		p.log = append(p.log, p.Stderr)
	}
	version := ""
	if p.env.Command == "VERSION" {
		var request struct {
			CNIVersion string `json:"cniVersion"`
		}
		_ = json.Unmarshal(p.Stdin, &request)
		return cnitypes.VersionInfo(request.CNIVersion), 0
	}
	out, err := p.run(&version)
	if p.logFile != nil {
		defer p.logFile.Close()
	}
	if err != nil {
		cniErr := ToCNIError(err)
		p.logf("failed: code %d: %s", cniErr.Code, cniErr.Error())
		return cniErr.Encode(version), 1
	}
	return out, 0
}

func (p *Plugin) run(version *string) ([]byte, error) {
	switch p.env.Command {
	case "ADD", "DEL", "CHECK":
	case "":
		return nil, cnitypes.Errorf(cnitypes.ErrInvalidEnvironment, "CNI_COMMAND is not set: this is a CNI plugin, run by a container runtime")
	default:
		return nil, cnitypes.Errorf(cnitypes.ErrInvalidEnvironment, "CNI_COMMAND %q is not ADD, DEL, CHECK or VERSION", p.env.Command)
	}
	conf, cerr := config.ParseNetConf(p.Stdin)
	if conf != nil && cnitypes.Supported(conf.CNIVersion) {
		*version = conf.CNIVersion
	}
	if cerr != nil {
		return nil, cerr
	}
	if cerr := p.env.Validate(); cerr != nil {
		return nil, cerr
	}
	if conf.Type == config.PluginType || (p.Name != "" && conf.Type == p.Name) {
		return p.chained(conf)
	}
	if len(conf.IPAM) == 0 {
		return nil, cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, "network configuration has no ipam section")
	}
	ipam, cerr := config.ParseIPAM(conf.IPAM)
	if cerr != nil {
		return nil, cerr
	}
	if ipam.LogFile != "" {
		if file, err := os.OpenFile(ipam.LogFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			p.logFile = file
			p.log = append(p.log, file)
		}
	}
	args, cerr := config.ParseArgs(p.env.Args)
	if cerr != nil {
		return nil, cerr
	}
	ctx, cancel := context.WithTimeout(context.Background(), ipam.Timeout)
	defer cancel()
	call := &call{p: p, conf: conf, ipam: ipam, args: args, store: state.Store{Dir: ipam.StateDir}}
	switch p.env.Command {
	case "ADD":
		return call.add(ctx)
	case "DEL":
		return nil, call.del(ctx)
	default:
		return nil, call.check(ctx)
	}
}

func (p *Plugin) logf(format string, args ...interface{}) {
	line := fmt.Sprintf("%s ipresmgr-ipam %s %s/%s: %s\n", time.Now().UTC().Format(time.RFC3339),
		p.command, p.env.ContainerID, p.env.IfName, fmt.Sprintf(format, args...))
	for _, w := range p.log {
		_, _ = io.WriteString(w, line)
	}
}

func (p *Plugin) policy() retry.Policy {
	if p.Retry != nil {
		return *p.Retry
	}
	return retry.Default
}

// call is one ADD, DEL or CHECK with its parsed inputs.
type call struct {
	p     *Plugin
	conf  *config.NetConf
	ipam  *config.IPAM
	args  config.PodArgs
	store state.Store
}

func (c *call) reqID() string {
	random := make([]byte, 4)
	_, _ = rand.Read(random)
	container := c.p.env.ContainerID
	if len(container) > 12 {
		container = container[:12]
	}
	return fmt.Sprintf("cni-%s-%s-%s", strings.ToLower(c.p.command), container, hex.EncodeToString(random))
}

func (c *call) service() (*service.Client, error) {
	if _, err := os.ReadFile(c.ipam.TokenFile); err != nil {
		return nil, cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, "ipam.tokenFile: %v", err)
	}
	client, err := service.NewClient(c.ipam.ServiceURL, c.ipam.TokenFile, c.ipam.ServiceCAFile, c.ipam.RequestTimeout)
	if err != nil {
		return nil, cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, "%v", err)
	}
	return client.WithRetry(c.p.policy()), nil
}

func (c *call) kube() (*kube.Client, error) {
	var creds *kubeconfig.Credentials
	if c.ipam.Kubeconfig != "" {
		loaded, err := kubeconfig.Load(c.ipam.Kubeconfig)
		if err != nil {
			return nil, cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, "ipam.kubeconfig: %v", err)
		}
		creds = loaded
	} else {
		k := c.ipam.Kubernetes
		creds = &kubeconfig.Credentials{Server: k.APIURL, TokenFile: k.TokenFile}
		if k.CAFile != "" {
			ca, err := os.ReadFile(k.CAFile)
			if err != nil {
				return nil, cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, "ipam.kubernetes.caFile: %v", err)
			}
			creds.CAData = ca
		}
	}
	client, err := kube.NewClient(creds, c.ipam.RequestTimeout)
	if err != nil {
		return nil, cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, "%v", err)
	}
	return client.WithRetry(c.p.policy()), nil
}

func stateError(err error) error {
	return cnitypes.Errorf(cnitypes.ErrIOFailure, "state directory: %v", err)
}

// add: the workload from the state of a retried ADD, else from the pod's owner chain; then
// require, record, set the MAC if asked, and answer the result.
func (c *call) add(ctx context.Context) ([]byte, error) {
	if cerr := c.args.RequirePod(); cerr != nil {
		return nil, cerr
	}
	env := c.p.env
	entry, err := c.store.Load(c.conf.Name, env.ContainerID, env.IfName)
	if err != nil {
		return nil, stateError(err)
	}
	var workload kube.Workload
	podUID := c.args.UID
	if entry != nil && entry.ClusterID == c.ipam.ClusterID && entry.PodNamespace == c.args.Namespace &&
		entry.PodName == c.args.Name && (podUID == "" || podUID == entry.PodUID) {
		workload = kube.Workload{Kind: entry.Kind, Name: entry.WorkloadName, UID: entry.WorkloadUID}
		podUID = entry.PodUID
		c.p.logf("retried ADD: pod %s, %s, from the state file", c.args, workload)
	} else {
		client, err := c.kube()
		if err != nil {
			return nil, err
		}
		pod, err := client.GetPod(ctx, c.args.Namespace, c.args.Name)
		if err != nil {
			if kube.NotFound(err) {
				return nil, cnitypes.Errorf(cnitypes.ErrUnknownContainer, "pod %s: %v", c.args, err)
			}
			return nil, err
		}
		if podUID != "" && pod.Metadata.UID != podUID {
			return nil, &kube.Mismatch{Msg: fmt.Sprintf("pod %s: the Kubernetes API has a pod of that name with uid %s; "+
				"the one being set up was deleted", c.args, pod.Metadata.UID)}
		}
		podUID = pod.Metadata.UID
		if workload, err = client.ResolveWorkload(ctx, pod); err != nil {
			return nil, err
		}
		c.p.logf("pod %s belongs to %s", c.args, workload)
	}
	svc, err := c.service()
	if err != nil {
		return nil, err
	}
	reply, err := svc.Require(ctx, c.reqID(), service.WorkloadRef{
		K8SApiResourceKind: workload.Kind,
		K8SClusterID:       c.ipam.ClusterID,
		K8SNamespace:       c.args.Namespace,
		K8SApiResourceID:   workload.UID,
		K8SApiResourceName: workload.Name,
		K8SPodID:           podUID,
	})
	if err != nil {
		return nil, err
	}
	result, mac, err := BuildResult(reply, c.ipam.Routes)
	if err != nil {
		return nil, err
	}
	// Recorded before anything else can fail: the runtime's DEL after a failed ADD then finds it.
	err = c.store.Save(state.Entry{
		Network: c.conf.Name, ContainerID: env.ContainerID, IfName: env.IfName, ClusterID: c.ipam.ClusterID,
		PodNamespace: c.args.Namespace, PodName: c.args.Name, PodUID: podUID,
		Kind: workload.Kind, WorkloadName: workload.Name, WorkloadUID: workload.UID,
		IP: reply.IP, MacAddr: reply.MacAddr, Gateway: reply.SubnetGatewayAddr, CIDR: reply.SubnetCIDR,
	})
	if err != nil {
		return nil, stateError(err)
	}
	if c.ipam.SetMAC {
		if err := c.p.Links.SetMAC(env.Netns, env.IfName, mac); err != nil {
			return nil, cnitypes.Errorf(cnitypes.ErrInterface, "setMAC: %v", err)
		}
	}
	c.p.logf("pod %s has %s/%s gateway %s mac %s (%s, ReqID %s)", c.args, reply.IP, prefixOf(reply.SubnetCIDR),
		reply.SubnetGatewayAddr, reply.MacAddr, reply.Msg, reply.ReqID)
	return result.Encode(c.conf.CNIVersion)
}

func prefixOf(cidr string) string {
	if i := strings.Index(cidr, "/"); i >= 0 {
		return cidr[i+1:]
	}
	return "?"
}

// BuildResult turns IPResMgr's answer into the IPAM result: the address with the subnet's
// prefix length, the gateway, and routes via the gateway (a default route unless routes are
// configured; configured destinations of the other family are left out). It also returns the MAC.
func BuildResult(reply *service.Reply, routes []net.IPNet) (cnitypes.Result, net.HardwareAddr, error) {
	bad := func(format string, args ...interface{}) error {
		return cnitypes.Errorf(cnitypes.ErrServiceBase+99, "IPResMgr's answer (ReqID %s) is unusable: %s",
			reply.ReqID, fmt.Sprintf(format, args...))
	}
	ip := net.ParseIP(reply.IP)
	if ip == nil {
		return cnitypes.Result{}, nil, bad("IP %q", reply.IP)
	}
	if reply.SubnetCIDR == "" {
		return cnitypes.Result{}, nil, bad("no SubnetCIDR (a service older than the CNI plugin?)")
	}
	_, subnet, err := net.ParseCIDR(reply.SubnetCIDR)
	if err != nil || !subnet.Contains(ip) {
		return cnitypes.Result{}, nil, bad("SubnetCIDR %q does not contain IP %s", reply.SubnetCIDR, reply.IP)
	}
	gateway := net.ParseIP(reply.SubnetGatewayAddr)
	if gateway == nil || !subnet.Contains(gateway) {
		return cnitypes.Result{}, nil, bad("gateway %q is not in %s", reply.SubnetGatewayAddr, reply.SubnetCIDR)
	}
	mac, err := net.ParseMAC(reply.MacAddr)
	if err != nil || len(mac) != 6 {
		return cnitypes.Result{}, nil, bad("MacAddr %q", reply.MacAddr)
	}
	v4 := ip.To4() != nil
	if v4 {
		ip, gateway = ip.To4(), gateway.To4()
	}
	result := cnitypes.Result{IPs: []cnitypes.IPConfig{{Address: net.IPNet{IP: ip, Mask: subnet.Mask}, Gateway: gateway}}}
	if routes == nil {
		if v4 {
			routes = []net.IPNet{{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}}
		} else {
			routes = []net.IPNet{{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}}
		}
	}
	for _, dst := range routes {
		if (dst.IP.To4() != nil) != v4 {
			continue
		}
		result.Routes = append(result.Routes, cnitypes.Route{Dst: dst, GW: gateway})
	}
	return result, mac, nil
}

// del releases what the pod holds, unless another sandbox of the same pod still uses it.
// Without a state file (ADD never finished here, or the state was lost) it asks IPResMgr what
// the pod (K8S_POD_UID) holds; it never asks the Kubernetes API, the pod may be gone.
func (c *call) del(ctx context.Context) error {
	env := c.p.env
	entry, err := c.store.Load(c.conf.Name, env.ContainerID, env.IfName)
	if err != nil {
		return stateError(err)
	}
	podUID := c.args.UID
	if entry != nil {
		podUID = entry.PodUID
	}
	if podUID == "" {
		c.p.logf("no state for this container and no K8S_POD_UID in CNI_ARGS: nothing known to release")
		return nil
	}
	others, err := c.store.OthersOfPod(c.conf.Name, podUID, env.ContainerID, env.IfName)
	if err != nil {
		return stateError(err)
	}
	if len(others) > 0 {
		c.p.logf("pod %s still has container %s interface %s in network %s on this node: its address stays bound",
			podUID, others[0].ContainerID, others[0].IfName, others[0].Network)
		return c.removeState()
	}
	svc, err := c.service()
	if err != nil {
		return err
	}
	reqID := c.reqID()
	var targets []service.Address
	if entry != nil {
		targets = []service.Address{{
			IP: entry.IP, K8SNamespace: entry.PodNamespace, K8SApiResourceKind: entry.Kind,
			K8SApiResourceName: entry.WorkloadName, K8SApiResourceID: entry.WorkloadUID, K8SClusterID: entry.ClusterID,
		}}
	} else {
		held, err := svc.AddressesOfPod(ctx, reqID, c.ipam.ClusterID, podUID)
		if err != nil {
			return err
		}
		for _, address := range held {
			if address.State == "bound" && address.K8SPodID != nil && *address.K8SPodID == podUID &&
				(c.args.Namespace == "" || address.K8SNamespace == c.args.Namespace) {
				targets = append(targets, address)
			}
		}
		if len(targets) == 0 {
			c.p.logf("pod %s holds no address in IPResMgr: nothing to release", podUID)
		}
	}
	for _, target := range targets {
		clusterID := target.K8SClusterID
		if clusterID == "" {
			clusterID = c.ipam.ClusterID
		}
		reply, err := svc.Release(ctx, reqID, service.WorkloadRef{
			K8SApiResourceKind: target.K8SApiResourceKind,
			K8SClusterID:       clusterID,
			K8SNamespace:       target.K8SNamespace,
			K8SApiResourceID:   target.K8SApiResourceID,
			K8SApiResourceName: target.K8SApiResourceName,
			K8SPodID:           podUID,
		}, target.IP)
		var refused *service.Refused
		switch {
		case errors.As(err, &refused) && refused.Code == service.CodeAddressConflict:
			c.p.logf("%s is bound to another pod now; nothing of pod %s to release (%s)", target.IP, podUID, refused.Msg)
		case err != nil:
			// The state stays: the runtime's next DEL tries again.
			cniErr := *ToCNIError(err)
			cniErr.Details = strings.TrimPrefix(cniErr.Details+"; ", "; ") +
				fmt.Sprintf("DEL failed: %s stays bound to pod %s until a DEL succeeds", target.IP, podUID)
			return &cniErr
		default:
			c.p.logf("released %s of pod %s: %s (ReqID %s)", target.IP, podUID, reply.Msg, reply.ReqID)
		}
	}
	return c.removeState()
}

func (c *call) removeState() error {
	if err := c.store.Remove(c.conf.Name, c.p.env.ContainerID, c.p.env.IfName); err != nil {
		return stateError(err)
	}
	return nil
}

// check: the pod still holds, in IPResMgr, every address of prevResult (bound to its UID), and
// with setMAC the interface still has the address's MAC.
func (c *call) check(ctx context.Context) error {
	if !cnitypes.AtLeast(c.conf.CNIVersion, "0.4.0") {
		return cnitypes.Errorf(cnitypes.ErrIncompatibleVersion, "CHECK needs cniVersion 0.4.0 or later, not %s", c.conf.CNIVersion)
	}
	prev, err := cnitypes.ParsePrevResult(c.conf.PrevResult)
	if err != nil {
		return cnitypes.Errorf(cnitypes.ErrDecodingFailure, "%v", err)
	}
	if prev == nil || len(prev.IPs) == 0 {
		return cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, "CHECK needs a prevResult with the pod's address")
	}
	env := c.p.env
	entry, err := c.store.Load(c.conf.Name, env.ContainerID, env.IfName)
	if err != nil {
		return stateError(err)
	}
	podUID := c.args.UID
	if entry != nil {
		podUID = entry.PodUID
	}
	if podUID == "" {
		return cnitypes.Errorf(cnitypes.ErrInvalidEnvironment, "CHECK: no state for this container and no K8S_POD_UID in CNI_ARGS")
	}
	svc, err := c.service()
	if err != nil {
		return err
	}
	held, err := svc.AddressesOfPod(ctx, c.reqID(), c.ipam.ClusterID, podUID)
	if err != nil {
		return err
	}
	var mine *service.Address
	for _, want := range prev.IPs {
		mine = nil
		for i := range held {
			a := &held[i]
			if a.State == "bound" && a.K8SPodID != nil && *a.K8SPodID == podUID && net.ParseIP(a.IP).Equal(want.IP) {
				mine = a
			}
		}
		if mine == nil {
			return cnitypes.Errorf(cnitypes.ErrCheckFailed, "pod %s no longer holds %s in IPResMgr", podUID, want.IP)
		}
	}
	if c.ipam.SetMAC {
		mac, err := c.p.Links.GetMAC(env.Netns, env.IfName)
		if err != nil {
			return cnitypes.Errorf(cnitypes.ErrInterface, "CHECK: %v", err)
		}
		if !strings.EqualFold(mac.String(), mine.MacAddr) {
			return cnitypes.Errorf(cnitypes.ErrCheckFailed, "interface %s has MAC %s, IPResMgr's address %s has %s",
				env.IfName, mac, mine.IP, mine.MacAddr)
		}
	}
	return nil
}

// ToCNIError maps any failure to a CNI error: IPResMgr Code 50 and no answer from IPResMgr or
// the Kubernetes API to 11 (try again later); IPResMgr's other codes to 200+Code, its Code and
// Msg in msg and details; the Kubernetes API's refusals to 100 (a missing or re-created pod to 3);
// unsupported workloads to 101.
func ToCNIError(err error) *cnitypes.Error {
	var (
		cniErr      *cnitypes.Error
		gaveUp      *retry.GaveUp
		refused     *service.Refused
		unavailable *service.Unavailable
		apiErr      *kube.APIError
		unsupported *kube.Unsupported
		mismatch    *kube.Mismatch
	)
	switch {
	case errors.As(err, &cniErr):
		return cniErr
	case errors.As(err, &gaveUp):
		out := &cnitypes.Error{Code: cnitypes.ErrTryAgainLater, Msg: gaveUp.Last.Error(),
			Details: fmt.Sprintf("gave up after %d attempts in %.1fs (ipam.timeoutSeconds); the runtime retries", gaveUp.Attempts, gaveUp.Elapsed.Seconds())}
		if errors.As(gaveUp.Last, &unavailable) && unavailable.Code != 0 {
			out.Details = fmt.Sprintf("IPResMgr Code %d: %s; ", unavailable.Code, unavailable.Detail) + out.Details
		}
		return out
	case errors.As(err, &refused):
		return &cnitypes.Error{Code: uint(cnitypes.ErrServiceBase + refused.Code), Msg: refused.Error(),
			Details: fmt.Sprintf("IPResMgr Code %d: %s", refused.Code, refused.Msg)}
	case errors.As(err, &unavailable):
		return &cnitypes.Error{Code: cnitypes.ErrTryAgainLater, Msg: unavailable.Error()}
	case errors.As(err, &mismatch):
		return &cnitypes.Error{Code: cnitypes.ErrUnknownContainer, Msg: mismatch.Msg}
	case errors.As(err, &apiErr):
		if apiErr.Status == 404 {
			return &cnitypes.Error{Code: cnitypes.ErrKubernetes, Msg: apiErr.Error(), Details: "an owner of the pod is gone"}
		}
		return &cnitypes.Error{Code: cnitypes.ErrKubernetes, Msg: apiErr.Error()}
	case errors.As(err, &unsupported):
		return &cnitypes.Error{Code: cnitypes.ErrUnsupportedWorkload, Msg: unsupported.Msg}
	}
	return &cnitypes.Error{Code: 999, Msg: err.Error()}
}
