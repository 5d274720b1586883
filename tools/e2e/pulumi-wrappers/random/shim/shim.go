// Package griddbshim exposes the upstream provider, whose constructor lives in an internal package.
// Its import path sits under the upstream module's path, so Go's internal-package rule allows the import.
package griddbshim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

func New() provider.Provider { return upstream.New() }
