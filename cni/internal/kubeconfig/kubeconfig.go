// Package kubeconfig reads the Kubernetes API credentials of a kubeconfig file, JSON (what
// `ipresmgr-ipam install` writes) or YAML (what other installers write, read with
// sigs.k8s.io/yaml, the YAML library Kubernetes itself uses for kubeconfigs).
package kubeconfig

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Credentials are what a client needs to call the API server.
type Credentials struct {
	Server     string // https://10.96.0.1:443
	CAData     []byte // PEM; empty: the system's roots
	Insecure   bool   // insecure-skip-tls-verify
	Token      string // a bearer token given inline
	TokenFile  string // or a file read at each call (rotated service account tokens)
	ClientCert []byte // PEM client certificate and key, both or neither
	ClientKey  []byte
}

// Load reads and interprets a kubeconfig file.
func Load(path string) (*Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	creds, err := Parse(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return creds, nil
}

// Parse interprets kubeconfig text; relative file paths in it are taken from baseDir, as kubectl does.
func Parse(data []byte, baseDir string) (*Credentials, error) {
	// YAMLToJSON takes JSON as it is (JSON is YAML), so both shapes go the same way.
	converted, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	var doc interface{}
	if err := json.Unmarshal(converted, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	root, ok := doc.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("the top level is not a mapping")
	}
	clusterName, userName, err := pickContext(root)
	if err != nil {
		return nil, err
	}
	cluster, err := named(root, "clusters", "cluster", clusterName)
	if err != nil {
		return nil, err
	}
	user := map[string]interface{}{}
	if userName != "" || len(list(root["users"])) > 0 {
		if user, err = named(root, "users", "user", userName); err != nil {
			return nil, err
		}
	}
	creds := &Credentials{Server: str(cluster["server"])}
	if creds.Server == "" {
		return nil, fmt.Errorf("cluster %q has no server", clusterName)
	}
	if u, err := url.Parse(creds.Server); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("cluster %q: server %q is not an http(s) URL", clusterName, creds.Server)
	}
	creds.Insecure = str(cluster["insecure-skip-tls-verify"]) == "true"
	if creds.CAData, err = dataOrFile(cluster, "certificate-authority-data", "certificate-authority", baseDir); err != nil {
		return nil, fmt.Errorf("cluster %q: %w", clusterName, err)
	}
	for _, unsupported := range []string{"exec", "auth-provider", "username", "password"} {
		if _, present := user[unsupported]; present {
			return nil, fmt.Errorf("user %q: %q credentials are not supported; use a token, a tokenFile or a client certificate",
				userName, unsupported)
		}
	}
	creds.Token = str(user["token"])
	if file := str(user["tokenFile"]); file != "" {
		creds.TokenFile = resolve(file, baseDir)
	}
	if creds.ClientCert, err = dataOrFile(user, "client-certificate-data", "client-certificate", baseDir); err != nil {
		return nil, fmt.Errorf("user %q: %w", userName, err)
	}
	if creds.ClientKey, err = dataOrFile(user, "client-key-data", "client-key", baseDir); err != nil {
		return nil, fmt.Errorf("user %q: %w", userName, err)
	}
	if (creds.ClientCert == nil) != (creds.ClientKey == nil) {
		return nil, fmt.Errorf("user %q: a client certificate needs its key and the key its certificate", userName)
	}
	if creds.Token == "" && creds.TokenFile == "" && creds.ClientCert == nil {
		return nil, fmt.Errorf("user %q has no token, tokenFile or client certificate", userName)
	}
	return creds, nil
}

// pickContext names the cluster and user: current-context's, else the only context's, else the
// only cluster and the only user.
func pickContext(root map[string]interface{}) (cluster, user string, err error) {
	contexts := list(root["contexts"])
	current := str(root["current-context"])
	var context map[string]interface{}
	switch {
	case current != "":
		context, err = named(root, "contexts", "context", current)
		if err != nil {
			return "", "", err
		}
	case len(contexts) == 1:
		context, err = named(root, "contexts", "context", "")
		if err != nil {
			return "", "", err
		}
	case len(contexts) == 0:
		if len(list(root["clusters"])) != 1 || len(list(root["users"])) > 1 {
			return "", "", fmt.Errorf("no current-context, and not exactly one cluster and one user")
		}
		return "", "", nil
	default:
		return "", "", fmt.Errorf("no current-context among %d contexts", len(contexts))
	}
	return str(context["cluster"]), str(context["user"]), nil
}

// named finds the entry of root[listKey] whose name is name (any single entry when name is "")
// and returns its inner mapping root[listKey][i][innerKey].
func named(root map[string]interface{}, listKey, innerKey, name string) (map[string]interface{}, error) {
	entries := list(root[listKey])
	for _, entry := range entries {
		object, ok := entry.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("%s: an entry is not a mapping", listKey)
		}
		if name != "" && str(object["name"]) != name {
			continue
		}
		if name == "" && len(entries) != 1 {
			break
		}
		inner, ok := object[innerKey].(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("%s %q has no %s mapping", listKey, str(object["name"]), innerKey)
		}
		return inner, nil
	}
	if name == "" {
		return nil, fmt.Errorf("%s: expected exactly one entry, found %d", listKey, len(entries))
	}
	return nil, fmt.Errorf("%s: no entry named %q", listKey, name)
}

func list(value interface{}) []interface{} {
	items, _ := value.([]interface{})
	return items
}

// str renders a scalar (YAML gives strings; JSON may give booleans and numbers).
func str(value interface{}) string {
	switch v := value.(type) {
	case string:
		return v
	case bool:
		if v {
			return "true"
		}
		return "false"
	case float64:
		return fmt.Sprint(v)
	}
	return ""
}

func resolve(path, baseDir string) string {
	if filepath.IsAbs(path) || baseDir == "" {
		return path
	}
	return filepath.Join(baseDir, path)
}

// dataOrFile reads base64 <dataKey>, else the file <fileKey>; nil when neither is set.
func dataOrFile(object map[string]interface{}, dataKey, fileKey, baseDir string) ([]byte, error) {
	if encoded := str(object[dataKey]); encoded != "" {
		compact := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, encoded)
		data, err := base64.StdEncoding.DecodeString(compact)
		if err != nil {
			return nil, fmt.Errorf("%s is not base64: %w", dataKey, err)
		}
		return data, nil
	}
	if file := str(object[fileKey]); file != "" {
		data, err := os.ReadFile(resolve(file, baseDir))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fileKey, err)
		}
		return data, nil
	}
	return nil, nil
}
