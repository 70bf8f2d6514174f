// The pod identity in CNI_ARGS.

package config

import (
	"fmt"

	"github.com/containernetworking/cni/pkg/types"
)

// PodArgs is the pod identity kubelet's runtime passes in CNI_ARGS.
type PodArgs struct {
	Namespace        string
	Name             string
	UID              string
	InfraContainerID string
}

// k8sArgs is CNI_ARGS as types.LoadArgs reads it; the field names are the keys.
type k8sArgs struct {
	types.CommonArgs
	K8S_POD_NAMESPACE          types.UnmarshallableString //nolint:revive // the key's spelling
	K8S_POD_NAME               types.UnmarshallableString
	K8S_POD_UID                types.UnmarshallableString
	K8S_POD_INFRA_CONTAINER_ID types.UnmarshallableString
}

// ParseArgs reads CNI_ARGS ("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=n;K8S_POD_UID=u;...").
// As libcni does, an unknown key is refused unless IgnoreUnknown is 1 or true.
func ParseArgs(text string) (PodArgs, *types.Error) {
	var args k8sArgs
	if err := types.LoadArgs(text, &args); err != nil {
		return PodArgs{}, errorf(types.ErrInvalidEnvironmentVariables, "CNI_ARGS: %v", err)
	}
	return PodArgs{
		Namespace: string(args.K8S_POD_NAMESPACE), Name: string(args.K8S_POD_NAME),
		UID: string(args.K8S_POD_UID), InfraContainerID: string(args.K8S_POD_INFRA_CONTAINER_ID),
	}, nil
}

// RequirePod checks that the namespace and name are present (ADD needs them).
func (a PodArgs) RequirePod() *types.Error {
	if a.Namespace == "" || a.Name == "" {
		return errorf(types.ErrInvalidEnvironmentVariables, "CNI_ARGS must name the pod: K8S_POD_NAMESPACE and K8S_POD_NAME (got %q/%q); "+
			"ipresmgr-ipam serves Kubernetes pods only", a.Namespace, a.Name)
	}
	return nil
}

// String names the pod for messages.
func (a PodArgs) String() string {
	if a.UID != "" {
		return fmt.Sprintf("%s/%s (uid %s)", a.Namespace, a.Name, a.UID)
	}
	return a.Namespace + "/" + a.Name
}
