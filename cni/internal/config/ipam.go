// The ipam section: its keys merged over the settings file, and validated.

package config

import (
	"bytes"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// IPAM is the validated ipam configuration.
type IPAM struct {
	ConfigFile     string // the settings file that was merged in, "" if none
	ServiceURL     string
	TokenFile      string
	ServiceCAFile  string
	ClusterID      string
	Kubeconfig     string
	Kubernetes     *KubernetesAPI
	Timeout        time.Duration
	RequestTimeout time.Duration
	StateDir       string
	Probe          time.Duration // conflictProbeMillis; 0: no probe (and no announcement)
	Routes         []net.IPNet   // destinations; nil: a default route of the address's family
	LogFile        string
}

type rawIPAM struct {
	Type                  string         `json:"type"`
	ConfigFile            string         `json:"configFile"`
	ServiceURL            string         `json:"serviceURL"`
	TokenFile             string         `json:"tokenFile"`
	ServiceCAFile         string         `json:"serviceCAFile"`
	ClusterID             string         `json:"clusterID"`
	Kubeconfig            string         `json:"kubeconfig"`
	Kubernetes            *KubernetesAPI `json:"kubernetes"`
	TimeoutSeconds        *float64       `json:"timeoutSeconds"`
	RequestTimeoutSeconds *float64       `json:"requestTimeoutSeconds"`
	StateDir              string         `json:"stateDir"`
	SetMAC                *bool          `json:"setMAC"`
	ConflictProbeMillis   *int           `json:"conflictProbeMillis"`
	Routes                *[]routeConf   `json:"routes"`
	LogFile               string         `json:"logFile"`
}

type routeConf struct {
	Dst string `json:"dst"`
}

// Keys accepted in the ipam section; the settings file takes the same keys but type and configFile.
var knownKeys = map[string]bool{
	"type": true, "configFile": true, "serviceURL": true, "tokenFile": true, "serviceCAFile": true,
	"clusterID": true, "kubeconfig": true, "kubernetes": true, "timeoutSeconds": true,
	"requestTimeoutSeconds": true, "stateDir": true, "setMAC": true, "conflictProbeMillis": true, "routes": true, "logFile": true,
}

var clusterIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

func decodeObject(data []byte, where string) (map[string]json.RawMessage, *types.Error) {
	var object map[string]json.RawMessage
	if err := json.Unmarshal(data, &object); err != nil || object == nil {
		return nil, invalid("%s is not a JSON object", where)
	}
	for key := range object {
		if !knownKeys[key] {
			return nil, errorf(types.ErrUnsupportedField, "%s: unknown key %q (known: %s)", where, key, known())
		}
	}
	return object, nil
}

func known() string {
	keys := make([]string, 0, len(knownKeys))
	for key := range knownKeys {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// ParseIPAM merges the settings file (the section's configFile, else DefaultConfigFile when it
// exists) with the ipam section, whose keys win, and validates the result.
func ParseIPAM(section json.RawMessage) (*IPAM, *types.Error) {
	sectionKeys, cerr := decodeObject(section, "ipam section")
	if cerr != nil {
		return nil, cerr
	}
	file := ""
	if raw, ok := sectionKeys["configFile"]; ok {
		if err := json.Unmarshal(raw, &file); err != nil || file == "" {
			return nil, invalid("ipam.configFile must be a non-empty string")
		}
	} else if _, err := os.Stat(DefaultConfigFile); err == nil {
		file = DefaultConfigFile
	}
	var fileKeys map[string]json.RawMessage
	if file != "" {
		if !filepath.IsAbs(file) {
			return nil, invalid("ipam.configFile %q must be an absolute path", file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, invalid("ipam settings file: %v", err)
		}
		if fileKeys, cerr = settingsKeys(data, file); cerr != nil {
			return nil, cerr
		}
	}
	ipam, cerr := merge(fileKeys, sectionKeys)
	if cerr != nil {
		return nil, cerr
	}
	ipam.ConfigFile = file
	return ipam, nil
}

// ValidateSettings checks a settings file's text as the plugin will read it under an ipam
// section naming nothing else (the installer runs it before writing the file).
func ValidateSettings(data []byte, name string) *types.Error {
	fileKeys, cerr := settingsKeys(data, name)
	if cerr != nil {
		return cerr
	}
	_, cerr = merge(fileKeys, nil)
	return cerr
}

func settingsKeys(data []byte, name string) (map[string]json.RawMessage, *types.Error) {
	fileKeys, cerr := decodeObject(data, "ipam settings file "+name)
	if cerr != nil {
		return nil, cerr
	}
	for _, key := range []string{"type", "configFile"} {
		if _, ok := fileKeys[key]; ok {
			return nil, invalid("ipam settings file %s: %q belongs in the network configuration, not here", name, key)
		}
	}
	return fileKeys, nil
}

// merge overlays the section's keys on the file's and validates.
func merge(fileKeys, sectionKeys map[string]json.RawMessage) (*IPAM, *types.Error) {
	merged := map[string]json.RawMessage{}
	for key, value := range fileKeys {
		merged[key] = value
	}
	for key, value := range sectionKeys {
		merged[key] = value
	}
	mergedJSON, _ := json.Marshal(merged)
	var raw rawIPAM
	decoder := json.NewDecoder(bytes.NewReader(mergedJSON))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&raw); err != nil {
		return nil, invalid("ipam configuration: %v", err)
	}
	return validate(raw)
}

func validate(raw rawIPAM) (*IPAM, *types.Error) {
	out := &IPAM{
		ServiceURL:     strings.TrimRight(raw.ServiceURL, "/"),
		TokenFile:      raw.TokenFile,
		ServiceCAFile:  raw.ServiceCAFile,
		ClusterID:      raw.ClusterID,
		Kubeconfig:     raw.Kubeconfig,
		Kubernetes:     raw.Kubernetes,
		Timeout:        DefaultTimeout,
		RequestTimeout: DefaultRequestTimeout,
		StateDir:       raw.StateDir,
		LogFile:        raw.LogFile,
	}
	if out.ServiceURL == "" {
		return nil, invalid("ipam.serviceURL is required (IPResMgr's base URL, e.g. https://ipresmgr.example.net)")
	}
	parsed, err := url.Parse(out.ServiceURL)
	if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
		return nil, invalid("ipam.serviceURL %q must be an http:// or https:// URL", raw.ServiceURL)
	}
	if parsed.RawQuery != "" || parsed.Fragment != "" {
		return nil, invalid("ipam.serviceURL %q must not carry a query or fragment", raw.ServiceURL)
	}
	if out.TokenFile == "" {
		return nil, invalid("ipam.tokenFile is required (a file holding IPResMgr's cluster token)")
	}
	if !clusterIDPattern.MatchString(out.ClusterID) {
		return nil, invalid("ipam.clusterID %q is missing or not 1-128 of letters, digits, '-', '_', '.'", out.ClusterID)
	}
	switch {
	case out.Kubeconfig != "" && out.Kubernetes != nil:
		return nil, invalid("ipam: set kubeconfig or kubernetes, not both")
	case out.Kubeconfig == "" && out.Kubernetes == nil:
		return nil, invalid("ipam: Kubernetes API credentials are required: kubeconfig, or kubernetes {apiURL, tokenFile, caFile}")
	case out.Kubernetes != nil:
		k := out.Kubernetes
		if k.APIURL == "" {
			return nil, invalid("ipam.kubernetes.apiURL is required")
		}
		if u, err := url.Parse(k.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, invalid("ipam.kubernetes.apiURL %q must be an http:// or https:// URL", k.APIURL)
		}
		if k.TokenFile == "" {
			return nil, invalid("ipam.kubernetes.tokenFile is required")
		}
	}
	paths := map[string]string{
		"tokenFile": out.TokenFile, "serviceCAFile": out.ServiceCAFile, "kubeconfig": out.Kubeconfig,
		"stateDir": out.StateDir, "logFile": out.LogFile,
	}
	if out.Kubernetes != nil {
		paths["kubernetes.tokenFile"] = out.Kubernetes.TokenFile
		paths["kubernetes.caFile"] = out.Kubernetes.CAFile
	}
	for key, path := range paths {
		if path != "" && !filepath.IsAbs(path) {
			return nil, invalid("ipam.%s %q must be an absolute path", key, path)
		}
	}
	if out.StateDir == "" {
		out.StateDir = DefaultStateDir
	}
	if raw.TimeoutSeconds != nil {
		if *raw.TimeoutSeconds <= 0 || *raw.TimeoutSeconds > 3600 {
			return nil, invalid("ipam.timeoutSeconds must be more than 0 and at most 3600")
		}
		out.Timeout = seconds(*raw.TimeoutSeconds)
	}
	if raw.RequestTimeoutSeconds != nil {
		if *raw.RequestTimeoutSeconds <= 0 || *raw.RequestTimeoutSeconds > 3600 {
			return nil, invalid("ipam.requestTimeoutSeconds must be more than 0 and at most 3600")
		}
		out.RequestTimeout = seconds(*raw.RequestTimeoutSeconds)
	}
	if out.RequestTimeout > out.Timeout {
		out.RequestTimeout = out.Timeout
	}
	if raw.SetMAC != nil && *raw.SetMAC {
		// The IPAM half set the MAC before the main plugin configured the interface, which the
		// main plugin's result and CHECK then contradicted; the chained entry is the one way now.
		return nil, invalid("ipam.setMAC is gone: list {\"type\": \"ipresmgr-ipam\"} after the main plugin in a conflist, " +
			"it sets IPResMgr's MAC (and probes the address); then remove setMAC")
	}
	out.Probe = DefaultProbe
	if raw.ConflictProbeMillis != nil {
		probe := time.Duration(*raw.ConflictProbeMillis) * time.Millisecond
		if probe < 0 || probe > MaxProbe {
			return nil, invalid("ipam.conflictProbeMillis must be 0 (no probe) to %d", MaxProbe.Milliseconds())
		}
		out.Probe = probe
	}
	if raw.Routes != nil {
		out.Routes = []net.IPNet{}
		for _, route := range *raw.Routes {
			_, dst, err := net.ParseCIDR(route.Dst)
			if err != nil {
				return nil, invalid("ipam.routes: dst %q is not a CIDR", route.Dst)
			}
			out.Routes = append(out.Routes, *dst)
		}
	}
	return out, nil
}

func seconds(value float64) time.Duration {
	return time.Duration(value * float64(time.Second))
}
