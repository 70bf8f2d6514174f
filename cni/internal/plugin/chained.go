package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/probe"
	"ipresmgr.local/cni/internal/service"
	"ipresmgr.local/cni/internal/state"
)

// chained is the plugin as a conflist entry after the main plugin ({"type": "ipresmgr-ipam"}),
// as the standard `tuning` plugin is: it runs when the main plugin has created and configured
// the pod's interface, which the IPAM half (called by the main plugin before that) cannot see.
// ADD sets the interface's MAC to the one IPResMgr gave the pod (from the state the IPAM ADD
// wrote a moment before), probes the address on the wire, announces it, and answers the main
// plugin's result with the interface's "mac" corrected, so every plugin's CHECK against the
// runtime's cached result matches the interface. An address another host answers for is
// released to IPResMgr as a conflict (quarantined) and the ADD fails. CHECK verifies the MAC.
// DEL has nothing to undo (the IPAM DEL releases).
func (p *Plugin) chained(conf *config.NetConf) error {
	if p.command == "DEL" {
		return nil
	}
	if conf.PrevResult == nil {
		return errorf(types.ErrInvalidNetworkConfig,
			"as a chained plugin ipresmgr-ipam needs a prevResult: list it after the main plugin in a conflist")
	}
	dir, cerr := config.ChainedStateDir(p.args.StdinData)
	if cerr != nil {
		return cerr
	}
	store := state.Store{Dir: dir}
	entry, err := store.Load(conf.Name, p.args.ContainerID, p.args.IfName)
	if err != nil {
		return stateError(err)
	}
	if entry == nil {
		code := uint(types.ErrInvalidNetworkConfig)
		if p.command == "CHECK" {
			code = ErrCheckFailed
		}
		return errorf(code, "no ipresmgr-ipam state for container %s interface %s in network %q "+
			"(is ipresmgr-ipam the main plugin's ipam type, with the same stateDir?)", p.args.ContainerID, p.args.IfName, conf.Name)
	}
	p.openLog(entry.LogFile)
	mac, err := net.ParseMAC(entry.MacAddr)
	if err != nil {
		return errorf(types.ErrIOFailure, "state: MAC %q: %v", entry.MacAddr, err)
	}
	if p.command == "CHECK" {
		got, err := p.Links.GetMAC(p.args.Netns, p.args.IfName)
		if err != nil {
			return errorf(ErrInterface, "CHECK: %v", err)
		}
		if !strings.EqualFold(got.String(), mac.String()) {
			return errorf(ErrCheckFailed, "interface %s has MAC %s, IPResMgr gave the pod %s", p.args.IfName, got, mac)
		}
		return nil
	}
	result, err := types100.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return errorf(types.ErrDecodingFailure, "prevResult: %v", err)
	}
	if err := p.Links.SetMAC(p.args.Netns, p.args.IfName, mac); err != nil {
		return errorf(ErrInterface, "%v", err)
	}
	p.logf("set the MAC of %s to %s (pod %s/%s)", p.args.IfName, mac, entry.PodNamespace, entry.PodName)
	if err := p.guard(store, entry); err != nil {
		return err
	}
	for _, iface := range result.Interfaces {
		if iface.Name == p.args.IfName && iface.Sandbox == p.args.Netns {
			iface.Mac = mac.String()
		}
	}
	return printResult(result, conf.CNIVersion)
}

// guard probes the pod's address (the state's probe time; 0: neither probe nor announcement).
// On a conflict it releases the address with Conflict, so IPResMgr quarantines it, removes the
// state (the binding is over) and fails, naming the address and the MAC that answered.
func (p *Plugin) guard(store state.Store, entry *state.Entry) error {
	wait := config.DefaultProbe
	if entry.ProbeMillis != nil {
		wait = time.Duration(*entry.ProbeMillis) * time.Millisecond
	}
	ip := net.ParseIP(entry.IP)
	if wait == 0 || ip == nil {
		return nil
	}
	started := time.Now()
	err := p.Links.Guard(p.args.Netns, p.args.IfName, []net.IP{ip}, wait)
	var conflict *probe.Conflict
	if !errors.As(err, &conflict) {
		if err != nil {
			return errorf(ErrInterface, "probing %s on %s: %v", ip, p.args.IfName, err)
		}
		p.logf("no other host answers for %s (probed %s); announced it", ip, time.Since(started).Round(time.Millisecond))
		return nil
	}
	p.logf("%v: releasing it to IPResMgr as a conflict", conflict)
	msg := fmt.Sprintf("%s is in use on the wire by %s", ip, macOrUnknown(conflict.MAC))
	if err := p.releaseConflict(entry, conflict); err != nil {
		cniErr := *ToCNIError(err)
		cniErr.Details = strings.TrimPrefix(cniErr.Details+"; ", "; ") + msg +
			": it could not be quarantined; it stays bound to the pod until the runtime's DEL releases it"
		return &cniErr
	}
	if err := store.Remove(entry.Network, entry.ContainerID, entry.IfName); err != nil {
		return stateError(err)
	}
	return types.NewError(ErrAddressInUse, msg,
		"IPResMgr quarantined it (manage.py list_quarantine / clear_quarantine); the runtime's retry gets another address")
}

func macOrUnknown(mac net.HardwareAddr) string {
	if len(mac) == 0 {
		return "another host (duplicate address detection failed; no MAC seen)"
	}
	return mac.String()
}

func (p *Plugin) releaseConflict(entry *state.Entry, conflict *probe.Conflict) error {
	if entry.ServiceURL == "" {
		return errorf(types.ErrIOFailure, "the state file has no serviceURL (written by an older ipresmgr-ipam)")
	}
	timeout := time.Duration(entry.TimeoutSeconds * float64(time.Second))
	if timeout <= 0 {
		timeout = config.DefaultTimeout
	}
	request := time.Duration(entry.RequestSeconds * float64(time.Second))
	if request <= 0 || request > timeout {
		request = timeout
	}
	client, err := service.NewClient(entry.ServiceURL, entry.TokenFile, entry.ServiceCAFile, request)
	if err != nil {
		return errorf(types.ErrInvalidNetworkConfig, "%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	mac := ""
	if len(conflict.MAC) > 0 {
		mac = conflict.MAC.String()
	}
	reply, err := client.WithRetry(p.policy()).ReleaseConflict(ctx, (&call{p: p}).reqID(), service.WorkloadRef{
		K8SApiResourceKind: entry.Kind,
		K8SClusterID:       entry.ClusterID,
		K8SNamespace:       entry.PodNamespace,
		K8SApiResourceID:   entry.WorkloadUID,
		K8SApiResourceName: entry.WorkloadName,
		K8SPodID:           entry.PodUID,
	}, entry.IP, mac)
	if err != nil {
		return err
	}
	p.logf("released %s as a conflict: %s (ReqID %s)", entry.IP, reply.Msg, reply.ReqID)
	return nil
}
