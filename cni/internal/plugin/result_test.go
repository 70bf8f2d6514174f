// The IPAM result built from IPResMgr's answer.

package plugin

import (
	"encoding/json"
	"net"
	"testing"

	types100 "github.com/containernetworking/cni/pkg/types/100"

	"ipresmgr.local/cni/internal/service"
)

func reply(ip, cidr, gw, mac string) *service.Reply {
	return &service.Reply{ReqID: "r", IP: ip, SubnetCIDR: cidr, SubnetGatewayAddr: gw, MacAddr: mac}
}

func TestBuildResult(t *testing.T) {
	encode := func(res *types100.Result) string {
		out, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	res, mac, err := BuildResult(reply("2001:db8::10", "2001:db8::/64", "2001:db8::1", "02:00:00:00:00:01"), nil)
	if err != nil || mac.String() != "02:00:00:00:00:01" ||
		encode(res) != `{"cniVersion":"1.0.0","ips":[{"address":"2001:db8::10/64","gateway":"2001:db8::1"}],"routes":[{"dst":"::/0","gw":"2001:db8::1"}],"dns":{}}` {
		t.Errorf("%s %v", encode(res), err)
	}
	_, v4net, _ := net.ParseCIDR("198.51.100.0/24")
	_, v6net, _ := net.ParseCIDR("2001:db8:1::/48")
	res, _, err = BuildResult(reply("10.0.3.7", "10.0.3.0/26", "10.0.3.1", "02:00:00:00:00:01"), []net.IPNet{*v4net, *v6net})
	if err != nil || encode(res) != `{"cniVersion":"1.0.0","ips":[{"address":"10.0.3.7/26","gateway":"10.0.3.1"}],"routes":[{"dst":"198.51.100.0/24","gw":"10.0.3.1"}],"dns":{}}` {
		t.Errorf("configured routes, the other family left out: %s %v", encode(res), err)
	}
	res, _, err = BuildResult(reply("10.0.3.7", "10.0.3.0/24", "10.0.3.1", "02:00:00:00:00:01"), []net.IPNet{})
	if err != nil || len(res.Routes) != 0 {
		t.Errorf("routes [] means none: %+v", res)
	}
	for name, bad := range map[string]*service.Reply{
		"no SubnetCIDR":      reply("10.0.3.7", "", "10.0.3.1", "02:00:00:00:00:01"),
		"IP outside":         reply("10.0.4.7", "10.0.3.0/24", "10.0.3.1", "02:00:00:00:00:01"),
		"gateway outside":    reply("10.0.3.7", "10.0.3.0/24", "10.0.4.1", "02:00:00:00:00:01"),
		"bad MAC":            reply("10.0.3.7", "10.0.3.0/24", "10.0.3.1", "nope"),
		"not an IP":          reply("ten", "10.0.3.0/24", "10.0.3.1", "02:00:00:00:00:01"),
		"20-byte infiniband": reply("10.0.3.7", "10.0.3.0/24", "10.0.3.1", "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:01"),
	} {
		if _, _, err := BuildResult(bad, nil); err == nil {
			t.Errorf("%s: accepted", name)
		} else if ToCNIError(err).Code != ErrServiceBase+99 {
			t.Errorf("%s: %v", name, err)
		}
	}
}
