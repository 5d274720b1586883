package main

import (
	"context"
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	randominfo "griddbtodo.local/pulumi-resource-random"
)

// The Pulumi schema tfgen wrote, with this build's version (tools/e2e/pulumi-toolchain makes it).
//
//go:embed schema-embed.json
var schema []byte

func main() {
	tfbridge.Main(context.Background(), "random", randominfo.Provider(),
		tfbridge.ProviderMetadata{PackageSchema: schema})
}
