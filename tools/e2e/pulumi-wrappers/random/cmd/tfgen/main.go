package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	randominfo "griddbtodo.local/pulumi-resource-random"
)

func main() { tfgen.Main("random", randominfo.Provider()) }
