// Errors as CNI errors with their codes.

package plugin

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"ipresmgr.local/cni/internal/kube"
	"ipresmgr.local/cni/internal/retry"
	"ipresmgr.local/cni/internal/service"
)

func TestToCNIError(t *testing.T) {
	cases := []struct {
		err  error
		code uint
		text string
	}{
		{&retry.GaveUp{Attempts: 3, Last: &service.Unavailable{Op: "require", Code: 50, Detail: "database unavailable"}}, 11, "IPResMgr Code 50"},
		{&retry.GaveUp{Attempts: 3, Last: errors.New("Kubernetes API unreachable: refused")}, 11, "Kubernetes API unreachable"},
		{&service.Refused{Op: "require", Code: 30, Msg: "every address is bound"}, 230, "IPResMgr Code 30: every address is bound"},
		{&service.Refused{Op: "require", Code: 3, Msg: "token may not act on c2"}, 203, "Code 3"},
		{&kube.Unsupported{Msg: "DaemonSet"}, 101, "DaemonSet"},
		{&kube.Mismatch{Msg: "re-created"}, 3, "re-created"},
		{&kube.APIError{Status: 403, Message: "forbidden"}, 100, "need get on pods"},
		{types.NewError(5, "disk", ""), 5, "disk"},
		{errors.New("surprise"), 999, "surprise"},
	}
	for _, c := range cases {
		got := ToCNIError(c.err)
		if got.Code != c.code || !strings.Contains(got.Msg+" "+got.Details+" "+got.Error(), c.text) {
			t.Errorf("%v: got %d %q / %q", c.err, got.Code, got.Msg, got.Details)
		}
	}
}
