"""A real cluster on this machine: the local control plane plus real kubelets and containerd.

Each worker node lives in a network namespace that this package creates (a veth to the host,
its address inside), so the API server reaches the kubelet (`kubectl logs`, `exec`) and pods
reach the API server without any traffic leaving loopback or the namespaces created here.
See docs/real-cluster.md and hack/cluster/up.sh.
"""
