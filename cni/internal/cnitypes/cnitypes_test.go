package cnitypes

import (
	"encoding/json"
	"net"
	"testing"
)

func mustCIDR(t *testing.T, text string) net.IPNet {
	t.Helper()
	ip, network, err := net.ParseCIDR(text)
	if err != nil {
		t.Fatal(err)
	}
	network.IP = ip
	if v4 := ip.To4(); v4 != nil {
		network.IP = v4
	}
	return *network
}

func sample(t *testing.T) Result {
	return Result{
		IPs:    []IPConfig{{Address: mustCIDR(t, "192.0.2.10/24"), Gateway: net.ParseIP("192.0.2.1").To4()}},
		Routes: []Route{{Dst: mustCIDR(t, "0.0.0.0/0"), GW: net.ParseIP("192.0.2.1").To4()}},
	}
}

func TestEncodeByVersion(t *testing.T) {
	cases := map[string]string{
		"1.0.0": `{"cniVersion":"1.0.0","ips":[{"address":"192.0.2.10/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"192.0.2.1"}],"dns":{}}` + "\n",
		"0.4.0": `{"cniVersion":"0.4.0","ips":[{"version":"4","address":"192.0.2.10/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"192.0.2.1"}],"dns":{}}` + "\n",
		"0.3.1": `{"cniVersion":"0.3.1","ips":[{"version":"4","address":"192.0.2.10/24","gateway":"192.0.2.1"}],"routes":[{"dst":"0.0.0.0/0","gw":"192.0.2.1"}],"dns":{}}` + "\n",
	}
	for version, want := range cases {
		got, err := sample(t).Encode(version)
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		if string(got) != want {
			t.Errorf("%s:\n got %s\nwant %s", version, got, want)
		}
	}
}

func TestEncodeIPv6(t *testing.T) {
	result := Result{
		IPs:    []IPConfig{{Address: mustCIDR(t, "2001:db8::10/64"), Gateway: net.ParseIP("2001:db8::1")}},
		Routes: []Route{{Dst: mustCIDR(t, "::/0"), GW: net.ParseIP("2001:db8::1")}},
	}
	got, err := result.Encode("0.4.0")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cniVersion":"0.4.0","ips":[{"version":"6","address":"2001:db8::10/64","gateway":"2001:db8::1"}],"routes":[{"dst":"::/0","gw":"2001:db8::1"}],"dns":{}}` + "\n"
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestEncodeRefusesUnknownVersion(t *testing.T) {
	_, err := sample(t).Encode("0.2.0")
	if e, ok := err.(*Error); !ok || e.Code != ErrIncompatibleVersion {
		t.Fatalf("want code 1, got %v", err)
	}
}

func TestVersions(t *testing.T) {
	if !AtLeast("1.0.0", "0.4.0") || !AtLeast("0.4.0", "0.4.0") || AtLeast("0.3.1", "0.4.0") || !AtLeast("0.10.0", "0.4.0") {
		t.Error("AtLeast is wrong")
	}
	var info struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal(VersionInfo("0.4.0"), &info); err != nil || info.CNIVersion != "0.4.0" || len(info.SupportedVersions) != 4 {
		t.Errorf("VersionInfo(0.4.0) = %+v, %v", info, err)
	}
	if err := json.Unmarshal(VersionInfo("9.9.9"), &info); err != nil || info.CNIVersion != LatestVersion {
		t.Errorf("VersionInfo(9.9.9) = %+v", info)
	}
}

func TestErrorEncode(t *testing.T) {
	e := &Error{Code: ErrTryAgainLater, Msg: "IPResMgr unavailable", Details: "IPResMgr Code 50: database down"}
	want := `{"cniVersion":"0.4.0","code":11,"msg":"IPResMgr unavailable","details":"IPResMgr Code 50: database down"}` + "\n"
	if got := string(e.Encode("0.4.0")); got != want {
		t.Errorf("got %s want %s", got, want)
	}
	if got := string(Errorf(7, "x").Encode("")); got != `{"cniVersion":"1.0.0","code":7,"msg":"x"}`+"\n" {
		t.Errorf("got %s", got)
	}
}

func TestParsePrevResult(t *testing.T) {
	for _, raw := range []string{
		`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/var/run/netns/x"}],"ips":[{"address":"192.0.2.10/24","gateway":"192.0.2.1","interface":0}]}`,
		`{"cniVersion":"0.4.0","ips":[{"version":"4","address":"192.0.2.10/24","gateway":"192.0.2.1"}]}`,
	} {
		prev, err := ParsePrevResult(json.RawMessage(raw))
		if err != nil || len(prev.IPs) != 1 || !prev.IPs[0].IP.Equal(net.ParseIP("192.0.2.10")) {
			t.Errorf("%s: %+v %v", raw, prev, err)
		}
	}
	if prev, err := ParsePrevResult(nil); prev != nil || err != nil {
		t.Errorf("empty prevResult: %+v %v", prev, err)
	}
	if _, err := ParsePrevResult(json.RawMessage(`{"ips":[{"address":"nonsense"}]}`)); err == nil {
		t.Error("a bad address must be refused")
	}
}
