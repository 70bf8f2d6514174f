package install

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/kubeconfig"
)

func setup(t *testing.T, settings string) Options {
	t.Helper()
	root := t.TempDir()
	o := Options{
		BinDir:            filepath.Join(root, "host/opt/cni/bin"),
		ConfDir:           filepath.Join(root, "host/etc/cni/net.d/ipresmgr.d"),
		HostConfDir:       "/etc/cni/net.d/ipresmgr.d",
		Config:            filepath.Join(root, "config/ipresmgr.conf"),
		Token:             filepath.Join(root, "token/token"),
		ServiceAccountDir: filepath.Join(root, "sa"),
		KubernetesAPI:     "https://[fd00:10:96::1]:443",
		Executable:        filepath.Join(root, "exe"),
	}
	files := map[string]string{
		o.Config: settings, o.Token: "ipr_cluster_token\n", o.Executable: "\x7fELF binary",
		filepath.Join(o.ServiceAccountDir, "token"):  "sa.jwt.token\n",
		filepath.Join(o.ServiceAccountDir, "ca.crt"): "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
	}
	for path, text := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(o.BinDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestInstall(t *testing.T) {
	o := setup(t, `{"serviceURL":"https://ipresmgr.example.net","clusterID":"prod-eu-1","setMAC":false}`)
	if err := o.Binary(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(o.BinDir, "ipresmgr-ipam"))
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("binary: %v %v", info, err)
	}
	changed, err := o.Files()
	if err != nil || strings.Join(changed, ",") != "token,kubeconfig,ipresmgr.conf" {
		t.Fatalf("changed %v, %v", changed, err)
	}
	settings, _ := os.ReadFile(filepath.Join(o.ConfDir, "ipresmgr.conf"))
	for _, want := range []string{`"tokenFile": "/etc/cni/net.d/ipresmgr.d/token"`, `"kubeconfig": "/etc/cni/net.d/ipresmgr.d/kubeconfig"`} {
		if !bytes.Contains(settings, []byte(want)) {
			t.Errorf("settings lack %s:\n%s", want, settings)
		}
	}
	for name, mode := range map[string]os.FileMode{"token": 0o600, "kubeconfig": 0o600, "ipresmgr.conf": 0o644} {
		if info, err := os.Stat(filepath.Join(o.ConfDir, name)); err != nil || info.Mode().Perm() != mode {
			t.Errorf("%s: %v %v", name, info, err)
		}
	}
	creds, err := kubeconfig.Load(filepath.Join(o.ConfDir, "kubeconfig"))
	if err != nil || creds.Server != "https://[fd00:10:96::1]:443" || creds.Token != "sa.jwt.token" || !bytes.Contains(creds.CAData, []byte("MIIB")) {
		t.Fatalf("the kubeconfig the plugin reads: %+v %v", creds, err)
	}
	// The plugin reads the written settings as its own (paths rewritten to this test's copy).
	text := strings.ReplaceAll(string(settings), "/etc/cni/net.d/ipresmgr.d", o.ConfDir)
	copyPath := filepath.Join(t.TempDir(), "settings.conf")
	_ = os.WriteFile(copyPath, []byte(text), 0o644)
	ipam, cerr := config.ParseIPAM([]byte(`{"type":"ipresmgr-ipam","configFile":"` + copyPath + `"}`))
	if cerr != nil || ipam.ClusterID != "prod-eu-1" {
		t.Fatalf("%+v %v", ipam, cerr)
	}
	// Nothing changed: nothing rewritten. A rotated service account token: only the kubeconfig.
	if changed, err := o.Files(); err != nil || len(changed) != 0 {
		t.Errorf("second run changed %v (%v)", changed, err)
	}
	_ = os.WriteFile(filepath.Join(o.ServiceAccountDir, "token"), []byte("rotated.jwt"), 0o644)
	if changed, err := o.Files(); err != nil || strings.Join(changed, ",") != "kubeconfig" {
		t.Errorf("after rotation changed %v (%v)", changed, err)
	}
}

func TestInstallRefusesBadSettings(t *testing.T) {
	for settings, want := range map[string]string{
		`{"clusterID":"c"}`: "serviceURL is required",
		`{"serviceURL":"https://x","clusterID":"c","bogus":1}`: `unknown key "bogus"`,
		`[]`: "not a JSON object",
	} {
		o := setup(t, settings)
		if _, err := o.Files(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", settings, err)
		}
	}
	o := setup(t, `{"serviceURL":"https://x","clusterID":"c"}`)
	_ = os.WriteFile(o.Token, []byte("\n"), 0o644)
	if _, err := o.Files(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token: %v", err)
	}
}

func TestMainFlags(t *testing.T) {
	o := setup(t, `{"serviceURL":"https://x","clusterID":"c"}`)
	var stderr bytes.Buffer
	status := Main([]string{"--bin-dir", o.BinDir, "--conf-dir", o.ConfDir, "--config", o.Config, "--token", o.Token,
		"--serviceaccount-dir", o.ServiceAccountDir, "--kubernetes-api", "https://10.96.0.1:443"}, &stderr)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(o.BinDir, "ipresmgr-ipam")); err != nil {
		t.Error(err)
	}
	data, _ := os.ReadFile(filepath.Join(o.ConfDir, "kubeconfig"))
	if !strings.Contains(string(data), `"server": "https://10.96.0.1:443"`) ||
		!strings.Contains(string(data), base64.StdEncoding.EncodeToString([]byte("-----BEGIN"))[:8]) {
		t.Errorf("%s", data)
	}
	// A plain-http API server needs no ca.crt.
	if err := os.Remove(filepath.Join(o.ServiceAccountDir, "ca.crt")); err != nil {
		t.Fatal(err)
	}
	status = Main([]string{"--bin-dir", o.BinDir, "--conf-dir", o.ConfDir, "--config", o.Config, "--token", o.Token,
		"--serviceaccount-dir", o.ServiceAccountDir, "--kubernetes-api", "http://127.0.0.1:8080"}, &stderr)
	data, _ = os.ReadFile(filepath.Join(o.ConfDir, "kubeconfig"))
	if status != 0 || strings.Contains(string(data), "certificate-authority") {
		t.Errorf("plain http without ca.crt: status %d, %s %s", status, stderr.String(), data)
	}
	status = Main([]string{"--bin-dir", o.BinDir, "--conf-dir", o.ConfDir, "--config", o.Config, "--token", o.Token,
		"--serviceaccount-dir", o.ServiceAccountDir, "--kubernetes-api", "https://10.96.0.1:443"}, &stderr)
	if status != 1 || !strings.Contains(stderr.String(), "service account CA") {
		t.Errorf("https without ca.crt: status %d, %s", status, stderr.String())
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	if status := Main([]string{"--conf-dir", o.ConfDir}, &stderr); status != 2 {
		t.Errorf("outside a pod without --kubernetes-api: %d", status)
	}
}
