// Package randominfo maps the upstream Terraform "random" provider onto Pulumi's "random" package, with the
// same tokens as the published pulumi-random SDK (random:index/randomPassword:RandomPassword, ...).
package randominfo

import (
	"context"
	_ "embed"
	"errors"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/terraform-providers/terraform-provider-random/griddbshim"
)

// Version is set at link time to the version of the pulumi-random SDK this build stands in for.
var Version = "0.0.0"

//go:embed bridge-metadata.json
var metadata []byte

func Provider() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(griddbshim.New()),
		Name:         "random",
		Description:  "A Pulumi package to safely use randomness in Pulumi programs.",
		License:      "Apache-2.0",
		Version:      Version,
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources: map[string]*tfbridge.ResourceInfo{
			// random_bytes has no "id" attribute upstream; its base64 value serves as the ID.
			"random_bytes": {ComputeID: bytesID},
		},
		EnableAccurateBridgePreview: true,
		EnableRawStateDelta:         true,
	}
	tok := func(module, name string) (string, error) {
		return tokens.MakeStandard("random")(module, "Random"+name)
	}
	info.MustComputeTokens(tokens.SingleModule("random_", "index", tok))
	info.MustApplyAutoAliases()
	return info
}

func bytesID(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
	v, ok := state["base64"]
	if !ok {
		return "", errors.New("random_bytes: state has no base64 property")
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsString() {
		return "", errors.New("random_bytes: base64 property is not a string")
	}
	return resource.ID(v.StringValue()), nil
}
