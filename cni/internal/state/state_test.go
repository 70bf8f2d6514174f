package state

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSaveLoadRemove(t *testing.T) {
	store := Store{Dir: t.TempDir()}
	if entry, err := store.Load("net", "c1", "eth0"); entry != nil || err != nil {
		t.Fatalf("nothing saved yet: %+v %v", entry, err)
	}
	saved := Entry{Network: "net", ContainerID: "c1", IfName: "eth0", PodUID: "pod-1", IP: "192.0.2.10", MacAddr: "02:00:00:00:00:01"}
	if err := store.Save(saved); err != nil {
		t.Fatal(err)
	}
	entry, err := store.Load("net", "c1", "eth0")
	if err != nil || entry.IP != "192.0.2.10" || entry.Version != 1 {
		t.Fatalf("%+v %v", entry, err)
	}
	info, _ := os.Stat(filepath.Join(store.Dir, "net", "c1.eth0.json"))
	if info.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", info.Mode())
	}
	leftovers, _ := filepath.Glob(filepath.Join(store.Dir, "net", ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	if err := store.Remove("net", "c1", "eth0"); err != nil {
		t.Fatal(err)
	}
	if err := store.Remove("net", "c1", "eth0"); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestOthersOfPod(t *testing.T) {
	store := Store{Dir: t.TempDir()}
	for _, e := range []Entry{
		{Network: "net", ContainerID: "old", IfName: "eth0", PodUID: "pod-1"},
		{Network: "net", ContainerID: "new", IfName: "eth0", PodUID: "pod-1"},
		{Network: "net", ContainerID: "other", IfName: "eth0", PodUID: "pod-2"},
		{Network: "net2", ContainerID: "x", IfName: "eth0", PodUID: "pod-1"},
	} {
		if err := store.Save(e); err != nil {
			t.Fatal(err)
		}
	}
	others, err := store.OthersOfPod("net", "pod-1", "old", "eth0")
	if err != nil || len(others) != 2 {
		t.Fatalf("the new sandbox here and the pod's interface in net2: %+v %v", others, err)
	}
	if others, _ := store.OthersOfPod("net", "pod-2", "other", "eth0"); len(others) != 0 {
		t.Fatalf("pod-2 has no other sandbox: %+v", others)
	}
	if others, _ := (Store{Dir: t.TempDir()}).OthersOfPod("net", "pod-1", "old", "eth0"); len(others) != 0 {
		t.Fatal("an empty store has no entries")
	}
}
