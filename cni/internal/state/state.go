// Package state keeps, per network and container interface, what ADD resolved and was given: the
// pod, its workload and its address. DEL reads it, so it needs neither the Kubernetes API (the
// pod may be gone) nor CNI_ARGS; it is removed when DEL has released the address.
//
// Layout: <stateDir>/<network name>/<container id>.<ifname>.json, written atomically.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Entry is one container interface's record.
type Entry struct {
	Version      int    `json:"version"`
	Network      string `json:"network"`
	ContainerID  string `json:"containerID"`
	IfName       string `json:"ifName"`
	ClusterID    string `json:"clusterID"`
	PodNamespace string `json:"podNamespace"`
	PodName      string `json:"podName"`
	PodUID       string `json:"podUID"`
	Kind         int    `json:"kind"`
	WorkloadName string `json:"workloadName"`
	WorkloadUID  string `json:"workloadUID"`
	IP           string `json:"ip"`
	MacAddr      string `json:"macAddr"`
	Gateway      string `json:"gateway"`
	CIDR         string `json:"cidr"`

	// How the chained entry, which sees only its own conflist entry, guards the address and
	// reports a conflict: the ipam section's probe time and IPResMgr's URL and credentials.
	ProbeMillis    *int    `json:"probeMillis,omitempty"` // nil: a state file of an older plugin (the default)
	ServiceURL     string  `json:"serviceURL,omitempty"`
	TokenFile      string  `json:"tokenFile,omitempty"`
	ServiceCAFile  string  `json:"serviceCAFile,omitempty"`
	TimeoutSeconds float64 `json:"timeoutSeconds,omitempty"`
	RequestSeconds float64 `json:"requestTimeoutSeconds,omitempty"`
	LogFile        string  `json:"logFile,omitempty"` // the ipam section's: the chained entry logs there too
}

const suffix = ".json"

// Store is a state directory.
type Store struct {
	Dir string
}

func (s Store) path(network, containerID, ifName string) string {
	return filepath.Join(s.Dir, network, containerID+"."+ifName+suffix)
}

// Load reads the entry of a container interface; nil, nil when there is none.
func (s Store) Load(network, containerID, ifName string) (*Entry, error) {
	data, err := os.ReadFile(s.path(network, containerID, ifName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var entry Entry
	if err := json.Unmarshal(data, &entry); err != nil {
		return nil, fmt.Errorf("state file %s: %w", s.path(network, containerID, ifName), err)
	}
	return &entry, nil
}

// Save writes the entry atomically (a temporary file renamed over the old one).
func (s Store) Save(entry Entry) error {
	entry.Version = 1
	dir := filepath.Join(s.Dir, entry.Network)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(entry, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path(entry.Network, entry.ContainerID, entry.IfName))
}

// Remove deletes a container interface's entry; a missing one is fine.
func (s Store) Remove(network, containerID, ifName string) error {
	err := os.Remove(s.path(network, containerID, ifName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// OthersOfPod lists the entries, in any network, of the same pod UID but another container or
// interface: the pod's sandbox was re-created, and the newer one holds the same address (IPResMgr
// binds one address per pod, whatever the network or interface).
func (s Store) OthersOfPod(network, podUID, containerID, ifName string) ([]Entry, error) {
	if podUID == "" {
		return nil, nil
	}
	networks, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	own := filepath.Join(network, containerID+"."+ifName+suffix)
	var out []Entry
	for _, dir := range networks {
		if !dir.IsDir() {
			continue
		}
		names, err := os.ReadDir(filepath.Join(s.Dir, dir.Name()))
		if err != nil {
			continue // removed meanwhile
		}
		for _, name := range names {
			if name.IsDir() || !strings.HasSuffix(name.Name(), suffix) || strings.HasPrefix(name.Name(), ".") ||
				filepath.Join(dir.Name(), name.Name()) == own {
				continue
			}
			data, err := os.ReadFile(filepath.Join(s.Dir, dir.Name(), name.Name()))
			if err != nil {
				continue // removed meanwhile
			}
			var entry Entry
			if json.Unmarshal(data, &entry) == nil && entry.PodUID == podUID {
				out = append(out, entry)
			}
		}
	}
	return out, nil
}
