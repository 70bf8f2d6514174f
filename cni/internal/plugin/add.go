// ADD: the pod's address required from IPResMgr for its workload, recorded, answered as the IPAM result.

package plugin

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"ipresmgr.local/cni/internal/kube"
	"ipresmgr.local/cni/internal/service"
	"ipresmgr.local/cni/internal/state"
)

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
