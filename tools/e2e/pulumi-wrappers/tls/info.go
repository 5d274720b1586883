// Package tlsinfo maps the upstream Terraform "tls" provider onto Pulumi's "tls" package, with the same
// tokens as the published pulumi-tls SDK (tls:index/privateKey:PrivateKey, tls:index/getPublicKey:getPublicKey, ...).
package tlsinfo

import (
	_ "embed"

	"github.com/hashicorp/terraform-provider-tls/griddbshim"
	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
)

// Version is set at link time to the version of the pulumi-tls SDK this build stands in for.
var Version = "0.0.0"

//go:embed bridge-metadata.json
var metadata []byte

func Provider() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:                              pf.ShimProvider(griddbshim.New()),
		Name:                           "tls",
		Description:                    "A Pulumi package to create TLS resources in Pulumi programs.",
		License:                        "Apache-2.0",
		Version:                        Version,
		GitHubOrg:                      "hashicorp",
		MetadataInfo:                   tfbridge.NewProviderMetadata(metadata),
		EnableZeroDefaultSchemaVersion: true,
		EnableAccurateBridgePreview:    true,
	}
	info.MustComputeTokens(tokens.SingleModule("tls_", "index", tokens.MakeStandard("tls")))
	return info
}
