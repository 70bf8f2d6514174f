package plugin

import (
	"encoding/json"
	"net"
	"strings"

	"ipresmgr.local/cni/internal/cnitypes"
	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/state"
)

// chained is the plugin as a conflist entry after the main plugin ({"type": "ipresmgr-ipam"}):
// ADD sets the container interface's MAC to the one IPResMgr gave the pod (from the state the
// IPAM ADD wrote a moment before) and answers the main plugin's result with that interface's
// "mac" corrected, so the runtime's result, and every plugin's CHECK against it, match the
// interface. CHECK verifies the MAC. DEL has nothing to undo (the IPAM DEL releases).
func (p *Plugin) chained(conf *config.NetConf) ([]byte, error) {
	if p.env.Command == "DEL" {
		return nil, nil
	}
	if len(conf.PrevResult) == 0 || string(conf.PrevResult) == "null" {
		return nil, cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig,
			"as a chained plugin ipresmgr-ipam needs a prevResult: list it after the main plugin in a conflist")
	}
	dir, cerr := config.ChainedStateDir(p.Stdin)
	if cerr != nil {
		return nil, cerr
	}
	entry, err := state.Store{Dir: dir}.Load(conf.Name, p.env.ContainerID, p.env.IfName)
	if err != nil {
		return nil, stateError(err)
	}
	if entry == nil {
		code := uint(cnitypes.ErrInvalidNetworkConfig)
		if p.env.Command == "CHECK" {
			code = cnitypes.ErrCheckFailed
		}
		return nil, cnitypes.Errorf(code, "no ipresmgr-ipam state for container %s interface %s in network %q "+
			"(is ipresmgr-ipam the main plugin's ipam type, with the same stateDir?)", p.env.ContainerID, p.env.IfName, conf.Name)
	}
	mac, err := net.ParseMAC(entry.MacAddr)
	if err != nil {
		return nil, cnitypes.Errorf(cnitypes.ErrIOFailure, "state: MAC %q: %v", entry.MacAddr, err)
	}
	if p.env.Command == "CHECK" {
		got, err := p.Links.GetMAC(p.env.Netns, p.env.IfName)
		if err != nil {
			return nil, cnitypes.Errorf(cnitypes.ErrInterface, "CHECK: %v", err)
		}
		if !strings.EqualFold(got.String(), mac.String()) {
			return nil, cnitypes.Errorf(cnitypes.ErrCheckFailed, "interface %s has MAC %s, IPResMgr gave the pod %s",
				p.env.IfName, got, mac)
		}
		return nil, nil
	}
	if err := p.Links.SetMAC(p.env.Netns, p.env.IfName, mac); err != nil {
		return nil, cnitypes.Errorf(cnitypes.ErrInterface, "%v", err)
	}
	p.logf("set the MAC of %s to %s (pod %s/%s)", p.env.IfName, mac, entry.PodNamespace, entry.PodName)
	return CorrectMAC(conf.PrevResult, conf.CNIVersion, p.env.IfName, p.env.Netns, mac.String())
}

// CorrectMAC returns prevResult, every other key kept as it was, with cniVersion set and the
// "mac" of the container interface (ifName in sandbox netns) replaced.
func CorrectMAC(prevResult json.RawMessage, version, ifName, netns, mac string) ([]byte, error) {
	var result map[string]json.RawMessage
	if err := json.Unmarshal(prevResult, &result); err != nil || result == nil {
		return nil, cnitypes.Errorf(cnitypes.ErrDecodingFailure, "prevResult is not a JSON object")
	}
	var interfaces []map[string]json.RawMessage
	if raw, ok := result["interfaces"]; ok {
		if err := json.Unmarshal(raw, &interfaces); err != nil {
			return nil, cnitypes.Errorf(cnitypes.ErrDecodingFailure, "prevResult.interfaces: %v", err)
		}
	}
	for _, iface := range interfaces {
		var name, sandbox string
		_ = json.Unmarshal(iface["name"], &name)
		_ = json.Unmarshal(iface["sandbox"], &sandbox)
		if name == ifName && sandbox == netns {
			iface["mac"], _ = json.Marshal(mac)
		}
	}
	if interfaces != nil {
		result["interfaces"], _ = json.Marshal(interfaces)
	}
	result["cniVersion"], _ = json.Marshal(version)
	out, err := json.Marshal(result)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
