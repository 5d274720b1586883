//go:build tools

// Package tools records the command this module builds: kube-router, used only as the
// NetworkPolicy controller of the e2e cluster (--run-firewall; routing and service proxy off).
package tools

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
