#!/usr/bin/env bash
# Builds the stand-in for python:3.12-slim-bookworm: Debian bookworm (debootstrap minbase) with the
# runtime libraries CPython's extension modules link against, the host's CA bundle (downloads from
# containers pass an egress proxy signed by it) and CPython copied from $PYTHON_SRC into /usr/local.
# Pushes $PYTHON_IMAGE. Skips all work when the cached build for the same key is already pushed.
set -euo pipefail
source "$(dirname "$0")/../../lib/common.sh"

key="python-$DEBIAN_SUITE-$PYTHON_VERSION-$(recipe_hash "$0" "$E2E_DIR/versions/cluster.env")"
tarball=$CACHE/images/$key.tar
mark=$CACHE/images/python.pushed
if [ -f "$mark" ] && [ "$(cat "$mark")" = "$key" ] && registry_has "$PYTHON_IMAGE"; then
	log "python base image up to date: $PYTHON_IMAGE ($key)"
	exit 0
fi

if [ ! -f "$tarball" ]; then
	[ -x "$PYTHON_SRC/bin/python3.12" ] || die "CPython not found at $PYTHON_SRC"
	work=$(mktemp -d "$CACHE/tmp.python.XXXX")
	trap 'rm -rf "$work"' EXIT
	root=$work/root
	# Runtime libraries of CPython's extension modules (ssl, sqlite3, ctypes, lzma, bz2, readline,
	# curses, uuid, ...); tkinter is left out.
	libs=libbz2-1.0,libexpat1,libffi8,liblzma5,libncursesw6,libnsl2,libreadline8,libsqlite3-0,libssl3,libtinfo6,libtirpc3,libuuid1,zlib1g,libcrypt1,netbase,tzdata
	run_long "debootstrap $DEBIAN_SUITE (minbase)" "$CACHE/logs/debootstrap-python.log" \
		nice -n 10 debootstrap --variant=minbase --include="$libs" "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR"
	# CPython, relocated to /usr/local (its RUNPATH names $PYTHON_SRC/lib, so ld.so.cache must find
	# libpython3.12.so in /usr/local/lib instead).
	mkdir -p "$root/usr/local"
	tar -C "$PYTHON_SRC" --exclude='lib/python3.12/test' --exclude='lib/python3.12/idlelib' \
		--exclude='lib/python3.12/tkinter' --exclude='lib/python3.12/turtledemo' \
		--exclude='lib/python3.12/lib-dynload/_tkinter*' --exclude='__pycache__' \
		-cf - bin lib include share | tar -C "$root/usr/local" -xf -
	for f in "$root"/usr/local/bin/*; do
		if [ -f "$f" ] && head -c 2 "$f" | grep -q '^#!'; then
			sed -i "1s|^#!$PYTHON_SRC/bin/|#!/usr/local/bin/|" "$f"
		fi
	done
	ln -sf pip3.12 "$root/usr/local/bin/pip"
	# The host CA bundle, where OpenSSL, pip and requests look for it.
	mkdir -p "$root/etc/ssl/certs" "$root/usr/lib/ssl"
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
	ln -sfn /etc/ssl/certs "$root/usr/lib/ssl/certs"
	ln -sf /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
	printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ndisable-pip-version-check = true\n' >"$root/etc/pip.conf"
	chroot "$root" /sbin/ldconfig
	chroot "$root" /usr/local/bin/python3.12 -c 'import ssl, sqlite3, ctypes, lzma, bz2, uuid, zlib, readline; print("python ok")'
	chroot "$root" /usr/local/bin/pip --version
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
		"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
	tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
fi

run_long "docker import $PYTHON_IMAGE" "$CACHE/logs/import-python.log" \
	docker import \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'ENV LANG=C.UTF-8' \
	--change "ENV PYTHON_VERSION=$PYTHON_VERSION" \
	--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
	--change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
	--change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
	--change 'CMD ["python3"]' \
	"$tarball" "$PYTHON_IMAGE"
docker run --rm "$PYTHON_IMAGE" sh -c 'python3 --version && python3.12 -c "import ssl; print(ssl.OPENSSL_VERSION)" && pip --version' >&2
run_long "docker push $PYTHON_IMAGE" "$CACHE/logs/push-python.log" docker push "$PYTHON_IMAGE"
echo "$key" >"$mark"
