// Command ipresmgr-cnirun is a minimal container runtime's network half, for the end-to-end
// test: it drives a conflist through libcni (github.com/containernetworking/cni/libcni), the
// library containerd and CRI-O call plugins with, so the plugins run exactly as there: the
// conflist's entries in order with each one's prevResult, the result cached for CHECK and DEL.
//
//	ipresmgr-cnirun add|check|del CONFLIST NETNS CONTAINER_ID IFNAME [K8S_ARGS]
//
// CNI_PATH names the plugin directories (colon-separated); CNI_CACHE_DIR the result cache
// (default libcni's /var/lib/cni). K8S_ARGS is "K=V;K=V" as kubelet's runtime passes it. ADD prints
// the result; a failure prints the plugin's error object ({"code", "msg", "details"}) and exits 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
)

func main() {
	if len(os.Args) < 6 {
		fmt.Fprintln(os.Stderr, "usage: ipresmgr-cnirun add|check|del CONFLIST NETNS CONTAINER_ID IFNAME [K8S_ARGS]")
		os.Exit(2)
	}
	command, file, netns, containerID, ifName := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		fail(err)
	}
	runtime := &libcni.RuntimeConf{ContainerID: containerID, NetNS: netns, IfName: ifName}
	if len(os.Args) > 6 {
		for _, pair := range strings.Split(os.Args[6], ";") {
			if key, value, ok := strings.Cut(pair, "="); ok {
				runtime.Args = append(runtime.Args, [2]string{key, value})
			}
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), os.Getenv("CNI_CACHE_DIR"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // kubelet's runtime request timeout
	defer cancel()
	switch command {
	case "add":
		result, err := cni.AddNetworkList(ctx, list, runtime)
		if err != nil {
			fail(err)
		}
		if err := result.Print(); err != nil {
			fail(err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, runtime)
	case "del":
		err = cni.DelNetworkList(ctx, list, runtime)
	default:
		err = fmt.Errorf("unknown command %q", command)
	}
	if err != nil {
		fail(err)
	}
}

// fail prints the plugin's error object as libcni returned it (a *types.Error), else a code-999 one.
func fail(err error) {
	var cniErr *types.Error
	if !errors.As(err, &cniErr) {
		cniErr = types.NewError(types.ErrInternal, err.Error(), "")
	}
	out, _ := json.Marshal(cniErr)
	fmt.Println(string(out))
	os.Exit(1)
}
