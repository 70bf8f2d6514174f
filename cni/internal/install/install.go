// Package install is `ipresmgr-ipam install`, run by the DaemonSet on every node: it copies the
// binary into the host's CNI bin directory and writes the plugin's settings file, IPResMgr
// token and a kubeconfig (from the pod's service account) into the host's CNI config
// directory. With --refresh it keeps doing so (the service account token rotates).
package install

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/kubeconfig"
)

// Options are the flags of `ipresmgr-ipam install`.
type Options struct {
	BinDir            string        // the host's CNI bin directory, as mounted in the container
	ConfDir           string        // where the files go, as mounted in the container
	HostConfDir       string        // the same directory as the plugin sees it on the host
	Config            string        // the settings (JSON, ipam keys) from the ConfigMap
	Token             string        // IPResMgr's cluster token, from a Secret
	ServiceCA         string        // optional PEM CA of IPResMgr
	ServiceAccountDir string        // token and ca.crt of the DaemonSet's service account
	KubernetesAPI     string        // the API server URL written into the kubeconfig
	Refresh           time.Duration // 0: once; else rewrite changed files this often, forever
	Executable        string        // the binary to copy (default: this one)
}

// Main parses the flags and runs; it returns the exit status.
func Main(args []string, stderr io.Writer) int {
	opts := Options{}
	flags := flag.NewFlagSet("install", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&opts.BinDir, "bin-dir", "/host/opt/cni/bin", "the host's CNI bin directory (mounted)")
	flags.StringVar(&opts.ConfDir, "conf-dir", "/host/etc/cni/net.d/ipresmgr.d", "directory for the plugin's files (mounted)")
	flags.StringVar(&opts.HostConfDir, "host-conf-dir", "/etc/cni/net.d/ipresmgr.d", "the same directory as seen on the host")
	flags.StringVar(&opts.Config, "config", "/config/ipresmgr.conf", "settings file (JSON with ipam keys) to install")
	flags.StringVar(&opts.Token, "token", "/token/token", "IPResMgr cluster token file to install")
	flags.StringVar(&opts.ServiceCA, "service-ca", "", "optional PEM CA bundle of IPResMgr to install")
	flags.StringVar(&opts.ServiceAccountDir, "serviceaccount-dir", "/var/run/secrets/kubernetes.io/serviceaccount",
		"the service account whose token and CA go into the plugin's kubeconfig")
	flags.StringVar(&opts.KubernetesAPI, "kubernetes-api", "", "API server URL for the kubeconfig "+
		"(default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)")
	flags.DurationVar(&opts.Refresh, "refresh", 0, "0: install once and exit; else rewrite changed files this often")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if opts.KubernetesAPI == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			fmt.Fprintln(stderr, "install: --kubernetes-api is needed outside a pod (no KUBERNETES_SERVICE_HOST/PORT)")
			return 2
		}
		opts.KubernetesAPI = "https://" + net.JoinHostPort(host, port)
	}
	if err := opts.Binary(); err != nil {
		fmt.Fprintf(stderr, "install: %v\n", err)
		return 1
	}
	for {
		changed, err := opts.Files()
		if err != nil {
			fmt.Fprintf(stderr, "install: %v\n", err)
			if opts.Refresh == 0 {
				return 1
			}
		}
		for _, name := range changed {
			fmt.Fprintf(stderr, "%s install: wrote %s\n", time.Now().UTC().Format(time.RFC3339), name)
		}
		if opts.Refresh == 0 {
			return 0
		}
		time.Sleep(opts.Refresh)
	}
}

// Binary copies the executable into BinDir as ipresmgr-ipam (a temporary file renamed over the
// old one, so a plugin call running meanwhile keeps its binary).
func (o Options) Binary() error {
	source := o.Executable
	if source == "" {
		var err error
		if source, err = os.Executable(); err != nil {
			return err
		}
	}
	data, err := os.ReadFile(source)
	if err != nil {
		return err
	}
	_, err = writeIfChanged(filepath.Join(o.BinDir, config.PluginType), data, 0o755)
	return err
}

// Files writes the settings, token, CA and kubeconfig; it returns the names of those that changed.
func (o Options) Files() ([]string, error) {
	if err := os.MkdirAll(o.ConfDir, 0o755); err != nil {
		return nil, err
	}
	var changed []string
	write := func(name string, data []byte, mode os.FileMode) error {
		did, err := writeIfChanged(filepath.Join(o.ConfDir, name), data, mode)
		if did {
			changed = append(changed, name)
		}
		return err
	}
	token, err := os.ReadFile(o.Token)
	if err != nil {
		return changed, fmt.Errorf("IPResMgr token: %w", err)
	}
	if len(bytes.TrimSpace(token)) == 0 {
		return changed, fmt.Errorf("IPResMgr token %s is empty", o.Token)
	}
	if err := write("token", token, 0o600); err != nil {
		return changed, err
	}
	if o.ServiceCA != "" {
		ca, err := os.ReadFile(o.ServiceCA)
		if err != nil {
			return changed, fmt.Errorf("IPResMgr CA: %w", err)
		}
		if err := write("service-ca.crt", ca, 0o644); err != nil {
			return changed, err
		}
	}
	kubeconfigText, err := o.kubeconfig()
	if err != nil {
		return changed, err
	}
	if err := write("kubeconfig", kubeconfigText, 0o600); err != nil {
		return changed, err
	}
	settings, err := o.settings()
	if err != nil {
		return changed, err
	}
	if err := write("ipresmgr.conf", settings, 0o644); err != nil {
		return changed, err
	}
	return changed, nil
}

// settings is the ConfigMap's file with the paths of the files written here filled in where it
// names none, validated as the plugin will read it.
func (o Options) settings() ([]byte, error) {
	data, err := os.ReadFile(o.Config)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	var keys map[string]interface{}
	if err := json.Unmarshal(data, &keys); err != nil || keys == nil {
		return nil, fmt.Errorf("settings %s: not a JSON object", o.Config)
	}
	if _, ok := keys["tokenFile"]; !ok {
		keys["tokenFile"] = filepath.Join(o.HostConfDir, "token")
	}
	_, hasKubeconfig := keys["kubeconfig"]
	_, hasKubernetes := keys["kubernetes"]
	if !hasKubeconfig && !hasKubernetes {
		keys["kubeconfig"] = filepath.Join(o.HostConfDir, "kubeconfig")
	}
	if _, ok := keys["serviceCAFile"]; !ok && o.ServiceCA != "" {
		keys["serviceCAFile"] = filepath.Join(o.HostConfDir, "service-ca.crt")
	}
	out, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return nil, err
	}
	out = append(out, '\n')
	// Validate as the plugin will read it (no temporary file: the image has no /tmp).
	if cerr := config.ValidateSettings(out, o.Config); cerr != nil {
		return nil, fmt.Errorf("settings %s: %w", o.Config, cerr)
	}
	return out, nil
}

func (o Options) kubeconfig() ([]byte, error) {
	token, err := os.ReadFile(filepath.Join(o.ServiceAccountDir, "token"))
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	cluster := map[string]interface{}{"server": o.KubernetesAPI}
	// A plain-http API server (a test cluster, a local proxy) has no CA to trust.
	if !strings.HasPrefix(o.KubernetesAPI, "http://") {
		ca, err := os.ReadFile(filepath.Join(o.ServiceAccountDir, "ca.crt"))
		if err != nil {
			return nil, fmt.Errorf("service account CA: %w", err)
		}
		cluster["certificate-authority-data"] = base64.StdEncoding.EncodeToString(ca)
	}
	// JSON is a valid kubeconfig (kubectl reads it), and needs no YAML writer.
	doc := map[string]interface{}{
		"apiVersion":      "v1",
		"kind":            "Config",
		"clusters":        []interface{}{map[string]interface{}{"name": "local", "cluster": cluster}},
		"users":           []interface{}{map[string]interface{}{"name": "ipresmgr-cni", "user": map[string]string{"token": string(bytes.TrimSpace(token))}}},
		"contexts":        []interface{}{map[string]interface{}{"name": "ipresmgr-cni", "context": map[string]string{"cluster": "local", "user": "ipresmgr-cni"}}},
		"current-context": "ipresmgr-cni",
	}
	text, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	text = append(text, '\n')
	if _, err := kubeconfig.Parse(text, ""); err != nil {
		return nil, fmt.Errorf("the kubeconfig written would not parse: %w", err)
	}
	return text, nil
}

// writeIfChanged replaces path atomically with data unless it already holds exactly that.
func writeIfChanged(path string, data []byte, mode os.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		if info, err := os.Stat(path); err == nil && info.Mode().Perm() == mode {
			return false, nil
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), path)
}
