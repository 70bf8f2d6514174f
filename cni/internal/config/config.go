// Package config reads what the runtime hands the plugin: the network configuration on stdin
// (its `ipam` section, merged over an optional settings file), the CNI_* environment and the
// pod identity in CNI_ARGS.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"ipresmgr.local/cni/internal/cnitypes"
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
)

// NetConf is the part of the network configuration the plugin reads. The main plugin passes its
// whole configuration; only cniVersion, name, ipam and prevResult matter here.
type NetConf struct {
	CNIVersion string          `json:"cniVersion"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	IPAM       json.RawMessage `json:"ipam"`
	PrevResult json.RawMessage `json:"prevResult"`
}

// KubernetesAPI are explicit Kubernetes API credentials, instead of a kubeconfig.
type KubernetesAPI struct {
	APIURL    string `json:"apiURL"`
	TokenFile string `json:"tokenFile"`
	CAFile    string `json:"caFile"`
}

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
	SetMAC         bool
	Routes         []net.IPNet // destinations; nil: a default route of the address's family
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
	"requestTimeoutSeconds": true, "stateDir": true, "setMAC": true, "routes": true, "logFile": true,
}

var (
	clusterIDPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	networkNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)
)

func invalid(format string, args ...interface{}) *cnitypes.Error {
	return cnitypes.Errorf(cnitypes.ErrInvalidNetworkConfig, format, args...)
}

// ParseNetConf decodes stdin and checks the version and the network name.
func ParseNetConf(stdin []byte) (*NetConf, *cnitypes.Error) {
	var conf NetConf
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return nil, cnitypes.Errorf(cnitypes.ErrDecodingFailure, "network configuration on stdin is not JSON: %v", err)
	}
	if conf.CNIVersion == "" {
		return &conf, invalid("network configuration: cniVersion is missing")
	}
	if !cnitypes.Supported(conf.CNIVersion) {
		return &conf, cnitypes.Errorf(cnitypes.ErrIncompatibleVersion, "cniVersion %q is not supported (supported: %s)",
			conf.CNIVersion, strings.Join(cnitypes.SupportedVersions, ", "))
	}
	if !networkNamePattern.MatchString(conf.Name) {
		return &conf, invalid("network configuration: name %q is missing or not a valid network name", conf.Name)
	}
	return &conf, nil
}

// ChainedStateDir is the state directory of the plugin run as a chained plugin (a conflist
// entry after the main plugin): the entry's stateDir, else the settings file's (the entry's
// configFile, else DefaultConfigFile when it exists), else DefaultStateDir. Other keys of the
// entry are left alone: the runtime adds its own (runtimeConfig, args, capabilities).
func ChainedStateDir(stdin []byte) (string, *cnitypes.Error) {
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

func decodeObject(data []byte, where string) (map[string]json.RawMessage, *cnitypes.Error) {
	var object map[string]json.RawMessage
	if err := json.Unmarshal(data, &object); err != nil || object == nil {
		return nil, invalid("%s is not a JSON object", where)
	}
	for key := range object {
		if !knownKeys[key] {
			return nil, cnitypes.Errorf(cnitypes.ErrUnsupportedField, "%s: unknown key %q (known: %s)", where, key, known())
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
func ParseIPAM(section json.RawMessage) (*IPAM, *cnitypes.Error) {
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
func ValidateSettings(data []byte, name string) *cnitypes.Error {
	fileKeys, cerr := settingsKeys(data, name)
	if cerr != nil {
		return cerr
	}
	_, cerr = merge(fileKeys, nil)
	return cerr
}

func settingsKeys(data []byte, name string) (map[string]json.RawMessage, *cnitypes.Error) {
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
func merge(fileKeys, sectionKeys map[string]json.RawMessage) (*IPAM, *cnitypes.Error) {
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

func validate(raw rawIPAM) (*IPAM, *cnitypes.Error) {
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
	if raw.SetMAC != nil {
		out.SetMAC = *raw.SetMAC
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

// Env is the CNI_* environment of one call.
type Env struct {
	Command     string
	ContainerID string
	Netns       string
	IfName      string
	Args        string
	Path        string
}

// EnvFrom reads the CNI_* variables.
func EnvFrom(getenv func(string) string) Env {
	return Env{
		Command:     getenv("CNI_COMMAND"),
		ContainerID: getenv("CNI_CONTAINERID"),
		Netns:       getenv("CNI_NETNS"),
		IfName:      getenv("CNI_IFNAME"),
		Args:        getenv("CNI_ARGS"),
		Path:        getenv("CNI_PATH"),
	}
}

var containerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$`)

func badEnv(format string, args ...interface{}) *cnitypes.Error {
	return cnitypes.Errorf(cnitypes.ErrInvalidEnvironment, format, args...)
}

// Validate checks the variables the command needs: CNI_CONTAINERID and CNI_IFNAME always,
// CNI_NETNS for ADD and CHECK (DEL may come after the namespace is gone).
func (e Env) Validate() *cnitypes.Error {
	if !containerIDPattern.MatchString(e.ContainerID) {
		return badEnv("CNI_CONTAINERID %q is missing or malformed", e.ContainerID)
	}
	if e.IfName == "" || len(e.IfName) > 15 || strings.ContainsAny(e.IfName, "/: \t\n") || e.IfName == "." || e.IfName == ".." {
		return badEnv("CNI_IFNAME %q is missing or not a valid interface name", e.IfName)
	}
	if e.Command != "DEL" && e.Netns == "" {
		return badEnv("CNI_NETNS is required for %s", e.Command)
	}
	return nil
}

// PodArgs is the pod identity kubelet's runtime passes in CNI_ARGS.
type PodArgs struct {
	Namespace        string
	Name             string
	UID              string
	InfraContainerID string
}

// ParseArgs reads CNI_ARGS ("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=n;K8S_POD_UID=u;...").
// As libcni does, an unknown key is refused unless IgnoreUnknown is 1 or true.
func ParseArgs(text string) (PodArgs, *cnitypes.Error) {
	var out PodArgs
	values := map[string]string{}
	var order []string
	for _, pair := range strings.Split(text, ";") {
		if pair == "" {
			continue
		}
		key, value, ok := strings.Cut(pair, "=")
		if !ok {
			return out, badEnv("CNI_ARGS: %q is not KEY=VALUE", pair)
		}
		values[key] = value
		order = append(order, key)
	}
	ignore := false
	switch strings.ToLower(values["IgnoreUnknown"]) {
	case "", "0", "false":
	case "1", "true":
		ignore = true
	default:
		return out, badEnv("CNI_ARGS: IgnoreUnknown=%q is not a boolean", values["IgnoreUnknown"])
	}
	for _, key := range order {
		value := values[key]
		switch key {
		case "IgnoreUnknown":
		case "K8S_POD_NAMESPACE":
			out.Namespace = value
		case "K8S_POD_NAME":
			out.Name = value
		case "K8S_POD_UID":
			out.UID = value
		case "K8S_POD_INFRA_CONTAINER_ID":
			out.InfraContainerID = value
		default:
			if !ignore {
				return out, badEnv("CNI_ARGS: unknown key %q (and no IgnoreUnknown=1)", key)
			}
		}
	}
	return out, nil
}

// RequirePod checks that the namespace and name are present (ADD needs them).
func (a PodArgs) RequirePod() *cnitypes.Error {
	if a.Namespace == "" || a.Name == "" {
		return badEnv("CNI_ARGS must name the pod: K8S_POD_NAMESPACE and K8S_POD_NAME (got %q/%q); "+
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
