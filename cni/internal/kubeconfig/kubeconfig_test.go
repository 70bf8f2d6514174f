package kubeconfig

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const caPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

var caB64 = base64.StdEncoding.EncodeToString([]byte(caPEM))

// As calico-node's install writes /etc/cni/net.d/calico-kubeconfig.
var calico = `# Kubeconfig file for Calico CNI plugin. Installed by calico/node.
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://10.96.0.1:443
    certificate-authority-data: "` + caB64 + `"
users:
- name: calico
  user:
    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.signature
contexts:
- name: calico-context
  context:
    cluster: local
    user: calico
current-context: calico-context
`

// As Multus' entrypoint writes multus.d/multus.kubeconfig (IPv6 server, quoted token).
var multus = `# Kubeconfig file for Multus CNI plugin.
apiVersion: v1
kind: Config
clusters:
  - name: local
    cluster:
      server: https://[fd00:10:96::1]:443
      certificate-authority-data: ` + caB64 + `
users:
  - name: multus
    user:
      token: 'abc''def'
contexts:
  - name: multus-context
    context:
      cluster: local
      user: multus
current-context: multus-context
`

func TestCalicoShape(t *testing.T) {
	creds, err := Parse([]byte(calico), "")
	if err != nil {
		t.Fatal(err)
	}
	if creds.Server != "https://10.96.0.1:443" || string(creds.CAData) != caPEM ||
		creds.Token != "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.signature" || creds.Insecure {
		t.Errorf("%+v", creds)
	}
}

func TestMultusShape(t *testing.T) {
	creds, err := Parse([]byte(multus), "")
	if err != nil {
		t.Fatal(err)
	}
	if creds.Server != "https://[fd00:10:96::1]:443" || creds.Token != "abc'def" || string(creds.CAData) != caPEM {
		t.Errorf("%+v", creds)
	}
}

func TestKubeadmShapeWithFilesAndContexts(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"ca.crt": caPEM, "client.crt": "CERT", "client.key": "KEY"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := `apiVersion: v1
clusters:
- cluster:
    certificate-authority: ca.crt
    server: https://api.example.net:6443
  name: prod
- cluster:
    insecure-skip-tls-verify: true
    server: https://staging:6443
  name: staging
contexts:
- context: {cluster: prod, user: admin}
  name: broken-on-purpose
`
	// Full YAML: the flow mapping is read, and names a user the file does not have.
	if _, err := Parse([]byte(text), dir); err == nil || !strings.Contains(err.Error(), `no entry named "admin"`) {
		t.Fatalf("a flow mapping is read like any mapping: %v", err)
	}
	text = `apiVersion: v1
clusters:
- cluster:
    certificate-authority: ca.crt
    server: https://api.example.net:6443
  name: prod
- cluster:
    insecure-skip-tls-verify: true
    server: https://staging:6443   # a comment
  name: staging
contexts:
- context:
    cluster: prod
    user: admin
  name: prod-admin
- context:
    cluster: staging
    user: admin
  name: staging-admin
current-context: staging-admin
kind: Config
preferences: {}
users:
- name: admin
  user:
    client-certificate: client.crt
    client-key: ` + filepath.Join(dir, "client.key") + `
`
	creds, err := Parse([]byte(text), dir)
	if err != nil {
		t.Fatal(err)
	}
	if creds.Server != "https://staging:6443" || !creds.Insecure || string(creds.ClientCert) != "CERT" ||
		string(creds.ClientKey) != "KEY" || creds.CAData != nil {
		t.Errorf("%+v", creds)
	}
	text = strings.Replace(text, "current-context: staging-admin", "current-context: prod-admin", 1)
	creds, err = Parse([]byte(text), dir)
	if err != nil || creds.Server != "https://api.example.net:6443" || string(creds.CAData) != caPEM {
		t.Errorf("%+v %v", creds, err)
	}
}

func TestJSONKubeconfig(t *testing.T) {
	text := `{"apiVersion":"v1","kind":"Config","clusters":[{"name":"c","cluster":{"server":"https://10.96.0.1",
	"insecure-skip-tls-verify":true}}],"users":[{"name":"u","user":{"tokenFile":"token"}}],
	"contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}],"current-context":"x"}`
	creds, err := Parse([]byte(text), "/etc/cni/net.d")
	if err != nil || !creds.Insecure || creds.TokenFile != "/etc/cni/net.d/token" {
		t.Errorf("%+v %v", creds, err)
	}
}

func TestKubeconfigRefusals(t *testing.T) {
	cases := map[string]string{
		"exec": strings.Replace(calico, "    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.signature",
			"    exec:\n      command: aws", 1),
		"has no token": strings.Replace(calico, "    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.payload.signature",
			"    other: x", 1),
		`no entry named "nowhere"`: strings.Replace(calico, "current-context: calico-context", "current-context: nowhere", 1),
		"has no server":            strings.Replace(calico, "    server: https://10.96.0.1:443\n", "", 1),
		"not base64":               strings.Replace(calico, caB64, "%%%", 1),
		"not valid YAML or JSON":   "apiVersion: v1\n\tkind: Config\n",
		"top level":                "- a list\n",
	}
	for want, text := range cases {
		if _, err := Parse([]byte(text), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error with %q, got %v", want, err)
		}
	}
}

func TestLoadReadsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(calico), 0o600); err != nil {
		t.Fatal(err)
	}
	if creds, err := Load(path); err != nil || creds.Server != "https://10.96.0.1:443" {
		t.Errorf("%+v %v", creds, err)
	}
	if _, err := Load(path + ".missing"); err == nil {
		t.Error("a missing file is an error")
	}
}
