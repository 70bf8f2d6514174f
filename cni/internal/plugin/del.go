// DEL: the pod's address released, unless another sandbox of the same pod still uses it.

package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"ipresmgr.local/cni/internal/service"
)

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
