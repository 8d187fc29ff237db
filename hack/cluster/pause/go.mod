// The sandbox ("pause") process for the local cluster's containerd: it holds a pod's
// namespaces and does nothing else. Standard library only. See ../build.sh.
module kubetune.io/hack/cluster/pause

go 1.26.0
