package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	tlsinfo "griddbtodo.local/pulumi-resource-tls"
)

func main() { tfgen.Main("tls", tlsinfo.Provider()) }
