# Certificates and kubeconfigs of the e2e cluster, made once with openssl and kept in $STATE/pki.
# A new node IP (another machine) re-issues the API server's certificate.
# shellcheck shell=bash

# issue NAME SUBJECT [SANS]: a client or server certificate signed by the cluster CA.
issue() {
	local name=$1 subj=$2 sans=${3:-} dir=$STATE/pki ext
	ext=$(mktemp)
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [ -n "$sans" ]; then
			echo "extendedKeyUsage=serverAuth,clientAuth"
			echo "subjectAltName=$sans"
		else
			echo "extendedKeyUsage=clientAuth"
		fi
	} >"$ext"
	openssl genrsa -out "$dir/$name.key" 2048 2>/dev/null
	openssl req -new -key "$dir/$name.key" -subj "$subj" -out "$dir/$name.csr" 2>/dev/null
	openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
		-days 3650 -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
	rm -f "$ext" "$dir/$name.csr"
}

# kubeconfig FILE USER_CERT_NAME SERVER
write_kubeconfig() {
	local file=$1 name=$2 server=$3 dir=$STATE/pki
	cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: griddb-todo-e2e
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 <"$dir/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $(base64 -w0 <"$dir/$name.crt")
    client-key-data: $(base64 -w0 <"$dir/$name.key")
contexts:
- name: griddb-todo-e2e
  context:
    cluster: griddb-todo-e2e
    user: $name
current-context: griddb-todo-e2e
EOF
	chmod 600 "$file.tmp"
	if [ -f "$file" ] && cmp -s "$file.tmp" "$file"; then rm -f "$file.tmp"; else mv "$file.tmp" "$file"; fi
}

make_pki() {
	local dir=$STATE/pki api_ip
	api_ip=$(echo "$SERVICE_CIDR" | awk -F'[./]' '{print $1"."$2"."$3"."$4+1}')
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [ ! -f "$dir/ca.crt" ]; then
		log "creating the cluster CA and certificates in $dir"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 3650 \
			-subj "/CN=griddb-todo-e2e-ca" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
		openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
		openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
		issue admin "/O=system:masters/CN=griddb-todo-e2e-admin"
		issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
		issue controller-manager "/CN=system:kube-controller-manager"
		issue scheduler "/CN=system:kube-scheduler"
		issue kube-proxy "/CN=system:kube-proxy"
		issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
		# kube-router (NetworkPolicy controller) and lb-status are cluster-admins of this test cluster.
		issue cluster-addons "/O=system:masters/CN=griddb-todo-e2e-addons"
	fi
	if [ ! -f "$dir/apiserver.ip" ] || [ "$(cat "$dir/apiserver.ip")" != "$NODE_IP" ]; then
		issue apiserver "/CN=kube-apiserver" \
			"IP:127.0.0.1,IP:$NODE_IP,IP:$api_ip,DNS:localhost,DNS:$NODE_NAME,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN"
		echo "$NODE_IP" >"$dir/apiserver.ip"
	fi
	# The registry that wants credentials (ensure_auth_registry): TLS from the cluster's own CA.
	[ -f "$dir/registry-auth.crt" ] || issue registry-auth "/CN=griddb-todo-e2e-registry" "IP:127.0.0.1,DNS:localhost"
	local server=https://127.0.0.1:6443 n
	for n in admin controller-manager scheduler kube-proxy kubelet cluster-addons; do
		write_kubeconfig "$STATE/kubeconfig.$n" "$n" "$server"
	done
	cmp -s "$STATE/kubeconfig.admin" "$KUBECONFIG_PATH" 2>/dev/null || install -m 600 "$STATE/kubeconfig.admin" "$KUBECONFIG_PATH"
}
