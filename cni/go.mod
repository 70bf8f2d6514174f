module ipresmgr.local/cni

go 1.19
