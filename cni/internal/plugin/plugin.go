// Package plugin is the IPAM plugin's commands, dispatched by pkg/skel: ADD requires the pod's
// address from IPResMgr for the workload its owner chain names, DEL releases it, CHECK verifies
// the pod still holds it; VERSION is skel's. The same binary listed after the main plugin in a
// conflist (chained.go) sets IPResMgr's MAC, probes the address on the wire and announces it.
// Every failure is a CNI error with a code (errors.go).
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

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/kube"
	"ipresmgr.local/cni/internal/kubeconfig"
	"ipresmgr.local/cni/internal/retry"
	"ipresmgr.local/cni/internal/service"
	"ipresmgr.local/cni/internal/state"
)

// Versions are the cniVersion values the plugin serves. 0.1.0 and 0.2.0 used another result
// shape (ip4/ip6 keys) and are not offered.
var Versions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0")

// Links acts on the pod's interface inside its network namespace (podnet on Linux; a fake in tests).
type Links interface {
	SetMAC(netns, ifName string, mac net.HardwareAddr) error
	GetMAC(netns, ifName string) (net.HardwareAddr, error)
	// Guard probes each address for wait, then announces them; a *probe.Conflict if another host answers.
	Guard(netns, ifName string, ips []net.IP, wait time.Duration) error
}

// Plugin is one invocation: where it logs and how it reaches the pod's interface.
type Plugin struct {
	Stderr io.Writer
	Links  Links
	Retry  *retry.Policy // nil: retry.Default
	Name   string        // the binary's name: a network entry of this type runs the chained mode

	args    *skel.CmdArgs
	command string
	version string // the configuration's cniVersion, for the error object
	log     []io.Writer
	logFile *os.File
}

// Main runs the command pkg/skel reads from the environment and stdin, prints the result or
// the error object on stdout and returns the exit status.
func (p *Plugin) Main(about string) int {
	cniErr := skel.PluginMainWithError(p.add, p.check, p.del, Versions, about)
	if p.logFile != nil {
		defer p.logFile.Close()
	}
	if cniErr == nil {
		return 0
	}
	if p.command == "" && p.Stderr != nil {
		fmt.Fprintf(p.Stderr, "ipresmgr-ipam: code %d: %s\n", cniErr.Code, cniErr.Error())
	}
	errVersion := p.version
	if errVersion == "" {
		errVersion = version.Current()
	}
	// The specification's error object carries cniVersion; libcni's types.Error leaves it out.
	out, _ := json.Marshal(struct {
		CNIVersion string `json:"cniVersion"`
		*types.Error
	}{errVersion, cniErr})
	_, _ = os.Stdout.Write(append(out, '\n'))
	return 1
}

func (p *Plugin) add(args *skel.CmdArgs) error   { return p.run("ADD", args) }
func (p *Plugin) del(args *skel.CmdArgs) error   { return p.run("DEL", args) }
func (p *Plugin) check(args *skel.CmdArgs) error { return p.run("CHECK", args) }

func (p *Plugin) run(command string, args *skel.CmdArgs) error {
	p.command, p.args = command, args
	if p.Stderr != nil {
		p.log = append(p.log, p.Stderr)
	}
	err := p.dispatch()
	if err != nil {
		cniErr := ToCNIError(err)
		p.logf("failed: code %d: %s", cniErr.Code, cniErr.Error())
		return cniErr
	}
	return nil
}

func (p *Plugin) dispatch() error {
	conf, cerr := config.ParseNetConf(p.args.StdinData)
	if conf != nil {
		p.version = conf.CNIVersion
	}
	if cerr != nil {
		return cerr
	}
	if conf.Type == config.PluginType || (p.Name != "" && conf.Type == p.Name) {
		return p.chained(conf)
	}
	if len(conf.IPAM) == 0 {
		return errorf(types.ErrInvalidNetworkConfig, "network configuration has no ipam section")
	}
	ipam, cerr := config.ParseIPAM(conf.IPAM)
	if cerr != nil {
		return cerr
	}
	p.openLog(ipam.LogFile)
	podArgs, cerr := config.ParseArgs(p.args.Args)
	if cerr != nil {
		return cerr
	}
	ctx, cancel := context.WithTimeout(context.Background(), ipam.Timeout)
	defer cancel()
	call := &call{p: p, conf: conf, ipam: ipam, args: podArgs, store: state.Store{Dir: ipam.StateDir}}
	switch p.command {
	case "ADD":
		result, err := call.add(ctx)
		if err != nil {
			return err
		}
		return printResult(result, conf.CNIVersion)
	case "DEL":
		return call.del(ctx)
	default:
		return call.check(ctx)
	}
}

// printResult prints the result on stdout in the configuration's version.
func printResult(result types.Result, cniVersion string) error {
	if err := types.PrintResult(result, cniVersion); err != nil {
		return errorf(types.ErrIncompatibleCNIVersion, "result in cniVersion %s: %v", cniVersion, err)
	}
	return nil
}

// openLog adds the log file (the ipam section's logFile) to where log lines go.
func (p *Plugin) openLog(path string) {
	if path == "" || p.logFile != nil {
		return
	}
	if file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		p.logFile = file
		p.log = append(p.log, file)
	}
}

func (p *Plugin) logf(format string, args ...interface{}) {
	line := fmt.Sprintf("%s ipresmgr-ipam %s %s/%s: %s\n", time.Now().UTC().Format(time.RFC3339),
		p.command, p.args.ContainerID, p.args.IfName, fmt.Sprintf(format, args...))
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
	container := c.p.args.ContainerID
	if len(container) > 12 {
		container = container[:12]
	}
	return fmt.Sprintf("cni-%s-%s-%s", strings.ToLower(c.p.command), container, hex.EncodeToString(random))
}

func (c *call) service() (*service.Client, error) {
	if _, err := os.ReadFile(c.ipam.TokenFile); err != nil {
		return nil, errorf(types.ErrInvalidNetworkConfig, "ipam.tokenFile: %v", err)
	}
	client, err := service.NewClient(c.ipam.ServiceURL, c.ipam.TokenFile, c.ipam.ServiceCAFile, c.ipam.RequestTimeout)
	if err != nil {
		return nil, errorf(types.ErrInvalidNetworkConfig, "%v", err)
	}
	return client.WithRetry(c.p.policy()), nil
}

func (c *call) kube() (*kube.Client, error) {
	var creds *kubeconfig.Credentials
	if c.ipam.Kubeconfig != "" {
		loaded, err := kubeconfig.Load(c.ipam.Kubeconfig)
		if err != nil {
			return nil, errorf(types.ErrInvalidNetworkConfig, "ipam.kubeconfig: %v", err)
		}
		creds = loaded
	} else {
		k := c.ipam.Kubernetes
		creds = &kubeconfig.Credentials{Server: k.APIURL, TokenFile: k.TokenFile}
		if k.CAFile != "" {
			ca, err := os.ReadFile(k.CAFile)
			if err != nil {
				return nil, errorf(types.ErrInvalidNetworkConfig, "ipam.kubernetes.caFile: %v", err)
			}
			creds.CAData = ca
		}
	}
	client, err := kube.NewClient(creds, c.ipam.RequestTimeout)
	if err != nil {
		return nil, errorf(types.ErrInvalidNetworkConfig, "%v", err)
	}
	return client.WithRetry(c.p.policy()), nil
}

func stateError(err error) error {
	return errorf(types.ErrIOFailure, "state directory: %v", err)
}

// add: the workload from the state of a retried ADD, else from the pod's owner chain; then
// require, record and answer the result. The chained entry sets the MAC and probes.
func (c *call) add(ctx context.Context) (types.Result, error) {
	if cerr := c.args.RequirePod(); cerr != nil {
		return nil, cerr
	}
	env := c.p.args
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
				return nil, errorf(types.ErrUnknownContainer, "pod %s: %v", c.args, err)
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
	result, _, err := BuildResult(reply, c.ipam.Routes)
	if err != nil {
		return nil, err
	}
	probeMillis := int(c.ipam.Probe.Milliseconds())
	// Recorded before anything else can fail: the runtime's DEL after a failed ADD then finds it.
	err = c.store.Save(state.Entry{
		Network: c.conf.Name, ContainerID: env.ContainerID, IfName: env.IfName, ClusterID: c.ipam.ClusterID,
		PodNamespace: c.args.Namespace, PodName: c.args.Name, PodUID: podUID,
		Kind: workload.Kind, WorkloadName: workload.Name, WorkloadUID: workload.UID,
		IP: reply.IP, MacAddr: reply.MacAddr, Gateway: reply.SubnetGatewayAddr, CIDR: reply.SubnetCIDR,
		ProbeMillis: &probeMillis, ServiceURL: c.ipam.ServiceURL, TokenFile: c.ipam.TokenFile,
		ServiceCAFile: c.ipam.ServiceCAFile, TimeoutSeconds: c.ipam.Timeout.Seconds(), RequestSeconds: c.ipam.RequestTimeout.Seconds(),
		LogFile: c.ipam.LogFile,
	})
	if err != nil {
		return nil, stateError(err)
	}
	c.p.logf("pod %s has %s/%s gateway %s mac %s (%s, ReqID %s)", c.args, reply.IP, prefixOf(reply.SubnetCIDR),
		reply.SubnetGatewayAddr, reply.MacAddr, reply.Msg, reply.ReqID)
	return result, nil
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
func BuildResult(reply *service.Reply, routes []net.IPNet) (*types100.Result, net.HardwareAddr, error) {
	bad := func(format string, args ...interface{}) error {
		return errorf(ErrServiceBase+99, "IPResMgr's answer (ReqID %s) is unusable: %s",
			reply.ReqID, fmt.Sprintf(format, args...))
	}
	ip := net.ParseIP(reply.IP)
	if ip == nil {
		return nil, nil, bad("IP %q", reply.IP)
	}
	if reply.SubnetCIDR == "" {
		return nil, nil, bad("no SubnetCIDR (a service older than the CNI plugin?)")
	}
	_, subnet, err := net.ParseCIDR(reply.SubnetCIDR)
	if err != nil || !subnet.Contains(ip) {
		return nil, nil, bad("SubnetCIDR %q does not contain IP %s", reply.SubnetCIDR, reply.IP)
	}
	gateway := net.ParseIP(reply.SubnetGatewayAddr)
	if gateway == nil || !subnet.Contains(gateway) {
		return nil, nil, bad("gateway %q is not in %s", reply.SubnetGatewayAddr, reply.SubnetCIDR)
	}
	mac, err := net.ParseMAC(reply.MacAddr)
	if err != nil || len(mac) != 6 {
		return nil, nil, bad("MacAddr %q", reply.MacAddr)
	}
	v4 := ip.To4() != nil
	if v4 {
		ip, gateway = ip.To4(), gateway.To4()
	}
	result := &types100.Result{
		CNIVersion: types100.ImplementedSpecVersion,
		IPs:        []*types100.IPConfig{{Address: net.IPNet{IP: ip, Mask: subnet.Mask}, Gateway: gateway}},
	}
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
		result.Routes = append(result.Routes, &types.Route{Dst: dst, GW: gateway})
	}
	return result, mac, nil
}

// del releases what the pod holds, unless another sandbox of the same pod still uses it.
// Without a state file (ADD never finished here, or the state was lost) it asks IPResMgr what
// the pod (K8S_POD_UID) holds; it never asks the Kubernetes API, the pod may be gone.
func (c *call) del(ctx context.Context) error {
	env := c.p.args
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
			cniErr := *ToCNIError(err) // a copy: the error may be shared
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
	if err := c.store.Remove(c.conf.Name, c.p.args.ContainerID, c.p.args.IfName); err != nil {
		return stateError(err)
	}
	return nil
}

// check: the pod still holds, in IPResMgr, every address of prevResult (bound to its UID); the
// chained entry's CHECK verifies the MAC.
func (c *call) check(ctx context.Context) error {
	// pkg/skel refused CHECK below cniVersion 0.4.0.
	if c.conf.PrevResult == nil {
		return errorf(types.ErrInvalidNetworkConfig, "CHECK needs a prevResult with the pod's address")
	}
	prev, err := types100.NewResultFromResult(c.conf.PrevResult)
	if err != nil {
		return errorf(types.ErrDecodingFailure, "prevResult: %v", err)
	}
	if len(prev.IPs) == 0 {
		return errorf(types.ErrInvalidNetworkConfig, "CHECK needs a prevResult with the pod's address")
	}
	env := c.p.args
	entry, err := c.store.Load(c.conf.Name, env.ContainerID, env.IfName)
	if err != nil {
		return stateError(err)
	}
	podUID := c.args.UID
	if entry != nil {
		podUID = entry.PodUID
	}
	if podUID == "" {
		return errorf(types.ErrInvalidEnvironmentVariables, "CHECK: no state for this container and no K8S_POD_UID in CNI_ARGS")
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
			if a.State == "bound" && a.K8SPodID != nil && *a.K8SPodID == podUID && net.ParseIP(a.IP).Equal(want.Address.IP) {
				mine = a
			}
		}
		if mine == nil {
			return errorf(ErrCheckFailed, "pod %s no longer holds %s in IPResMgr", podUID, want.Address.IP)
		}
	}
	return nil
}
