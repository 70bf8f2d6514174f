// Package cnitypes holds the pieces of the CNI specification the plugin speaks: the versions it
// accepts, the IPAM result in the 0.3.x/0.4.0 and 1.0.0 shapes, and the error object with its
// well-known codes.
package cnitypes

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
)

// SupportedVersions are the cniVersion values accepted in a network configuration. 0.1.0 and
// 0.2.0 used another result shape (ip4/ip6 keys) and are not offered.
var SupportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0"}

// LatestVersion is what VERSION answers with when the request names no version it knows.
const LatestVersion = "1.0.0"

// Error codes. 1-99 are the specification's own; 100 and up are this plugin's.
const (
	ErrIncompatibleVersion  = 1  // the cniVersion is not supported
	ErrUnsupportedField     = 2  // a key of the network configuration is not known
	ErrUnknownContainer     = 3  // container (pod) unknown or does not exist
	ErrInvalidEnvironment   = 4  // CNI_COMMAND, CNI_CONTAINERID, CNI_ARGS... missing or malformed
	ErrIOFailure            = 5  // a local file could not be read or written
	ErrDecodingFailure      = 6  // stdin is not a JSON network configuration
	ErrInvalidNetworkConfig = 7  // a required key is missing or a value is wrong
	ErrTryAgainLater        = 11 // IPResMgr or the Kubernetes API unavailable (Code 50, no answer)

	ErrKubernetes          = 100 // the Kubernetes API refused (not found, RBAC)
	ErrUnsupportedWorkload = 101 // bare pod, DaemonSet pod, or an owner kind IPResMgr has no pool for
	ErrCheckFailed         = 102 // CHECK: the pod no longer holds its address (or its MAC differs)
	ErrInterface           = 103 // the MAC could not be read or set inside the container's namespace

	// ErrServiceBase plus IPResMgr's Code is the code of a refusal by the service: 201 invalid
	// request, 202 unauthenticated, 203 forbidden, 220 no pool, 230 no address, 212 subnet
	// exhausted, 231 address bound to another pod, 299 internal. Code 50 maps to 11 instead.
	ErrServiceBase = 200
)

// Error is the CNI error object, printed on stdout with a non-zero exit status.
type Error struct {
	CNIVersion string `json:"cniVersion"`
	Code       uint   `json:"code"`
	Msg        string `json:"msg"`
	Details    string `json:"details,omitempty"`
}

func (e *Error) Error() string {
	if e.Details == "" {
		return e.Msg
	}
	return e.Msg + ": " + e.Details
}

// Errorf makes an Error with a formatted message.
func Errorf(code uint, format string, args ...interface{}) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Encode renders the error for stdout under the given cniVersion (LatestVersion if empty).
func (e *Error) Encode(version string) []byte {
	out := *e
	if out.CNIVersion == "" {
		out.CNIVersion = version
	}
	if out.CNIVersion == "" {
		out.CNIVersion = LatestVersion
	}
	data, _ := json.Marshal(out)
	return append(data, '\n')
}

// Supported tells whether the version is one this plugin accepts.
func Supported(version string) bool {
	for _, v := range SupportedVersions {
		if v == version {
			return true
		}
	}
	return false
}

// AtLeast tells whether version a is at least b ("0.4.0" >= "0.3.1"). Both must be x.y.z.
func AtLeast(a, b string) bool {
	pa, pb := parts(a), parts(b)
	for i := 0; i < 3; i++ {
		if pa[i] != pb[i] {
			return pa[i] > pb[i]
		}
	}
	return true
}

func parts(v string) [3]int {
	var out [3]int
	for i, field := range strings.SplitN(v, ".", 3) {
		fmt.Sscanf(field, "%d", &out[i])
	}
	return out
}

// VersionInfo is the answer to the VERSION command.
func VersionInfo(requested string) []byte {
	version := LatestVersion
	if Supported(requested) {
		version = requested
	}
	data, _ := json.Marshal(struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}{version, SupportedVersions})
	return append(data, '\n')
}

// IPConfig is one address of the result: the pod's IP with the subnet's prefix length.
type IPConfig struct {
	Address net.IPNet
	Gateway net.IP
}

// Route is one route of the result; GW nil means "via the gateway of the IP's family".
type Route struct {
	Dst net.IPNet
	GW  net.IP
}

// Result is an IPAM result: IPAM plugins leave interfaces out (the main plugin owns them).
type Result struct {
	IPs    []IPConfig
	Routes []Route
}

type ipJSON struct {
	Version string `json:"version,omitempty"` // 0.3.x and 0.4.0 only
	Address string `json:"address"`
	Gateway string `json:"gateway,omitempty"`
}

type routeJSON struct {
	Dst string `json:"dst"`
	GW  string `json:"gw,omitempty"`
}

type resultJSON struct {
	CNIVersion string      `json:"cniVersion"`
	IPs        []ipJSON    `json:"ips"`
	Routes     []routeJSON `json:"routes,omitempty"`
	DNS        struct{}    `json:"dns"`
}

// Encode renders the result in the shape of the given version: 0.3.0, 0.3.1 and 0.4.0 carry
// "version" ("4" or "6") on each IP; 1.0.0 does not.
func (r Result) Encode(version string) ([]byte, error) {
	if !Supported(version) {
		return nil, Errorf(ErrIncompatibleVersion, "cniVersion %q is not supported (supported: %s)",
			version, strings.Join(SupportedVersions, ", "))
	}
	out := resultJSON{CNIVersion: version, IPs: []ipJSON{}}
	for _, ip := range r.IPs {
		entry := ipJSON{Address: ip.Address.String()}
		if ip.Gateway != nil {
			entry.Gateway = ip.Gateway.String()
		}
		if !AtLeast(version, "1.0.0") {
			entry.Version = "6"
			if ip.Address.IP.To4() != nil {
				entry.Version = "4"
			}
		}
		out.IPs = append(out.IPs, entry)
	}
	for _, route := range r.Routes {
		entry := routeJSON{Dst: route.Dst.String()}
		if route.GW != nil {
			entry.GW = route.GW.String()
		}
		out.Routes = append(out.Routes, entry)
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// PrevResult is what CHECK and DEL need from a prevResult of any supported version.
type PrevResult struct {
	IPs []net.IPNet
}

// ParsePrevResult reads the addresses of a prevResult (0.3.x, 0.4.0 or 1.0.0 shape).
func ParsePrevResult(raw json.RawMessage) (*PrevResult, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var decoded struct {
		IPs []ipJSON `json:"ips"`
	}
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return nil, fmt.Errorf("prevResult: %v", err)
	}
	out := &PrevResult{}
	for _, entry := range decoded.IPs {
		ip, network, err := net.ParseCIDR(entry.Address)
		if err != nil {
			return nil, fmt.Errorf("prevResult: address %q: %v", entry.Address, err)
		}
		network.IP = ip
		out.IPs = append(out.IPs, *network)
	}
	return out, nil
}
