package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

func init() {
	DefaultConfigFile = "/nonexistent/ipresmgr.conf" // never the machine's own
}

const minimal = `{"type":"ipresmgr-ipam","serviceURL":"https://ipresmgr.example.net/","tokenFile":"/etc/cni/net.d/ipresmgr.d/token",
"clusterID":"prod-eu-1","kubeconfig":"/etc/cni/net.d/ipresmgr.d/kubeconfig"}`

func code(t *testing.T, err *types.Error) uint {
	t.Helper()
	if err == nil {
		return 0
	}
	return err.Code
}

func TestParseNetConf(t *testing.T) {
	conf, err := ParseNetConf([]byte(`{"cniVersion":"1.0.0","name":"underlay","type":"bridge","ipam":` + minimal + `}`))
	if err != nil || conf.Name != "underlay" || conf.Type != "bridge" || conf.PrevResult != nil || len(conf.IPAM) == 0 {
		t.Fatalf("%+v %v", conf, err)
	}
	conf, err = ParseNetConf([]byte(`{"cniVersion":"0.4.0","name":"u","type":"x","prevResult":{"cniVersion":"0.4.0",
		"ips":[{"version":"4","address":"192.0.2.10/24"}]}}`))
	if err != nil || conf.PrevResult == nil {
		t.Fatalf("prevResult: %+v %v", conf, err)
	}
	cases := map[string]uint{
		`not json`: types.ErrDecodingFailure,
		`{"cniVersion":"1.0.0","name":"n","prevResult":{"ips":"nope"}}`: types.ErrDecodingFailure,
	}
	for input, want := range cases {
		if _, err := ParseNetConf([]byte(input)); code(t, err) != want {
			t.Errorf("%s: code %d, want %d (%v)", input, code(t, err), want, err)
		}
	}
}

func TestParseIPAMDefaults(t *testing.T) {
	ipam, err := ParseIPAM(json.RawMessage(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if ipam.ServiceURL != "https://ipresmgr.example.net" || ipam.ClusterID != "prod-eu-1" ||
		ipam.Timeout != DefaultTimeout || ipam.RequestTimeout != DefaultRequestTimeout ||
		ipam.StateDir != DefaultStateDir || ipam.Probe != DefaultProbe || ipam.Routes != nil || ipam.ConfigFile != "" {
		t.Errorf("%+v", ipam)
	}
}

func TestParseIPAMAllKeys(t *testing.T) {
	ipam, err := ParseIPAM(json.RawMessage(`{"type":"ipresmgr-ipam","serviceURL":"http://10.0.0.5:8000",
		"tokenFile":"/t","serviceCAFile":"/ca.pem","clusterID":"c_1.x","kubernetes":{"apiURL":"https://10.96.0.1:443",
		"tokenFile":"/kt","caFile":"/kca"},"timeoutSeconds":5,"requestTimeoutSeconds":20,"stateDir":"/s",
		"setMAC":false,"conflictProbeMillis":0,"routes":[{"dst":"10.0.0.0/8"},{"dst":"2001:db8::/32"}],"logFile":"/l"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ipam.Kubernetes.APIURL != "https://10.96.0.1:443" || ipam.Timeout != 5*time.Second ||
		ipam.RequestTimeout != 5*time.Second || ipam.Probe != 0 || len(ipam.Routes) != 2 || ipam.StateDir != "/s" {
		t.Errorf("%+v (the request timeout is capped by the whole timeout)", ipam)
	}
	noRoutes, err := ParseIPAM(json.RawMessage(strings.Replace(minimal, `"clusterID"`, `"routes":[],"clusterID"`, 1)))
	if err != nil || noRoutes.Routes == nil || len(noRoutes.Routes) != 0 {
		t.Errorf("routes [] means no route at all: %+v %v", noRoutes, err)
	}
}

func TestParseIPAMRefusals(t *testing.T) {
	base := map[string]interface{}{}
	_ = json.Unmarshal([]byte(minimal), &base)
	cases := []struct {
		name   string
		change func(map[string]interface{})
		code   uint
		text   string
	}{
		{"unknown key", func(m map[string]interface{}) { m["serviceUrl"] = "x" }, types.ErrUnsupportedField, `unknown key "serviceUrl"`},
		{"no serviceURL", func(m map[string]interface{}) { delete(m, "serviceURL") }, 7, "serviceURL is required"},
		{"ftp serviceURL", func(m map[string]interface{}) { m["serviceURL"] = "ftp://x" }, 7, "http://"},
		{"no tokenFile", func(m map[string]interface{}) { delete(m, "tokenFile") }, 7, "tokenFile is required"},
		{"relative tokenFile", func(m map[string]interface{}) { m["tokenFile"] = "token" }, 7, "absolute"},
		{"bad clusterID", func(m map[string]interface{}) { m["clusterID"] = "a b" }, 7, "clusterID"},
		{"no credentials", func(m map[string]interface{}) { delete(m, "kubeconfig") }, 7, "credentials are required"},
		{"both credentials", func(m map[string]interface{}) {
			m["kubernetes"] = map[string]string{"apiURL": "https://x", "tokenFile": "/t"}
		}, 7, "not both"},
		{"kubernetes without token", func(m map[string]interface{}) {
			delete(m, "kubeconfig")
			m["kubernetes"] = map[string]string{"apiURL": "https://x"}
		}, 7, "kubernetes.tokenFile"},
		{"zero timeout", func(m map[string]interface{}) { m["timeoutSeconds"] = 0 }, 7, "timeoutSeconds"},
		{"bad route", func(m map[string]interface{}) { m["routes"] = []map[string]string{{"dst": "default"}} }, 7, "routes"},
		{"setMAC string", func(m map[string]interface{}) { m["setMAC"] = "yes" }, 7, "setMAC"},
		{"setMAC true", func(m map[string]interface{}) { m["setMAC"] = true }, 7, "after the main plugin"},
		{"probe negative", func(m map[string]interface{}) { m["conflictProbeMillis"] = -1 }, 7, "conflictProbeMillis"},
		{"probe too long", func(m map[string]interface{}) { m["conflictProbeMillis"] = 60000 }, 7, "conflictProbeMillis"},
		{"probe not a number", func(m map[string]interface{}) { m["conflictProbeMillis"] = "300" }, 7, "conflictProbeMillis"},
		{"missing configFile", func(m map[string]interface{}) { m["configFile"] = "/nonexistent/x.conf" }, 7, "settings file"},
	}
	for _, c := range cases {
		m := map[string]interface{}{}
		for k, v := range base {
			m[k] = v
		}
		c.change(m)
		data, _ := json.Marshal(m)
		_, err := ParseIPAM(data)
		if err == nil || err.Code != c.code || !strings.Contains(err.Msg, c.text) {
			t.Errorf("%s: got %v, want code %d with %q", c.name, err, c.code, c.text)
		}
	}
}

func TestSettingsFileUnderTheSection(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ipresmgr.conf")
	settings := `{"serviceURL":"https://from-file","tokenFile":"/file/token","clusterID":"file-cluster",
		"kubeconfig":"/file/kubeconfig","conflictProbeMillis":50}`
	if err := os.WriteFile(file, []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	ipam, err := ParseIPAM(json.RawMessage(`{"type":"ipresmgr-ipam","configFile":"` + file + `","clusterID":"section-cluster"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ipam.ServiceURL != "https://from-file" || ipam.ClusterID != "section-cluster" || ipam.Probe != 50*time.Millisecond || ipam.ConfigFile != file {
		t.Errorf("the section's keys win over the file's: %+v", ipam)
	}
	// The default file is read when present and the section names none.
	saved := DefaultConfigFile
	DefaultConfigFile = file
	defer func() { DefaultConfigFile = saved }()
	ipam, err = ParseIPAM(json.RawMessage(`{"type":"ipresmgr-ipam"}`))
	if err != nil || ipam.ClusterID != "file-cluster" {
		t.Errorf("%+v %v", ipam, err)
	}
	if err := os.WriteFile(file, []byte(`{"type":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseIPAM(json.RawMessage(`{"type":"ipresmgr-ipam"}`)); err == nil || !strings.Contains(err.Msg, "belongs in the network configuration") {
		t.Errorf("type in the settings file: %v", err)
	}
}

func TestParseArgs(t *testing.T) {
	kubelet := "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-7d4b9c8f6d-x2k9q;" +
		"K8S_POD_INFRA_CONTAINER_ID=57961a3158e9;K8S_POD_UID=6a13db1e-af11-4e47-936a-6ce083ca05f9"
	args, err := ParseArgs(kubelet)
	if err != nil || args.Namespace != "shop" || args.Name != "web-7d4b9c8f6d-x2k9q" ||
		args.UID != "6a13db1e-af11-4e47-936a-6ce083ca05f9" || args.InfraContainerID != "57961a3158e9" {
		t.Fatalf("%+v %v", args, err)
	}
	if err := args.RequirePod(); err != nil {
		t.Error(err)
	}
	if _, err := ParseArgs("IgnoreUnknown=1;K8S_POD_NAMESPACE=a;FOO=bar"); err != nil {
		t.Errorf("IgnoreUnknown=1 ignores FOO: %v", err)
	}
	for _, bad := range []string{"K8S_POD_NAMESPACE=a;FOO=bar", "K8S_POD_NAMESPACE", "IgnoreUnknown=maybe"} {
		if _, err := ParseArgs(bad); code(t, err) != types.ErrInvalidEnvironmentVariables {
			t.Errorf("%q: %v", bad, err)
		}
	}
	empty, err := ParseArgs("")
	if err != nil || empty.RequirePod() == nil {
		t.Errorf("no pod in CNI_ARGS: ADD must refuse (%v)", err)
	}
}

func TestChainedStateDir(t *testing.T) {
	if dir, err := ChainedStateDir([]byte(`{"type":"ipresmgr-ipam"}`)); err != nil || dir != DefaultStateDir {
		t.Errorf("%s %v", dir, err)
	}
	if dir, err := ChainedStateDir([]byte(`{"type":"ipresmgr-ipam","stateDir":"/run/x","runtimeConfig":{}}`)); err != nil || dir != "/run/x" {
		t.Errorf("%s %v", dir, err)
	}
	file := filepath.Join(t.TempDir(), "settings.conf")
	_ = os.WriteFile(file, []byte(`{"stateDir":"/from/file"}`), 0o644)
	if dir, err := ChainedStateDir([]byte(`{"configFile":"` + file + `"}`)); err != nil || dir != "/from/file" {
		t.Errorf("%s %v", dir, err)
	}
	if _, err := ChainedStateDir([]byte(`{"stateDir":"relative"}`)); err == nil {
		t.Error("a relative stateDir must be refused")
	}
}
