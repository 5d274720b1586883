# Configuration files of the e2e cluster's daemons, rendered into $STATE on every `up`.
# A file is only replaced when its content changes (kube-proxy exits when its file is written),
# and a running daemon whose file changed is stopped, so that up starts it with the new one.
# shellcheck shell=bash

# put_config FILE DAEMON < content
put_config() {
	local file=$1 daemon=$2 tmp
	tmp=$(mktemp "$file.XXXX")
	cat >"$tmp"
	if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
		rm -f "$tmp"
		return 0
	fi
	mv "$tmp" "$file"
	if pid_alive "$daemon"; then
		log "$(basename "$file") changed: restarting $daemon"
		stop_daemon "$daemon"
	fi
}

render_configs() {
	local reg
	mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$STATE/kubelet" "$RUN/containerd"

	# containerd: a second instance beside Docker's, with its own root, state and socket.
	put_config "$STATE/containerd/config.toml" containerd <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$RUN/containerd/state"
[grpc]
  address = "$RUN/containerd/containerd.sock"
[ttrpc]
  address = "$RUN/containerd/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Processes here lack CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj below containerd's
  # own (0); without this every sandbox (-998) fails with "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"
EOF
	# Plain-HTTP pulls from the local registry, under both names images may carry.
	for reg in 127.0.0.1:5000 localhost:5000; do
		mkdir -p "$STATE/containerd/certs.d/$reg"
		put_config "$STATE/containerd/certs.d/$reg/hosts.toml" containerd <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
	done

	# HTTPS with the cluster CA for the registry that wants credentials (the kubelet passes a pod's
	# image pull secret with the pull).
	mkdir -p "$STATE/containerd/certs.d/$AUTH_REGISTRY"
	put_config "$STATE/containerd/certs.d/$AUTH_REGISTRY/hosts.toml" containerd <<EOF
server = "https://$AUTH_REGISTRY"
[host."https://$AUTH_REGISTRY"]
  capabilities = ["pull", "resolve"]
  ca = "$STATE/pki/ca.crt"
EOF

	# CNI: one Linux bridge for the node's pod range, masquerading traffic that leaves it.
	put_config "$STATE/cni/net.d/10-griddb-todo-e2e.conflist" containerd <<EOF
{
  "cniVersion": "0.4.0",
  "name": "griddb-todo-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "gtd-cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "$STATE/cni/ipam"
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

	put_config "$STATE/kubelet/config.yaml" kubelet <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$RUN/containerd/containerd.sock
clusterDNS: [$CLUSTER_DNS]
clusterDomain: $CLUSTER_DOMAIN
resolvConf: /etc/resolv.conf
serializeImagePulls: false
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
evictionHard:
  memory.available: 200Mi
  nodefs.available: 3%
  imagefs.available: 3%
  nodefs.inodesFree: 3%
rotateCertificates: false
EOF

	# nftables, not iptables: kube-router's NetworkPolicy controller rewrites the whole iptables
	# filter table on each sync (iptables-save, then iptables-restore without --noflush), so a
	# kube-proxy change to that table made in between is undone. Seen: a new Service's "has no
	# endpoints" REJECT rule put back after its pod was ready, so a new pod's first connection was
	# refused (tools/e2e/README.md, "Pitfalls"). In nftables mode kube-proxy keeps its rules in its
	# own table, which kube-router never touches.
	put_config "$STATE/kube-proxy.yaml" kube-proxy <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $STATE/kubeconfig.kube-proxy
mode: nftables
clusterCIDR: 10.42.0.0/16
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
conntrack:
  maxPerCore: 0
EOF
}
