// Package config reads what the runtime hands the plugin beyond what pkg/skel checks: the
// network configuration's `ipam` section (merged over an optional settings file) and the pod
// identity in CNI_ARGS (read with types.LoadArgs, as libcni's own plugins do).
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// PluginType is the `type` the ipam section names (the binary's name in CNI_PATH).
const PluginType = "ipresmgr-ipam"

// DefaultConfigFile is read, when it exists, for the keys the ipam section leaves out (the
// DaemonSet's installer writes it). The ipam section's `configFile` names another file.
var DefaultConfigFile = "/etc/cni/net.d/ipresmgr.d/ipresmgr.conf"

// Defaults for the optional keys.
const (
	DefaultStateDir       = "/var/lib/cni/ipresmgr"
	DefaultTimeout        = 30 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultProbe          = 300 * time.Millisecond
	MaxProbe              = 10 * time.Second
)

// NetConf is the network configuration: the specification's keys (types.NetConf, with the
// prevResult parsed by version.ParsePrevResult) and the raw ipam section, whose keys are ours.
type NetConf struct {
	types.NetConf
	IPAM json.RawMessage `json:"ipam"`
}

// KubernetesAPI are explicit Kubernetes API credentials, instead of a kubeconfig.
type KubernetesAPI struct {
	APIURL    string `json:"apiURL"`
	TokenFile string `json:"tokenFile"`
	CAFile    string `json:"caFile"`
}

func errorf(code uint, format string, args ...interface{}) *types.Error {
	return types.NewError(code, fmt.Sprintf(format, args...), "")
}

func invalid(format string, args ...interface{}) *types.Error {
	return errorf(types.ErrInvalidNetworkConfig, format, args...)
}

// ParseNetConf decodes stdin (pkg/skel has checked the version and the network name) and
// parses its prevResult into the library's result type.
func ParseNetConf(stdin []byte) (*NetConf, *types.Error) {
	var conf NetConf
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return nil, errorf(types.ErrDecodingFailure, "network configuration on stdin is not JSON: %v", err)
	}
	if err := version.ParsePrevResult(&conf.NetConf); err != nil {
		return &conf, errorf(types.ErrDecodingFailure, "prevResult: %v", err)
	}
	return &conf, nil
}

// ChainedStateDir is the state directory of the plugin run as a chained plugin (a conflist
// entry after the main plugin): the entry's stateDir, else the settings file's (the entry's
// configFile, else DefaultConfigFile when it exists), else DefaultStateDir. Other keys of the
// entry are left alone: the runtime adds its own (runtimeConfig, args, capabilities).
func ChainedStateDir(stdin []byte) (string, *types.Error) {
	var entry struct {
		StateDir   string `json:"stateDir"`
		ConfigFile string `json:"configFile"`
	}
	if err := json.Unmarshal(stdin, &entry); err != nil {
		return "", invalid("chained plugin configuration: %v", err)
	}
	dir := entry.StateDir
	if dir == "" {
		file := entry.ConfigFile
		if file == "" {
			if _, err := os.Stat(DefaultConfigFile); err == nil {
				file = DefaultConfigFile
			}
		}
		if file != "" {
			data, err := os.ReadFile(file)
			if err != nil {
				return "", invalid("configFile: %v", err)
			}
			var settings struct {
				StateDir string `json:"stateDir"`
			}
			if err := json.Unmarshal(data, &settings); err != nil {
				return "", invalid("settings file %s: %v", file, err)
			}
			dir = settings.StateDir
		}
	}
	if dir == "" {
		dir = DefaultStateDir
	}
	if !filepath.IsAbs(dir) {
		return "", invalid("stateDir %q must be an absolute path", dir)
	}
	return dir, nil
}
