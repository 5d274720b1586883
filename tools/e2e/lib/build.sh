# Build steps of tools/e2e/up: Go commands from the module proxy and the small system images.
# Every result lands in $CACHE under a name made of its pinned version and a hash of its recipe,
# so a pin bump or recipe change builds anew and an unchanged one is reused.
# shellcheck shell=bash

# go_build NAME VERSION MODULE_DIR PKG... : build Go commands into $CACHE/bin/NAME-VERSION-HASH and
# print that directory. The wrapper modules live in tools/e2e/go/NAME (go.mod and go.sum pinned).
go_build() {
	local name=$1 version=$2 moddir=$3 out ldflags=${GO_LDFLAGS:-} pkg
	local -a recipe=("$moddir"/go.mod "$moddir"/go.sum "$moddir"/*.go)
	shift 3
	for pkg in "$@"; do
		case $pkg in ./?*) recipe+=("$moddir/${pkg#./}"/*.go) ;; esac
	done
	out=$CACHE/bin/$name-$version-$(recipe_hash "${recipe[@]}")
	if [ ! -f "$out/.complete" ]; then
		rm -rf "$out.tmp"
		mkdir -p "$out.tmp"
		(
			cd "$moddir"
			run_long "go build $name $version (cold builds take many minutes on 2 cores)" \
				"$CACHE/logs/build-$name.log" \
				env CGO_ENABLED=0 nice -n 10 go build -mod=readonly -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/" "$@"
		)
		touch "$out.tmp/.complete"
		rm -rf "$out"
		mv "$out.tmp" "$out"
	fi
	echo "$out"
}

kube_ldflags() {
	local p v=v$KUBE_VERSION minor
	minor=$(echo "$KUBE_VERSION" | cut -d. -f2)
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean -X %s.buildDate=2026-01-01T00:00:00Z ' \
			"$p" "$v" "$p" "$p" "$minor" "$p" "$p"
	done
}

build_go_components() {
	KUBE_BIN=$(GO_LDFLAGS=$(kube_ldflags) go_build kube "$KUBE_VERSION" "$E2E_DIR/go/kube" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
		k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
	ETCD_BIN=$(go_build etcd "$ETCD_VERSION" "$E2E_DIR/go/etcd" .)
	COREDNS_BIN=$(go_build coredns "$COREDNS_VERSION" "$E2E_DIR/go/coredns" .)
	KUBE_ROUTER_BIN=$(go_build kube-router "$KUBE_ROUTER_VERSION" "$E2E_DIR/go/kube-router" \
		github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
	LBSTATUS_BIN=$(go_build lb-status "$KUBE_VERSION" "$E2E_DIR/go/kube" ./cmd/lb-status)
	LOCAL_PATH_BIN=$(go_build local-path-provisioner "$LOCAL_PATH_VERSION" "$E2E_DIR/go/local-path-provisioner" \
		github.com/rancher/local-path-provisioner)
	export KUBE_BIN ETCD_BIN COREDNS_BIN KUBE_ROUTER_BIN LBSTATUS_BIN LOCAL_PATH_BIN
}

# static_image IMAGE KEY ENTRYPOINT_JSON FILE... : an image holding only the given static binaries
# (in /usr/local/bin), the host CA bundle and a passwd file; pushed to the local registry.
static_image() {
	local image=$1 key=$2 entry=$3 mark root
	shift 3
	mark=$CACHE/images/$(echo "${image#*/}" | tr '/:' '__').pushed
	if [ -f "$mark" ] && [ "$(cat "$mark")" = "$key" ] && registry_has "$image"; then
		log "image up to date: $image"
		return 0
	fi
	root=$(mktemp -d "$CACHE/tmp.image.XXXX")
	mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp"
	chmod 1777 "$root/tmp"
	cp "$@" "$root/usr/local/bin/"
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
	printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/:/nonexistent\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	tar --numeric-owner -C "$root" -cf - . |
		docker import --change "ENTRYPOINT $entry" --change 'USER 65534:65534' - "$image" >/dev/null
	rm -rf "$root"
	run_long "docker push $image" "$CACHE/logs/push-$(basename "${image%:*}").log" docker push "$image"
	echo "$key" >"$mark"
}

build_images() {
	local pause_dir=$CACHE/bin/pause-$(recipe_hash "$E2E_DIR/images/pause/pause.c")
	if [ ! -x "$pause_dir/pause" ]; then
		mkdir -p "$pause_dir"
		gcc -O2 -static -o "$pause_dir/pause.tmp" "$E2E_DIR/images/pause/pause.c"
		strip "$pause_dir/pause.tmp"
		mv "$pause_dir/pause.tmp" "$pause_dir/pause"
	fi
	static_image "$PAUSE_IMAGE" "$(basename "$pause_dir")" '["/usr/local/bin/pause"]' "$pause_dir/pause"
	static_image "$COREDNS_IMAGE" "$(basename "$COREDNS_BIN")" '["/usr/local/bin/coredns"]' "$COREDNS_BIN/coredns"
	static_image "$LOCAL_PATH_IMAGE" "$(basename "$LOCAL_PATH_BIN")" '["/usr/local/bin/local-path-provisioner"]' \
		"$LOCAL_PATH_BIN/local-path-provisioner"
	busybox_image
	"$E2E_DIR/images/python/build.sh"
}

# busybox_image: the local-path provisioner's helper image (it runs `/bin/sh /script/setup`, which
# uses mkdir and rm): Debian's static busybox, keyed by the package's version.
busybox_image() {
	local image=$LOCAL_PATH_HELPER_IMAGE key mark root cmd
	key=busybox-static-$(dpkg-query -W -f='${Version}' busybox-static)
	mark=$CACHE/images/$(echo "${image#*/}" | tr '/:' '__').pushed
	if [ -f "$mark" ] && [ "$(cat "$mark")" = "$key" ] && registry_has "$image"; then
		log "image up to date: $image"
		return 0
	fi
	root=$(mktemp -d "$CACHE/tmp.image.XXXX")
	mkdir -p "$root/bin" "$root/tmp"
	chmod 1777 "$root/tmp"
	cp /bin/busybox "$root/bin/busybox"
	for cmd in sh mkdir rm chmod ls cat; do ln -s busybox "$root/bin/$cmd"; done
	tar --numeric-owner -C "$root" -cf - . |
		docker import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
	rm -rf "$root"
	run_long "docker push $image" "$CACHE/logs/push-busybox.log" docker push "$image"
	echo "$key" >"$mark"
}
