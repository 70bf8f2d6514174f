// Package plugin is the IPAM plugin's commands, dispatched by pkg/skel: ADD requires the pod's
// address from IPResMgr for the workload its owner chain names, DEL releases it, CHECK verifies
// the pod still holds it; VERSION is skel's. The same binary listed after the main plugin in a
// conflist (chained.go) sets IPResMgr's MAC, probes the address on the wire and announces it.
// Every failure is a CNI error with a code (errors.go).
package plugin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"ipresmgr.local/cni/internal/config"
	"ipresmgr.local/cni/internal/kube"
	"ipresmgr.local/cni/internal/kubeconfig"
	"ipresmgr.local/cni/internal/retry"
	"ipresmgr.local/cni/internal/service"
	"ipresmgr.local/cni/internal/state"
)

// Versions are the cniVersion values the plugin serves. 0.1.0 and 0.2.0 used another result
// shape (ip4/ip6 keys) and are not offered.
var Versions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0")

// Links acts on the pod's interface inside its network namespace (podnet on Linux; a fake in tests).
type Links interface {
	SetMAC(netns, ifName string, mac net.HardwareAddr) error
	GetMAC(netns, ifName string) (net.HardwareAddr, error)
	// Guard probes each address for wait, then announces them; a *probe.Conflict if another host answers.
	Guard(netns, ifName string, ips []net.IP, wait time.Duration) error
}

// Plugin is one invocation: where it logs and how it reaches the pod's interface.
type Plugin struct {
	Stderr io.Writer
	Links  Links
	Retry  *retry.Policy // nil: retry.Default
	Name   string        // the binary's name: a network entry of this type runs the chained mode

	args    *skel.CmdArgs
	command string
	version string // the configuration's cniVersion, for the error object
	log     []io.Writer
	logFile *os.File
}

// Main runs the command pkg/skel reads from the environment and stdin, prints the result or
// the error object on stdout and returns the exit status.
func (p *Plugin) Main(about string) int {
	cniErr := skel.PluginMainWithError(p.add, p.check, p.del, Versions, about)
	if p.logFile != nil {
		defer p.logFile.Close()
	}
	if cniErr == nil {
		return 0
	}
	if p.command == "" && p.Stderr != nil {
		fmt.Fprintf(p.Stderr, "ipresmgr-ipam: code %d: %s\n", cniErr.Code, cniErr.Error())
	}
	errVersion := p.version
	if errVersion == "" {
		errVersion = version.Current()
	}
	// The specification's error object carries cniVersion; libcni's types.Error leaves it out.
	out, _ := json.Marshal(struct {
		CNIVersion string `json:"cniVersion"`
		*types.Error
	}{errVersion, cniErr})
	_, _ = os.Stdout.Write(append(out, '\n'))
	return 1
}

func (p *Plugin) add(args *skel.CmdArgs) error   { return p.run("ADD", args) }
func (p *Plugin) del(args *skel.CmdArgs) error   { return p.run("DEL", args) }
func (p *Plugin) check(args *skel.CmdArgs) error { return p.run("CHECK", args) }

func (p *Plugin) run(command string, args *skel.CmdArgs) error {
	p.command, p.args = command, args
	if p.Stderr != nil {
		p.log = append(p.log, p.Stderr)
	}
	err := p.dispatch()
	if err != nil {
		cniErr := ToCNIError(err)
		p.logf("failed: code %d: %s", cniErr.Code, cniErr.Error())
		return cniErr
	}
	return nil
}

func (p *Plugin) dispatch() error {
	conf, cerr := config.ParseNetConf(p.args.StdinData)
	if conf != nil {
		p.version = conf.CNIVersion
	}
	if cerr != nil {
		return cerr
	}
	if conf.Type == config.PluginType || (p.Name != "" && conf.Type == p.Name) {
		return p.chained(conf)
	}
	if len(conf.IPAM) == 0 {
		return errorf(types.ErrInvalidNetworkConfig, "network configuration has no ipam section")
	}
	ipam, cerr := config.ParseIPAM(conf.IPAM)
	if cerr != nil {
		return cerr
	}
	p.openLog(ipam.LogFile)
	podArgs, cerr := config.ParseArgs(p.args.Args)
	if cerr != nil {
		return cerr
	}
	ctx, cancel := context.WithTimeout(context.Background(), ipam.Timeout)
	defer cancel()
	call := &call{p: p, conf: conf, ipam: ipam, args: podArgs, store: state.Store{Dir: ipam.StateDir}}
	switch p.command {
	case "ADD":
		result, err := call.add(ctx)
		if err != nil {
			return err
		}
		return printResult(result, conf.CNIVersion)
	case "DEL":
		return call.del(ctx)
	default:
		return call.check(ctx)
	}
}

// printResult prints the result on stdout in the configuration's version.
func printResult(result types.Result, cniVersion string) error {
	if err := types.PrintResult(result, cniVersion); err != nil {
		return errorf(types.ErrIncompatibleCNIVersion, "result in cniVersion %s: %v", cniVersion, err)
	}
	return nil
}

// openLog adds the log file (the ipam section's logFile) to where log lines go.
func (p *Plugin) openLog(path string) {
	if path == "" || p.logFile != nil {
		return
	}
	if file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		p.logFile = file
		p.log = append(p.log, file)
	}
}

func (p *Plugin) logf(format string, args ...interface{}) {
	line := fmt.Sprintf("%s ipresmgr-ipam %s %s/%s: %s\n", time.Now().UTC().Format(time.RFC3339),
		p.command, p.args.ContainerID, p.args.IfName, fmt.Sprintf(format, args...))
	for _, w := range p.log {
		_, _ = io.WriteString(w, line)
	}
}

func (p *Plugin) policy() retry.Policy {
	if p.Retry != nil {
		return *p.Retry
	}
	return retry.Default
}

// call is one ADD, DEL or CHECK with its parsed inputs.
type call struct {
	p     *Plugin
	conf  *config.NetConf
	ipam  *config.IPAM
	args  config.PodArgs
	store state.Store
}

func (c *call) reqID() string {
	random := make([]byte, 4)
	_, _ = rand.Read(random)
	container := c.p.args.ContainerID
	if len(container) > 12 {
		container = container[:12]
	}
	return fmt.Sprintf("cni-%s-%s-%s", strings.ToLower(c.p.command), container, hex.EncodeToString(random))
}

func (c *call) service() (*service.Client, error) {
	if _, err := os.ReadFile(c.ipam.TokenFile); err != nil {
		return nil, errorf(types.ErrInvalidNetworkConfig, "ipam.tokenFile: %v", err)
	}
	client, err := service.NewClient(c.ipam.ServiceURL, c.ipam.TokenFile, c.ipam.ServiceCAFile, c.ipam.RequestTimeout)
	if err != nil {
		return nil, errorf(types.ErrInvalidNetworkConfig, "%v", err)
	}
	return client.WithRetry(c.p.policy()), nil
}

func (c *call) kube() (*kube.Client, error) {
	var creds *kubeconfig.Credentials
	if c.ipam.Kubeconfig != "" {
		loaded, err := kubeconfig.Load(c.ipam.Kubeconfig)
		if err != nil {
			return nil, errorf(types.ErrInvalidNetworkConfig, "ipam.kubeconfig: %v", err)
		}
		creds = loaded
	} else {
		k := c.ipam.Kubernetes
		creds = &kubeconfig.Credentials{Server: k.APIURL, TokenFile: k.TokenFile}
		if k.CAFile != "" {
			ca, err := os.ReadFile(k.CAFile)
			if err != nil {
				return nil, errorf(types.ErrInvalidNetworkConfig, "ipam.kubernetes.caFile: %v", err)
			}
			creds.CAData = ca
		}
	}
	client, err := kube.NewClient(creds, c.ipam.RequestTimeout)
	if err != nil {
		return nil, errorf(types.ErrInvalidNetworkConfig, "%v", err)
	}
	return client.WithRetry(c.p.policy()), nil
}

func stateError(err error) error {
	return errorf(types.ErrIOFailure, "state directory: %v", err)
}
