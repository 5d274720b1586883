//go:build tools

// Package tools records the command this module builds: rancher's local-path-provisioner, the
// dynamic provisioner behind k3s' default StorageClass `local-path`, run in the e2e cluster the
// way k3s runs it (a Deployment in kube-system).
package tools

import _ "github.com/rancher/local-path-provisioner"
