package plugin

import (
	"errors"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"

	"ipresmgr.local/cni/internal/kube"
	"ipresmgr.local/cni/internal/retry"
	"ipresmgr.local/cni/internal/service"
)

// Error codes of this plugin, beside the specification's (types.Err*, 1-99).
const (
	ErrKubernetes          = 100 // the Kubernetes API refused (not found, RBAC)
	ErrUnsupportedWorkload = 101 // bare pod, DaemonSet pod, or an owner kind IPResMgr has no pool for
	ErrCheckFailed         = 102 // CHECK: the pod no longer holds its address (or its MAC differs)
	ErrInterface           = 103 // the pod's interface could not be read, set or probed in its namespace
	ErrAddressInUse        = 104 // another host answers for the address IPResMgr gave: quarantined

	// ErrServiceBase plus IPResMgr's Code is the code of a refusal by the service: 201 invalid
	// request, 202 unauthenticated, 203 forbidden, 220 no pool, 230 no address, 212 subnet
	// exhausted, 231 address bound to another pod, 299 internal. Code 50 maps to 11 instead.
	ErrServiceBase = 200
)

// errorf makes a CNI error with a formatted message.
func errorf(code uint, format string, args ...interface{}) *types.Error {
	return types.NewError(code, fmt.Sprintf(format, args...), "")
}

// ToCNIError maps any failure to a CNI error: IPResMgr Code 50 and no answer from IPResMgr or
// the Kubernetes API to 11 (try again later); IPResMgr's other codes to 200+Code, its Code and
// Msg in msg and details; the Kubernetes API's refusals to 100 (a missing or re-created pod to 3);
// unsupported workloads to 101.
func ToCNIError(err error) *types.Error {
	var (
		cniErr      *types.Error
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
		out := types.NewError(types.ErrTryAgainLater, gaveUp.Last.Error(),
			fmt.Sprintf("gave up after %d attempts in %.1fs (ipam.timeoutSeconds); the runtime retries", gaveUp.Attempts, gaveUp.Elapsed.Seconds()))
		if errors.As(gaveUp.Last, &unavailable) && unavailable.Code != 0 {
			out.Details = fmt.Sprintf("IPResMgr Code %d: %s; ", unavailable.Code, unavailable.Detail) + out.Details
		}
		return out
	case errors.As(err, &refused):
		return types.NewError(uint(ErrServiceBase+refused.Code), refused.Error(), fmt.Sprintf("IPResMgr Code %d: %s", refused.Code, refused.Msg))
	case errors.As(err, &unavailable):
		return types.NewError(types.ErrTryAgainLater, unavailable.Error(), "")
	case errors.As(err, &mismatch):
		return types.NewError(types.ErrUnknownContainer, mismatch.Msg, "")
	case errors.As(err, &apiErr):
		if apiErr.Status == 404 {
			return types.NewError(ErrKubernetes, apiErr.Error(), "an owner of the pod is gone")
		}
		return types.NewError(ErrKubernetes, apiErr.Error(), "")
	case errors.As(err, &unsupported):
		return types.NewError(ErrUnsupportedWorkload, unsupported.Msg, "")
	}
	return types.NewError(types.ErrInternal, err.Error(), "")
}
