// CHECK: the pod still holds the addresses of its prevResult.

package plugin

import (
	"context"
	"net"

	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"

	"ipresmgr.local/cni/internal/service"
)

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
